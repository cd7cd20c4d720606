//! Line items of quotes and orders, and their money arithmetic.
//!
//! Every figure is a fixed-point integer: amounts in minor units (fen), quantities in
//! thousandths, discounts and tax rates in hundredths of a percent (basis points). A line's net
//! amount is `quantity × unit price × (1 − discount)` and its tax `net × tax rate`, each rounded
//! once, half away from zero, to the fen; document totals are sums of the rounded line figures,
//! so the printed lines always add up to the printed total.

use crate::error::FieldError;
use crate::validate::money_string;
use serde_json::{json, Map, Value};

/// At most this many lines on one document.
pub const MAX_LINES: usize = 200;
/// Quantities up to a billion units.
const MAX_QUANTITY_MILLI: i64 = 1_000_000_000_000;
/// Unit prices up to a hundred billion.
const MAX_PRICE_MINOR: i64 = 10_000_000_000_000;

/// One line as sent: the product and figures the system fills in from it may be missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineDraft {
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit: Option<String>,
    /// Thousandths of a unit.
    pub quantity_milli: i64,
    /// Minor units; `None` takes the product's price.
    pub unit_price: Option<i64>,
    /// Basis points (1250 = 12.5 %).
    pub discount_bp: i64,
    /// Basis points; `None` takes the product's rate.
    pub tax_bp: Option<i64>,
}

/// What a product supplies to a line that names it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductDefaults {
    pub name: String,
    pub unit: Option<String>,
    pub unit_price: i64,
    pub tax_bp: i64,
}

/// A complete line with its computed amounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub product_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub unit: Option<String>,
    pub quantity_milli: i64,
    pub unit_price: i64,
    pub discount_bp: i64,
    pub tax_bp: i64,
    /// Quantity × unit price before the discount.
    pub gross: i64,
    pub net: i64,
    pub tax: i64,
    pub total: i64,
}

/// Document totals, each the sum of the lines' rounded figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub gross: i64,
    pub discount: i64,
    pub net: i64,
    pub tax: i64,
    pub total: i64,
}

/// `n / d` rounded half away from zero (`d` > 0).
pub fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d {
        q + n.signum()
    } else {
        q
    }
}

/// Parse a non-negative decimal with at most `places` decimals into an integer scaled by
/// 10^places ("12.5" with 2 places is 1250). Numbers without a fraction may be JSON numbers.
pub fn fixed_point(v: &Value, places: u32) -> Option<i64> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return None,
    };
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || whole.len() > 15
        || frac.len() > places as usize
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let scale = 10i64.pow(places);
    let whole: i64 = whole.parse().ok()?;
    let frac_val: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10i64.pow(places - frac.len() as u32)
    };
    whole.checked_mul(scale)?.checked_add(frac_val)
}

/// Show a scaled integer with its decimals, trailing zeros dropped ("12.50" → "12.5").
pub fn fixed_string(n: i64, places: u32) -> String {
    let scale = 10i64.pow(places);
    let whole = n / scale;
    let frac = (n % scale).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let s = format!("{frac:0width$}", width = places as usize);
    format!("{whole}.{}", s.trim_end_matches('0'))
}

fn err(f: &str, code: &'static str, msg: String) -> FieldError {
    FieldError::new(f, code, msg)
}

fn text_of(
    f: &str,
    o: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().any(|c| c.is_control() && c != '\n') {
                return Err(err(
                    &format!("{f}.{key}"),
                    "invalid_characters",
                    format!("{key} contains control characters"),
                ));
            }
            if s.chars().count() > max {
                return Err(err(
                    &format!("{f}.{key}"),
                    "too_long",
                    format!("{key} must be at most {max} characters of text"),
                ));
            }
            Ok(Some(s.to_string()).filter(|s| !s.is_empty()))
        }
        Some(_) => Err(err(
            &format!("{f}.{key}"),
            "invalid_type",
            format!("{key} must be a string"),
        )),
    }
}

fn percent_of(f: &str, o: &Map<String, Value>, key: &str) -> Result<Option<i64>, FieldError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => match fixed_point(v, 2) {
            Some(bp) if bp <= 10_000 => Ok(Some(bp)),
            _ => Err(err(
                &format!("{f}.{key}"),
                "invalid_percent",
                format!("{key} must be a percentage from 0 to 100 with at most two decimals"),
            )),
        },
    }
}

/// Parse the lines of a document (`f` names the field in errors: `lines[2].quantity`).
pub fn parse(f: &str, v: &Value) -> Result<Vec<LineDraft>, FieldError> {
    let arr = v
        .as_array()
        .ok_or_else(|| err(f, "invalid_type", format!("{f} must be an array of lines")))?;
    if arr.len() > MAX_LINES {
        return Err(err(
            f,
            "too_many",
            format!("{f} takes at most {MAX_LINES} lines"),
        ));
    }
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        let at = format!("{f}[{i}]");
        let o = item
            .as_object()
            .ok_or_else(|| err(&at, "invalid_type", "each line must be an object".into()))?;
        for key in o.keys() {
            if !matches!(
                key.as_str(),
                "product_id"
                    | "name"
                    | "description"
                    | "unit"
                    | "quantity"
                    | "unit_price"
                    | "discount"
                    | "tax_rate"
                    // Computed figures sent back unchanged are ignored.
                    | "gross"
                    | "net"
                    | "tax"
                    | "total"
            ) {
                return Err(err(
                    &format!("{at}.{key}"),
                    "unknown_field",
                    format!("a line has no field {key}"),
                ));
            }
        }
        let product_id = text_of(&at, o, "product_id", 36)?;
        if let Some(p) = &product_id {
            if !crate::ids::is_valid_id(p) {
                return Err(err(
                    &format!("{at}.product_id"),
                    "invalid_reference",
                    "product_id is not a valid id".into(),
                ));
            }
        }
        let name = text_of(&at, o, "name", 200)?;
        let quantity_milli = match o.get("quantity") {
            None | Some(Value::Null) => 1000,
            Some(q) => fixed_point(q, 3)
                .filter(|q| *q > 0 && *q <= MAX_QUANTITY_MILLI)
                .ok_or_else(|| {
                    err(
                        &format!("{at}.quantity"),
                        "invalid_quantity",
                        "quantity must be a positive number with at most three decimals".into(),
                    )
                })?,
        };
        let unit_price = match o.get("unit_price") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(p) => Some(
                fixed_point(p, 2)
                    .filter(|p| *p <= MAX_PRICE_MINOR)
                    .ok_or_else(|| {
                        err(
                            &format!("{at}.unit_price"),
                            "invalid_amount",
                            "unit_price must be an amount such as \"1234.56\", not negative".into(),
                        )
                    })?,
            ),
        };
        if product_id.is_none() && (name.is_none() || unit_price.is_none()) {
            return Err(err(
                &at,
                "incomplete_line",
                "a line without a product needs a name and a unit_price".into(),
            ));
        }
        out.push(LineDraft {
            product_id,
            name,
            description: text_of(&at, o, "description", 1000)?,
            unit: text_of(&at, o, "unit", 20)?,
            quantity_milli,
            unit_price,
            discount_bp: percent_of(&at, o, "discount")?.unwrap_or(0),
            tax_bp: percent_of(&at, o, "tax_rate")?,
        });
    }
    Ok(out)
}

/// Complete and compute a line. `product` is the named product's defaults, if any.
pub fn compute(draft: &LineDraft, product: Option<&ProductDefaults>) -> Line {
    let unit_price = draft
        .unit_price
        .or(product.map(|p| p.unit_price))
        .unwrap_or(0);
    let tax_bp = draft.tax_bp.or(product.map(|p| p.tax_bp)).unwrap_or(0);
    let gross = div_round(
        i128::from(draft.quantity_milli) * i128::from(unit_price),
        1000,
    );
    let net = div_round(
        i128::from(draft.quantity_milli)
            * i128::from(unit_price)
            * i128::from(10_000 - draft.discount_bp),
        10_000_000,
    );
    let tax = div_round(net * i128::from(tax_bp), 10_000);
    // Bounded by MAX_QUANTITY_MILLI × MAX_PRICE_MINOR / 1000 = 1e22 / 1000 < i64::MAX.
    let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    Line {
        product_id: draft.product_id.clone(),
        name: draft
            .name
            .clone()
            .or(product.map(|p| p.name.clone()))
            .unwrap_or_default(),
        description: draft.description.clone(),
        unit: draft.unit.clone().or(product.and_then(|p| p.unit.clone())),
        quantity_milli: draft.quantity_milli,
        unit_price,
        discount_bp: draft.discount_bp,
        tax_bp,
        gross: clamp(gross),
        net: clamp(net),
        tax: clamp(tax),
        total: clamp(net + tax),
    }
}

pub fn totals(lines: &[Line]) -> Totals {
    let mut t = Totals::default();
    for l in lines {
        t.gross = t.gross.saturating_add(l.gross);
        t.net = t.net.saturating_add(l.net);
        t.tax = t.tax.saturating_add(l.tax);
        t.total = t.total.saturating_add(l.total);
    }
    t.discount = t.gross.saturating_sub(t.net);
    t
}

impl Line {
    /// The line as stored and as the API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "product_id": self.product_id,
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "quantity": fixed_string(self.quantity_milli, 3),
            "unit_price": money_string(self.unit_price),
            "discount": fixed_string(self.discount_bp, 2),
            "tax_rate": fixed_string(self.tax_bp, 2),
            "gross": money_string(self.gross),
            "net": money_string(self.net),
            "tax": money_string(self.tax),
            "total": money_string(self.total),
        })
    }

    /// Read a stored line back (the stored form is what [`Line::to_json`] wrote).
    pub fn from_json(v: &Value) -> Option<Line> {
        let money = |k: &str| crate::validate::money_minor(&v[k]).ok();
        Some(Line {
            product_id: v["product_id"].as_str().map(str::to_string),
            name: v["name"].as_str()?.to_string(),
            description: v["description"].as_str().map(str::to_string),
            unit: v["unit"].as_str().map(str::to_string),
            quantity_milli: fixed_point(&v["quantity"], 3)?,
            unit_price: money("unit_price")?,
            discount_bp: fixed_point(&v["discount"], 2)?,
            tax_bp: fixed_point(&v["tax_rate"], 2)?,
            gross: money("gross")?,
            net: money("net")?,
            tax: money("tax")?,
            total: money("total")?,
        })
    }

    /// The draft that reproduces this line (copying a quote's lines onto an order).
    pub fn to_draft(&self) -> LineDraft {
        LineDraft {
            product_id: self.product_id.clone(),
            name: Some(self.name.clone()),
            description: self.description.clone(),
            unit: self.unit.clone(),
            quantity_milli: self.quantity_milli,
            unit_price: Some(self.unit_price),
            discount_bp: self.discount_bp,
            tax_bp: Some(self.tax_bp),
        }
    }
}

/// Lines stored as JSON back into values; unreadable entries are skipped.
pub fn from_stored(v: &Value) -> Vec<Line> {
    v.as_array()
        .map(|a| a.iter().filter_map(Line::from_json).collect())
        .unwrap_or_default()
}

/// A draft as JSON, for storing between parsing and completion.
pub fn draft_to_json(d: &LineDraft) -> Value {
    json!({
        "product_id": d.product_id,
        "name": d.name,
        "description": d.description,
        "unit": d.unit,
        "quantity": fixed_string(d.quantity_milli, 3),
        "unit_price": d.unit_price.map(money_string),
        "discount": fixed_string(d.discount_bp, 2),
        "tax_rate": d.tax_bp.map(|t| fixed_string(t, 2)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_text_refuses_control_characters_apart_from_line_breaks_in_descriptions() {
        let e = parse("lines", &json!([{"name": "a\u{0095}b", "unit_price": "1"}])).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("lines[0].name", "invalid_characters")
        );
        let e = parse(
            "lines",
            &json!([{"name": "x".repeat(201), "unit_price": "1"}]),
        )
        .unwrap_err();
        assert_eq!(e.code, "too_long");
        let ok = parse(
            "lines",
            &json!([{"name": "a", "unit_price": "1", "description": "two\nlines"}]),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    fn one(v: Value) -> Line {
        let drafts = parse("lines", &json!([v])).unwrap();
        compute(&drafts[0], None)
    }

    #[test]
    fn a_line_is_computed_exactly() {
        // 3 × 33.33 = 99.99; 10 % off = 89.991 → 89.99; 13 % tax = 11.6987 → 11.70
        let l = one(json!({"name": "A", "quantity": "3", "unit_price": "33.33",
            "discount": "10", "tax_rate": "13"}));
        assert_eq!((l.gross, l.net, l.tax, l.total), (9999, 8999, 1170, 10169));
        // Half a fen rounds away from zero: 0.5 × 0.01 = 0.005 → 0.01
        let l = one(json!({"name": "B", "quantity": "0.5", "unit_price": "0.01"}));
        assert_eq!(l.net, 1);
    }

    #[test]
    fn totals_are_the_sum_of_rounded_lines() {
        // Floating point would give 0.1 + 0.2 = 0.30000000000000004.
        let drafts = parse(
            "lines",
            &json!([
                {"name": "x", "unit_price": "0.10"},
                {"name": "y", "unit_price": "0.20", "tax_rate": "6"}
            ]),
        )
        .unwrap();
        let lines: Vec<Line> = drafts.iter().map(|d| compute(d, None)).collect();
        let t = totals(&lines);
        assert_eq!((t.net, t.tax, t.total), (30, 1, 31));
    }

    #[test]
    fn a_product_fills_what_the_line_leaves_out() {
        let p = ProductDefaults {
            name: "Licence".into(),
            unit: Some("seat".into()),
            unit_price: 120_000,
            tax_bp: 600,
        };
        let d = &parse(
            "lines",
            &json!([{"product_id": "0192f6c4-0000-7000-8000-000000000001", "quantity": 2}]),
        )
        .unwrap()[0];
        let l = compute(d, Some(&p));
        assert_eq!(l.name, "Licence");
        assert_eq!((l.net, l.tax), (240_000, 14_400));
        let json = l.to_json();
        assert_eq!(json["quantity"], "2");
        assert_eq!(json["tax_rate"], "6");
        assert_eq!(Line::from_json(&json), Some(l));
    }

    #[test]
    fn bad_lines_name_the_line_and_field() {
        let e = parse(
            "lines",
            &json!([{"name": "a", "unit_price": "1"}, {"name": "b", "unit_price": "1", "quantity": "-2"}]),
        )
        .unwrap_err();
        assert_eq!(e.field, "lines[1].quantity");
        let e = parse("lines", &json!([{"name": "a", "unit_price": "1.001"}])).unwrap_err();
        assert_eq!(e.field, "lines[0].unit_price");
        let e = parse("lines", &json!([{"name": "a"}])).unwrap_err();
        assert_eq!(e.code, "incomplete_line");
        let e = parse(
            "lines",
            &json!([{"name": "a", "unit_price": "1", "discount": "101"}]),
        )
        .unwrap_err();
        assert_eq!(e.field, "lines[0].discount");
        assert!(parse("lines", &json!({"name": "a"})).is_err());
    }

    #[test]
    fn fixed_point_round_trips() {
        assert_eq!(fixed_point(&json!("12.5"), 2), Some(1250));
        assert_eq!(fixed_point(&json!(7), 3), Some(7000));
        assert_eq!(fixed_point(&json!("1.2345"), 3), None);
        assert_eq!(fixed_point(&json!("-1"), 3), None);
        assert_eq!(fixed_string(1250, 2), "12.5");
        assert_eq!(fixed_string(7000, 3), "7");
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(4, 10), 0);
    }
}
