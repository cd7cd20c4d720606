//! vCard (RFC 6350) through the `calcard` crate: files of cards in (versions 2.1, 3.0 and
//! 4.0, as phones and mail programs export them) as contact documents, and contacts out as
//! vCard 4.0 cards.

use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardVersion,
};
use calcard::{Entry, Parser};
use rapport_core::DomainError;
use serde_json::{json, Map, Value};

/// The most cards one file may hold.
pub const MAX_CARDS: usize = 5_000;

fn text(v: &VCardValue) -> String {
    match v {
        VCardValue::Text(s) => s.trim().to_string(),
        VCardValue::Component(parts) => parts.join(" ").trim().to_string(),
        VCardValue::Integer(i) => i.to_string(),
        VCardValue::PartialDateTime(d) => match (d.year, d.month, d.day) {
            (Some(y), Some(m), Some(dd)) => format!("{y:04}-{m:02}-{dd:02}"),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn first_text(e: &VCardEntry) -> String {
    e.values.first().map(text).unwrap_or_default()
}

fn has_type(e: &VCardEntry, ty: VCardType) -> bool {
    e.parameters(&VCardParameterName::Type).any(|p| match p {
        VCardParameterValue::Type(t) => *t == ty,
        VCardParameterValue::Text(s) => s.eq_ignore_ascii_case(&format!("{ty:?}")),
        _ => false,
    })
}

fn is_pref(e: &VCardEntry) -> bool {
    e.parameters(&VCardParameterName::Pref).next().is_some()
        || e.parameters(&VCardParameterName::Type)
            .any(|p| matches!(p, VCardParameterValue::Text(s) if s.eq_ignore_ascii_case("pref")))
}

/// Split a formatted name when a card has no N: CJK names are family name first (one
/// character, or two for the common compound surnames), others family name last.
fn split_name(full: &str) -> (String, String) {
    let full = full.trim();
    let cjk = full.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    if cjk && !full.contains(' ') {
        const COMPOUND: [&str; 8] = [
            "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙",
        ];
        let n = if COMPOUND.iter().any(|p| full.starts_with(p)) {
            2
        } else {
            1
        };
        let family: String = full.chars().take(n).collect();
        let given: String = full.chars().skip(n).collect();
        return (family, given);
    }
    match full.rsplit_once(' ') {
        Some((given, family)) => (family.to_string(), given.to_string()),
        None => (full.to_string(), String::new()),
    }
}

/// A contact document (API field names) from one card, and the name to report it by.
pub fn card_to_doc(card: &VCard) -> (Map<String, Value>, String) {
    let mut doc = Map::new();
    let fn_name = card
        .property(&VCardProperty::Fn)
        .map(first_text)
        .unwrap_or_default();
    let (mut family, mut given) = match card.property(&VCardProperty::N) {
        Some(n) => (
            n.values.first().map(text).unwrap_or_default(),
            n.values.get(1).map(text).unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    if family.is_empty() && given.is_empty() {
        (family, given) = split_name(&fn_name);
    } else if family.is_empty() {
        std::mem::swap(&mut family, &mut given);
    }
    let label = if fn_name.is_empty() {
        format!("{family}{given}")
    } else {
        fn_name
    };
    doc.insert("family_name".into(), json!(family));
    if !given.is_empty() {
        doc.insert("given_name".into(), json!(given));
    }
    if let Some(t) = card.property(&VCardProperty::Title).map(first_text) {
        if !t.is_empty() {
            doc.insert("title".into(), json!(t));
        }
    }
    if let Some(org) = card.property(&VCardProperty::Org) {
        if let Some(dept) = org.values.get(1).map(text).filter(|d| !d.is_empty()) {
            doc.insert("department".into(), json!(dept));
        }
    }

    let mut tels: Vec<&VCardEntry> = card.properties(&VCardProperty::Tel).collect();
    tels.sort_by_key(|e| !(has_type(e, VCardType::Cell)));
    let phones: Vec<String> = tels
        .iter()
        .filter(|e| !has_type(e, VCardType::Fax))
        .map(|e| first_text(e).trim_start_matches("tel:").to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if let Some((first, rest)) = phones.split_first() {
        doc.insert("mobile".into(), json!(first));
        if !rest.is_empty() {
            doc.insert("phones".into(), json!(rest));
        }
    }
    let mut emails: Vec<&VCardEntry> = card.properties(&VCardProperty::Email).collect();
    emails.sort_by_key(|e| !is_pref(e));
    let emails: Vec<String> = emails
        .iter()
        .map(|e| first_text(e))
        .filter(|e| !e.is_empty())
        .collect();
    if let Some((first, rest)) = emails.split_first() {
        doc.insert("email".into(), json!(first));
        if !rest.is_empty() {
            doc.insert("emails".into(), json!(rest));
        }
    }
    if let Some(b) = card.property(&VCardProperty::Bday).map(first_text) {
        if b.len() == 10 {
            doc.insert("birthday".into(), json!(b));
        } else if b.len() == 8 && b.chars().all(|c| c.is_ascii_digit()) {
            doc.insert(
                "birthday".into(),
                json!(format!("{}-{}-{}", &b[..4], &b[4..6], &b[6..])),
            );
        }
    }
    if let Some(adr) = card.property(&VCardProperty::Adr) {
        // PO box; extended; street; locality; region; postal code; country
        let parts: Vec<String> = adr.values.iter().map(text).collect();
        let order = [6usize, 4, 3, 2, 1, 0, 5];
        let joined: Vec<String> = order
            .iter()
            .filter_map(|i| parts.get(*i).filter(|p| !p.is_empty()).cloned())
            .collect();
        if !joined.is_empty() {
            doc.insert("address".into(), json!(joined.join(" ")));
        }
    }
    for e in card.properties(&VCardProperty::Impp) {
        let v = first_text(e);
        if let Some(id) = v
            .strip_prefix("weixin:")
            .or_else(|| v.strip_prefix("wechat:"))
        {
            doc.insert("wechat".into(), json!(id));
        }
    }
    for e in &card.entries {
        if let VCardProperty::Other(name) = &e.name {
            if name.eq_ignore_ascii_case("X-WECHAT") && !doc.contains_key("wechat") {
                doc.insert("wechat".into(), json!(first_text(e)));
            }
        }
    }
    (doc, label)
}

/// Parse a file of cards. Lines that are not vCard are skipped; no card at all is an error.
pub fn parse(input: &str) -> Result<Vec<VCard>, DomainError> {
    let mut parser = Parser::new(input);
    let mut cards = Vec::new();
    loop {
        match parser.entry() {
            Entry::VCard(c) => {
                cards.push(c);
                if cards.len() > MAX_CARDS {
                    return Err(DomainError::field(
                        "file",
                        "too_many",
                        format!("a file may hold at most {MAX_CARDS} cards"),
                    ));
                }
            }
            Entry::Eof => break,
            Entry::TooManyComponents => {
                return Err(DomainError::field(
                    "file",
                    "too_many",
                    "the file has too many components",
                ))
            }
            _ => {}
        }
    }
    if cards.is_empty() {
        return Err(DomainError::field(
            "file",
            "no_vcards",
            "the file holds no vCard (BEGIN:VCARD … END:VCARD)",
        ));
    }
    Ok(cards)
}

fn prop(name: VCardProperty, value: impl Into<String>) -> VCardEntry {
    VCardEntry::new(name).with_value(VCardValue::Text(value.into()))
}

/// One contact (as the caller sees it, field rules applied) as a vCard 4.0 card.
pub fn contact_to_card(c: &Value, account_names: &[(String, String)]) -> VCard {
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    let (family, given) = (s("family_name"), s("given_name"));
    let cjk = format!("{family}{given}")
        .chars()
        .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch));
    let full = if cjk {
        format!("{family}{given}")
    } else {
        format!("{given} {family}").trim().to_string()
    };
    let mut entries = vec![
        prop(VCardProperty::Uid, format!("urn:uuid:{}", s("id"))),
        prop(VCardProperty::Fn, full),
        VCardEntry::new(VCardProperty::N).with_values(vec![
            VCardValue::Text(family),
            VCardValue::Text(given),
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
        ]),
    ];
    if !s("title").is_empty() {
        entries.push(prop(VCardProperty::Title, s("title")));
    }
    let orgs: Vec<&str> = c["accounts"]
        .as_array()
        .map(|links| {
            links
                .iter()
                .filter_map(|l| l["account_id"].as_str())
                .filter_map(|id| {
                    account_names
                        .iter()
                        .find(|(i, _)| i == id)
                        .map(|(_, n)| n.as_str())
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(org) = orgs.first() {
        let mut values = vec![VCardValue::Text(org.to_string())];
        if !s("department").is_empty() {
            values.push(VCardValue::Text(s("department")));
        }
        entries.push(VCardEntry::new(VCardProperty::Org).with_values(values));
    }
    if !s("mobile").is_empty() {
        entries.push(
            prop(VCardProperty::Tel, format!("tel:{}", s("mobile")))
                .with_param(VCardParameter::typ(VCardType::Cell))
                .with_param(VCardParameter::pref(1u32)),
        );
    }
    for p in c["phones"].as_array().into_iter().flatten() {
        if let Some(p) = p.as_str() {
            entries.push(prop(VCardProperty::Tel, format!("tel:{p}")));
        }
    }
    if !s("email").is_empty() {
        entries.push(prop(VCardProperty::Email, s("email")).with_param(VCardParameter::pref(1u32)));
    }
    for e in c["emails"].as_array().into_iter().flatten() {
        if let Some(e) = e.as_str() {
            entries.push(prop(VCardProperty::Email, e));
        }
    }
    if !s("birthday").is_empty() {
        entries.push(prop(VCardProperty::Bday, s("birthday").replace('-', "")));
    }
    if !s("address").is_empty() {
        entries.push(VCardEntry::new(VCardProperty::Adr).with_values(vec![
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
            VCardValue::Text(s("address")),
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
            VCardValue::Text(String::new()),
        ]));
    }
    if !s("wechat").is_empty() {
        entries.push(
            prop(VCardProperty::Impp, format!("weixin:{}", s("wechat"))).with_param(
                VCardParameter::new(
                    VCardParameterName::Other("X-SERVICE-TYPE".into()),
                    "WeChat".to_string(),
                ),
            ),
        );
    }
    VCard { entries }
}

/// Append `card` to `out` as vCard 4.0 text.
pub fn write_card(card: &VCard, out: &mut String) -> Result<(), DomainError> {
    card.write_to(out, VCardVersion::V4_0)
        .map_err(DomainError::internal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn an_android_vcard_21_with_quoted_printable_chinese_is_read() {
        let input = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0;=E4=B8=89;;;\r\n\
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0=E4=B8=89\r\nTEL;CELL:138 0013 8000\r\n\
TEL;WORK;FAX:010-1234\r\nEMAIL;HOME:zhang.san@example.com\r\nEND:VCARD\r\n";
        let cards = parse(input).unwrap();
        let (doc, name) = card_to_doc(&cards[0]);
        assert_eq!(name, "张三");
        assert_eq!(doc["family_name"], "张");
        assert_eq!(doc["given_name"], "三");
        assert_eq!(doc["mobile"], "138 0013 8000");
        assert!(doc.get("phones").is_none(), "the fax is not a phone");
        assert_eq!(doc["email"], "zhang.san@example.com");
    }

    #[test]
    fn a_vcard_30_without_n_is_split_by_script() {
        let input = "BEGIN:VCARD\nVERSION:3.0\nFN:欧阳娜娜\nTEL;TYPE=HOME:+86 21 5555 0000\nTEL;TYPE=CELL:13900001111\nEND:VCARD\n\
BEGIN:VCARD\nVERSION:3.0\nFN:Ada Lovelace\nEMAIL;TYPE=INTERNET:ada@example.com\nEMAIL;TYPE=INTERNET,PREF:ada@work.example\nBDAY:1815-12-10\nEND:VCARD\n";
        let cards = parse(input).unwrap();
        let (a, _) = card_to_doc(&cards[0]);
        assert_eq!(a["family_name"], "欧阳");
        assert_eq!(a["given_name"], "娜娜");
        assert_eq!(a["mobile"], "13900001111", "the cell phone comes first");
        assert_eq!(a["phones"], json!(["+86 21 5555 0000"]));
        let (b, _) = card_to_doc(&cards[1]);
        assert_eq!(b["family_name"], "Lovelace");
        assert_eq!(b["given_name"], "Ada");
        assert_eq!(
            b["email"], "ada@work.example",
            "the preferred email is primary"
        );
        assert_eq!(b["birthday"], "1815-12-10");
    }

    #[test]
    fn junk_is_a_clear_error() {
        assert!(matches!(
            parse("hello\nworld"),
            Err(DomainError::Validation(_))
        ));
        assert!(matches!(parse(""), Err(DomainError::Validation(_))));
    }

    #[test]
    fn written_cards_read_back() {
        let c = json!({"id": "c1", "family_name": "王", "given_name": "芳", "title": "采购经理",
            "mobile": "+8613800138000", "email": "wang.fang@example.com", "birthday": "1990-05-01",
            "wechat": "wangfang88", "accounts": [{"account_id": "a1"}]});
        let mut out = String::new();
        contact_to_card(&c, &[("a1".into(), "上海远航贸易有限公司".into())])
            .write_to(&mut out, VCardVersion::V4_0)
            .unwrap();
        assert!(out.contains("VERSION:4.0"));
        assert!(out.contains("FN:王芳"));
        let (doc, _) = card_to_doc(&parse(&out).unwrap()[0]);
        assert_eq!(doc["family_name"], "王");
        assert_eq!(doc["mobile"], "+8613800138000");
        assert_eq!(doc["wechat"], "wangfang88");
        assert_eq!(doc["birthday"], "1990-05-01");
    }
}
