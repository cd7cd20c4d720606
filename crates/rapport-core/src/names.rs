//! How a person's name is written from its parts.

/// A person's name from its family and given names, as its owner writes it, whatever the
/// reader's language: a Chinese, Japanese or Korean name family name first without a space
/// (张伟), any other given name first with a space (Susan Johnson). Either part may be empty.
pub fn person_name(family: &str, given: &str) -> String {
    let (family, given) = (family.trim(), given.trim());
    let cjk = family.chars().chain(given.chars()).any(is_cjk);
    if cjk {
        format!("{family}{given}")
    } else {
        format!("{given} {family}").trim().to_string()
    }
}

/// Han ideographs, kana, Hangul and their punctuation and radicals.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3134F)
}

#[cfg(test)]
mod tests {
    use super::person_name;

    #[test]
    fn names_are_written_as_their_owners_write_them() {
        assert_eq!(person_name("张", "伟"), "张伟");
        assert_eq!(person_name("欧阳", "娜娜"), "欧阳娜娜");
        assert_eq!(person_name("Johnson", "Susan"), "Susan Johnson");
        assert_eq!(person_name("Johnson", ""), "Johnson");
        assert_eq!(person_name("", "Susan"), "Susan");
        assert_eq!(person_name(" Li ", "Lei"), "Lei Li");
        // One CJK part makes the whole name CJK-ordered.
        assert_eq!(person_name("王", "Anna"), "王Anna");
        assert_eq!(person_name("김", "민준"), "김민준");
        assert_eq!(person_name("", ""), "");
    }
}
