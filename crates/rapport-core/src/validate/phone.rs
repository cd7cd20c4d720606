//! Whether a parsed phone number is valid, decided as `phonenumber::is_valid` decides it and
//! from the same metadata, with each region's patterns compiled once into regexes of its own.
//!
//! `phonenumber::is_valid` reaches every pattern through one process-wide cache behind a
//! mutex, keyed by the pattern's text: a check took that lock and hashed up to a dozen
//! pattern strings, some hundreds of bytes long, with SipHash. That was a tenth of an
//! import's CPU (ADR 0029). The rules below follow the library's `validator` module
//! (`source_for` and `number_type`), which it does not export; a test holds the two equal on
//! every region's example numbers and variants of them.

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::PhoneNumber;
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// One descriptor's national number pattern and the lengths it allows.
struct Pattern {
    lengths: Vec<u16>,
    re: Regex,
}

impl Pattern {
    fn of(d: &Descriptor) -> Option<Pattern> {
        Some(Pattern {
            lengths: d.possible_length().to_vec(),
            re: compile(d.national_number().as_str())?,
        })
    }

    /// `Descriptor::is_match`: an allowed length, and a match at the start.
    fn is_match(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.re.is_match(national)
    }
}

/// A pattern as the library compiles it (whitespace ignored), matched only at the start:
/// the library looks for a match anywhere and keeps it only if it starts there.
fn compile(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern}\n)"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

/// A region's patterns, compiled.
struct Region {
    leading_digits: Option<Regex>,
    general: Pattern,
    /// Every number type's pattern: premium rate, toll free, shared cost, VoIP, personal,
    /// pager, UAN, voicemail, fixed line and mobile. A number of any of them is valid.
    kinds: Vec<Pattern>,
}

impl Region {
    fn of(meta: &Metadata) -> Option<Region> {
        let d = meta.descriptors();
        let kinds = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        Some(Region {
            leading_digits: match meta.leading_digits() {
                Some(p) => Some(compile(p.as_str())?),
                None => None,
            },
            general: Pattern::of(d.general())?,
            kinds: kinds
                .into_iter()
                .flatten()
                .map(Pattern::of)
                .collect::<Option<_>>()?,
        })
    }

    /// `number_type(meta, national) != Type::Unknown`.
    fn has_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.kinds.iter().any(|k| k.is_match(national))
    }
}

/// Compiled regions by (country code, region id): the non-geographic entities share the id
/// "001". `None`: a region whose patterns do not compile, whose numbers are then invalid.
type Compiled = HashMap<(u16, String), Option<Arc<Region>>>;

static REGIONS: LazyLock<RwLock<Compiled>> = LazyLock::new(Default::default);

fn region(meta: &Metadata) -> Option<Arc<Region>> {
    let key = (meta.country_code(), meta.id().to_string());
    if let Some(found) = REGIONS.read().ok()?.get(&key) {
        return found.clone();
    }
    let compiled = Region::of(meta).map(Arc::new);
    REGIONS.write().ok()?.insert(key, compiled.clone());
    compiled
}

/// `phonenumber::is_valid(number)`.
pub(super) fn is_valid(number: &PhoneNumber) -> bool {
    let code = number.country().code();
    let national = number.national().to_string();
    let Some(regions) = DATABASE.region(&code) else {
        return false;
    };
    // The metadata the number is checked against (the library's `source_for`).
    let meta = if let [only] = regions[..] {
        if only == "001" {
            DATABASE.by_code(&code).and_then(|m| m.into_iter().next())
        } else {
            only.parse::<phonenumber::country::Id>()
                .ok()
                .and_then(|id| DATABASE.by_id(id.as_ref()))
        }
    } else {
        regions.iter().find_map(|id| {
            let meta = DATABASE.by_id(*id)?;
            let compiled = region(meta)?;
            let belongs = match &compiled.leading_digits {
                Some(leading) => leading.is_match(&national),
                None => compiled.has_type(&national),
            };
            belongs.then_some(meta)
        })
    };
    meta.and_then(region)
        .is_some_and(|compiled| compiled.has_type(&national))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every region's example numbers, and numbers one digit longer, shorter or different,
    /// get the library's answer.
    #[test]
    fn agrees_with_the_library() {
        let mut checked = 0;
        let mut valid = 0;
        for code in 1..1000u16 {
            let Some(metas) = DATABASE.by_code(&code) else {
                continue;
            };
            for meta in metas {
                let d = meta.descriptors();
                let examples = [
                    Some(d.general()),
                    d.fixed_line(),
                    d.mobile(),
                    d.toll_free(),
                    d.premium_rate(),
                    d.shared_cost(),
                    d.personal_number(),
                    d.voip(),
                    d.pager(),
                    d.uan(),
                    d.voicemail(),
                ]
                .into_iter()
                .flatten()
                .filter_map(|d| d.example());
                for example in examples {
                    let mut variants = vec![
                        example.to_string(),
                        format!("{example}7"),
                        example[..example.len().saturating_sub(1)].to_string(),
                    ];
                    for digit in '0'..='9' {
                        variants.push(format!("{digit}{}", example.get(1..).unwrap_or("")));
                    }
                    for v in variants {
                        let Ok(number) = phonenumber::parse(None, format!("+{code}{v}")) else {
                            continue;
                        };
                        let expected = phonenumber::is_valid(&number);
                        assert_eq!(is_valid(&number), expected, "+{code} {v}");
                        checked += 1;
                        valid += usize::from(expected);
                    }
                }
            }
        }
        eprintln!("{valid} of {checked} valid");
        // Both answers occur often: the comparison is not all one way.
        assert!(checked > 10_000, "{checked} numbers compared");
        assert!(
            valid > 2_000 && checked - valid > 2_000,
            "{valid} of {checked} valid"
        );
    }

    #[test]
    fn chinese_numbers() {
        let cn: Option<phonenumber::country::Id> = "CN".parse().ok();
        for (number, expected) in [
            ("13812345678", true),
            ("1381234567", false),
            ("010 6552 9988", true),
            ("0755 123", false),
        ] {
            let parsed = phonenumber::parse(cn, number).unwrap();
            assert_eq!(is_valid(&parsed), expected, "{number}");
            assert_eq!(phonenumber::is_valid(&parsed), expected, "{number}");
        }
    }
}
