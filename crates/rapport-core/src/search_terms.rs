//! The terms of the name index: what a name is cut into when it is stored, and what a quick
//! search is cut into when it is looked up (ADR 0041). Each term keeps its own list of
//! records, newest first, so a search reads as many entries as it shows, however many other
//! records share a prefix or came in since.
//!
//! - A word in a Latin (or any non-CJK) script gives every prefix up to [`MAX_PREFIX`]
//!   characters: "smith" gives s, sm, smi, smit, smith. A searched word is one term, its
//!   first [`MAX_PREFIX`] characters: it finds the words it starts.
//! - A run of Chinese (Japanese, Korean) characters gives its first character and every pair
//!   of neighbouring characters: 宁波海川物流 gives 宁, 宁波, 波海, 海川, 川物, 物流. A
//!   searched run of two or more characters is its pairs, all of which must be present, so
//!   海川 and 海川物流 find the company wherever the brand sits in its name; a single
//!   character finds the names and words it starts (王 finds 王伟, not 汪王).

/// Longest prefix of a word that is a term of its own; a longer searched word is cut to it.
pub const MAX_PREFIX: usize = 12;

/// Whether `c` is written in a script without spaces between words (CJK ideographs, kana,
/// hangul), whose text is cut into pairs of characters.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x3134F) // extensions B-G
}

/// Lower case, full-width ASCII as ASCII.
fn fold(c: char) -> impl Iterator<Item = char> {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    c.to_lowercase()
}

/// The text as segments: runs of CJK characters and words of other letters and digits.
fn segments(text: &str) -> Vec<(bool, Vec<char>)> {
    let mut out: Vec<(bool, Vec<char>)> = Vec::new();
    for c in text.chars().flat_map(fold) {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (kind, out.last_mut()) {
            (None, _) => {
                if out.last().is_some_and(|(_, s)| !s.is_empty()) {
                    out.push((false, Vec::new()));
                }
            }
            (Some(k), Some((lk, seg))) if *lk == k || seg.is_empty() => {
                *lk = k;
                seg.push(c);
            }
            (Some(k), _) => out.push((k, vec![c])),
        }
    }
    out.retain(|(_, s)| !s.is_empty());
    out
}

fn push(out: &mut Vec<String>, term: String) {
    if !out.contains(&term) {
        out.push(term);
    }
}

/// The terms a stored text is found by, each once.
pub fn index_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (cjk, seg) in segments(text) {
        if cjk {
            push(&mut out, seg[0].to_string());
            for pair in seg.windows(2) {
                push(&mut out, pair.iter().collect());
            }
        } else {
            for n in 1..=seg.len().min(MAX_PREFIX) {
                push(&mut out, seg[..n].iter().collect());
            }
        }
    }
    out
}

/// The terms a record must hold every one of to match a quick search for `q`; empty when
/// `q` has no letters or digits.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (cjk, seg) in segments(q) {
        if cjk && seg.len() > 1 {
            for pair in seg.windows(2) {
                push(&mut out, pair.iter().collect());
            }
        } else {
            push(&mut out, seg.iter().take(MAX_PREFIX).collect());
        }
    }
    out
}

/// Legal forms a company's name ends with, as the last segments of a search (folded).
const LEGAL_FORMS: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "公司",
    "ltd",
    "limited",
    "inc",
    "llc",
    "corp",
    "co",
    "gmbh",
];

/// [`query_terms`] for a company's name: the legal form a search ends with is left out
/// ("Acme Co., Ltd." finds ACME Inc; 海川物流有限公司 finds 宁波海川物流有限公司), unless it
/// is all the search holds.
pub fn company_query_terms(q: &str) -> Vec<String> {
    let mut segs = segments(q);
    'strip: while segs.len() > 1 || segs.first().is_some_and(|(cjk, _)| *cjk) {
        let Some((cjk, last)) = segs.last_mut() else {
            break;
        };
        for form in LEGAL_FORMS {
            let form: Vec<char> = form.chars().collect();
            if *last == form {
                if segs.len() == 1 {
                    break 'strip;
                }
                segs.pop();
                continue 'strip;
            }
            if *cjk && last.len() > form.len() && last.ends_with(&form) {
                last.truncate(last.len() - form.len());
                continue 'strip;
            }
        }
        break;
    }
    let text: Vec<String> = segs
        .into_iter()
        .map(|(_, s)| s.into_iter().collect())
        .collect();
    query_terms(&text.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn latin_words_give_their_prefixes() {
        assert_eq!(
            index_terms("Grace  Smith"),
            s(&["g", "gr", "gra", "grac", "grace", "s", "sm", "smi", "smit", "smith"])
        );
        assert_eq!(
            index_terms("O'Brien"),
            s(&["o", "b", "br", "bri", "brie", "brien"])
        );
        let long = index_terms("Wolfeschlegelsteinhausen");
        assert_eq!(long.len(), MAX_PREFIX);
        assert_eq!(long.last().map(String::as_str), Some("wolfeschlege"));
    }

    #[test]
    fn cjk_runs_give_their_first_character_and_pairs() {
        assert_eq!(
            index_terms("宁波海川物流有限公司"),
            s(&[
                "宁", "宁波", "波海", "海川", "川物", "物流", "流有", "有限", "限公", "公司"
            ])
        );
        assert_eq!(index_terms("王伟"), s(&["王", "王伟"]));
        assert_eq!(index_terms("王"), s(&["王"]));
        // Scripts mixed without spaces, full-width letters folded.
        assert_eq!(
            index_terms("ＩＢＭ中国"),
            s(&["i", "ib", "ibm", "中", "中国"])
        );
        assert_eq!(index_terms("3M中国"), s(&["3", "3m", "中", "中国"]));
        assert!(index_terms(" -·- ").is_empty());
    }

    #[test]
    fn a_search_is_found_by_the_terms_of_what_it_searches_for() {
        let stored = index_terms("宁波海川物流有限公司");
        for q in ["海川", "海川物流", "宁波", "宁", "有限公司"] {
            let terms = query_terms(q);
            assert!(!terms.is_empty(), "{q}");
            assert!(terms.iter().all(|t| stored.contains(t)), "{q}: {terms:?}");
        }
        for q in ["海", "川海", "宁海"] {
            let terms = query_terms(q);
            assert!(!terms.iter().all(|t| stored.contains(t)), "{q}: {terms:?}");
        }
        let stored = index_terms("Grace Smith");
        for q in ["smi", "GRACE", "gr sm", "Smith, Grace"] {
            assert!(query_terms(q).iter().all(|t| stored.contains(t)), "{q}");
        }
        assert!(!query_terms("smiths").iter().all(|t| stored.contains(t)));
        assert_eq!(
            query_terms("Wolfeschlegelsteinhausen"),
            s(&["wolfeschlege"])
        );
        assert!(query_terms("  --  ").is_empty());
        assert_eq!(query_terms("王 小明"), s(&["王", "小明"]));
    }

    #[test]
    fn a_company_search_leaves_out_the_legal_form() {
        assert_eq!(company_query_terms("Acme Co., Ltd."), s(&["acme"]));
        assert_eq!(
            company_query_terms("海川物流有限公司"),
            s(&["海川", "川物", "物流"])
        );
        assert_eq!(company_query_terms("海川集团有限公司"), s(&["海川"]));
        assert_eq!(
            company_query_terms("Acme Software"),
            s(&["acme", "software"])
        );
        // Only a legal form: searched as it is.
        assert_eq!(
            company_query_terms("有限公司"),
            s(&["有限", "限公", "公司"])
        );
        assert_eq!(company_query_terms("Ltd"), s(&["ltd"]));
        assert_eq!(company_query_terms("co"), s(&["co"]));
    }
}
