//! Validation and normalisation of standard value formats: email, phone (E.164), the Chinese
//! unified social credit code, URLs, money and names.

use phonenumber::country::Id as Region;

mod phone;

/// Lower-cased, trimmed email if it is syntactically valid.
/// A character that changes how text around it is shown without showing itself: zero-width
/// spaces and joiners, the byte-order mark, and the bidirectional marks, embeddings, overrides
/// and isolates (a name with U+202E reads backwards). Refused in names and other one-line text.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
    )
}

/// Whether `code` is a currency of ISO 4217 (upper case, as `CNY`, `USD`, `EUR`).
pub fn currency(code: &str) -> bool {
    code.len() == 3
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && iso_currency::Currency::from_code(code).is_some()
}

/// Every ISO 4217 code [`currency`] accepts, in order (for documents that list them).
pub fn currency_codes() -> &'static [String] {
    static CODES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        let letters = b'A'..=b'Z';
        let mut out = Vec::new();
        for a in letters.clone() {
            for b in letters.clone() {
                for c in letters.clone() {
                    let code = String::from_utf8(vec![a, b, c]).unwrap_or_default();
                    if currency(&code) {
                        out.push(code);
                    }
                }
            }
        }
        out
    })
}

pub fn email(input: &str) -> Option<String> {
    let s = input.trim();
    if s.len() > 254 || !s.contains('@') {
        return None;
    }
    let parsed: email_address::EmailAddress = s.parse().ok()?;
    let domain = parsed.domain();
    // Require a dot in the domain: "a@b" is syntactically legal but never what a user meant.
    if !domain.contains('.') || domain.starts_with('[') {
        return None;
    }
    Some(s.to_lowercase())
}

/// Parse a phone number into E.164 using `default_region` (e.g. "CN") when it has no `+`.
pub fn phone_e164(input: &str, default_region: &str) -> Option<String> {
    let s = input.trim();
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    let region: Option<Region> = default_region.parse().ok();
    let number = phonenumber::parse(region, s).ok()?;
    if !phone::is_valid(&number) {
        return None;
    }
    Some(e164(&number))
}

/// A parsed number in E.164: `+`, the country code and the national number with its leading
/// zeros, as the library's E.164 mode writes it. Its formatter first looks up the national
/// layout that E.164 does not use; that was a third of the cost of reading a phone number.
fn e164(number: &phonenumber::PhoneNumber) -> String {
    format!("+{}{}", number.country().code(), number.national())
}

/// Format an E.164 number for display: national format at home, international otherwise.
pub fn phone_display(e164: &str, home_region: &str) -> String {
    let Ok(number) = phonenumber::parse(None, e164) else {
        return e164.to_string();
    };
    let home: Option<Region> = home_region.parse().ok();
    let mode = if number.country().id() == home && home.is_some() {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    number.format().mode(mode).to_string()
}

const CREDIT_CODE_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The check character of the first 17 characters of a unified social credit code.
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut count = 0;
    for (c, w) in first17.chars().zip(CREDIT_CODE_WEIGHTS) {
        let v = CREDIT_CODE_CHARS.find(c)? as u32;
        sum += v * w;
        count += 1;
    }
    if count != 17 || first17.chars().count() != 17 {
        return None;
    }
    let check = (31 - sum % 31) % 31;
    CREDIT_CODE_CHARS.chars().nth(check as usize)
}

/// Unified social credit code (GB 32100-2015): 18 characters with a valid check character.
/// Returns the upper-cased code.
pub fn credit_code(input: &str) -> Result<String, &'static str> {
    let s = input.trim().to_uppercase();
    if s.chars().count() != 18 {
        return Err("a unified social credit code has 18 characters");
    }
    if !s.chars().all(|c| CREDIT_CODE_CHARS.contains(c)) {
        return Err(
            "a unified social credit code uses digits and capital letters except I, O, S, V, Z",
        );
    }
    let (first, last) = s.split_at(17);
    match credit_code_check_char(first) {
        Some(c) if last.starts_with(c) => Ok(s),
        _ => Err("the check character of the unified social credit code is wrong"),
    }
}

/// Chinese resident identity card number (GB 11643): 17 digits and a check character
/// (ISO 7064 MOD 11-2), with a real date of birth. Returns the upper-cased number.
pub fn resident_id(input: &str) -> Result<String, &'static str> {
    let s = input.trim().to_uppercase();
    let chars: Vec<char> = s.chars().collect();
    if chars.len() != 18 || !chars[..17].iter().all(char::is_ascii_digit) {
        return Err("an ID number has 17 digits and a check character");
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = chars[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    if chars[17] != check {
        return Err("the check character of the ID number is wrong");
    }
    let birth: String = chars[6..14].iter().collect();
    if chrono::NaiveDate::parse_from_str(&birth, "%Y%m%d").is_err() {
        return Err("the ID number does not contain a valid date of birth");
    }
    Ok(s)
}

pub fn url(input: &str) -> Option<String> {
    let s = input.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || !host.contains('.')
        || s.len() > 2000
        || s.chars().any(char::is_whitespace)
    {
        return None;
    }
    Some(s.to_string())
}

/// Parse a money amount ("1234.56", "1234", or an integer) into minor units (cents/fen).
pub fn money_minor(input: &serde_json::Value) -> Result<i64, &'static str> {
    let text = match input {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) if n.is_i64() => n.to_string(),
        serde_json::Value::Number(_) => {
            return Err("send amounts with decimals as a string, e.g. \"1234.56\"")
        }
        _ => return Err("expected an amount such as \"1234.56\""),
    };
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || whole.len() > 15
    {
        return Err("expected an amount with at most two decimals, e.g. \"1234.56\"");
    }
    let whole: i64 = whole.parse().map_err(|_| "amount too large")?;
    let frac_val: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| "bad amount")? * 10,
        _ => frac.parse().map_err(|_| "bad amount")?,
    };
    let minor = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac_val))
        .ok_or("amount too large")?;
    Ok(if neg { -minor } else { minor })
}

pub fn money_string(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Company name normalised for duplicate checks and prefix search: lower-case, no spaces or
/// punctuation, common legal-form suffixes removed.
pub fn company_name_norm(name: &str) -> String {
    let mut s: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    const SUFFIXES: [&str; 12] = [
        "股份有限公司",
        "有限责任公司",
        "有限公司",
        "集团",
        "公司",
        "coltd",
        "limited",
        "ltd",
        "inc",
        "corporation",
        "corp",
        "gmbh",
    ];
    let mut changed = true;
    while changed {
        changed = false;
        for suffix in SUFFIXES {
            if s.len() > suffix.len() && s.ends_with(suffix) {
                s.truncate(s.len() - suffix.len());
                changed = true;
            }
        }
    }
    s
}

/// Lower-cased text with whitespace collapsed, for prefix search on person names.
pub fn search_norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn currencies_are_iso_4217() {
        for c in ["CNY", "USD", "EUR", "HKD", "JPY"] {
            assert!(super::currency(c), "{c}");
        }
        for c in ["XYZ", "ABC", "cny", "RMB", "CN", "CNYY", ""] {
            assert!(!super::currency(c), "{c}");
        }
    }

    #[test]
    fn invisible_formatting_is_recognised() {
        for c in [
            '\u{200B}', '\u{200D}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{061C}',
        ] {
            assert!(super::is_invisible_format(c), "{:04X}", c as u32);
        }
        for c in ['a', '王', ' ', '-', '\u{00A0}'] {
            assert!(!super::is_invisible_format(c), "{:04X}", c as u32);
        }
    }

    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email(" Li.Lei@Example.COM ").as_deref(),
            Some("li.lei@example.com")
        );
        assert_eq!(email("no-at-sign"), None);
        assert_eq!(email("a@b"), None);
        assert_eq!(email("two@@example.com"), None);
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            phone_e164("138 0013 8000", "CN").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            phone_e164("+86 10 6552 9988", "CN").as_deref(),
            Some("+861065529988")
        );
        assert_eq!(
            phone_e164("+1 415 555 2671", "CN").as_deref(),
            Some("+14155552671")
        );
        assert_eq!(phone_e164("12345", "CN"), None);
        assert_eq!(phone_e164("abc", "CN"), None);
        assert_eq!(phone_display("+8613800138000", "CN"), "138 0013 8000");
    }

    #[test]
    fn e164_is_what_the_library_writes() {
        // Mobile and fixed lines at home and abroad, and national numbers with leading zeros
        // (Italy keeps its 0).
        for (input, region) in [
            ("13800138000", "CN"),
            ("0755-8888 6666", "CN"),
            ("+86 10 6552 9988", "CN"),
            ("+1 415 555 2671", "CN"),
            ("020 7946 0018", "GB"),
            ("02 1234 5678", "IT"),
            ("+39 312 345 6789", "CN"),
            ("+225 27 21 23 45 67", "CN"),
            ("+852 2123 4567", "CN"),
            ("+49 30 901820", "CN"),
        ] {
            let number = phonenumber::parse(region.parse().ok(), input).expect(input);
            assert!(phonenumber::is_valid(&number), "{input}");
            let library = number.format().mode(phonenumber::Mode::E164).to_string();
            assert_eq!(e164(&number), library, "{input}");
            assert_eq!(phone_e164(input, region), Some(library), "{input}");
        }
    }

    #[test]
    fn credit_codes() {
        // Huawei Technologies Co., Ltd.
        assert_eq!(
            credit_code("914403001922038216"),
            Ok("914403001922038216".into())
        );
        assert!(credit_code("914403001922038217").is_err());
        assert!(credit_code("91440300192203821").is_err());
        assert!(credit_code("9144030019220382IO").is_err());
        let first = "91110108MA01ABCDE";
        if let Some(check) = credit_code_check_char(first) {
            assert!(credit_code(&format!("{first}{check}")).is_ok());
        } else {
            panic!("check char should exist");
        }
    }

    #[test]
    fn resident_ids() {
        // The example number from GB 11643.
        assert_eq!(
            resident_id("11010519491231002x"),
            Ok("11010519491231002X".into())
        );
        assert!(resident_id("110105194912310021").is_err());
        assert!(resident_id("1101051949").is_err());
    }

    #[test]
    fn money() {
        assert_eq!(money_minor(&serde_json::json!("1234.5")), Ok(123450));
        assert_eq!(money_minor(&serde_json::json!(12)), Ok(1200));
        assert_eq!(money_minor(&serde_json::json!("-0.07")), Ok(-7));
        assert!(money_minor(&serde_json::json!(1.5)).is_err());
        assert!(money_minor(&serde_json::json!("1.234")).is_err());
        assert!(money_minor(&serde_json::json!("abc")).is_err());
        assert_eq!(money_string(-7), "-0.07");
        assert_eq!(money_string(123450), "1234.50");
    }

    #[test]
    fn company_names() {
        assert_eq!(company_name_norm("华为技术有限公司"), "华为技术");
        assert_eq!(company_name_norm("Acme Co., Ltd."), "acme");
        assert_eq!(company_name_norm("ACME Inc"), "acme");
    }
}
