//! Mapping field values to columns and back. Sensitive values are encrypted here, at the
//! storage edge, with a blind index beside the ones that need exact lookup.

use crate::Keyring;
use chrono::{DateTime, NaiveDate, Utc};
use rapport_core::fields::{Consent, FieldKind, FieldSpec, FieldValue};
use rapport_core::DomainError;
use rapport_db::RowRef;
use sea_orm::sea_query::Value as SqlValue;

/// Does this field have a blind-index column beside its ciphertext?
pub fn has_bidx(spec: &FieldSpec) -> bool {
    spec.sensitive
        && matches!(
            spec.kind,
            FieldKind::Email | FieldKind::Phone | FieldKind::CreditCode | FieldKind::IdNumber
        )
}

/// The blind-index namespace for a field kind.
pub fn bidx_kind(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Email | FieldKind::EmailList => "email",
        FieldKind::Phone | FieldKind::PhoneList => "phone",
        FieldKind::CreditCode => "credit_code",
        FieldKind::IdNumber => "id_number",
        _ => "value",
    }
}

/// The columns a field occupies.
pub fn columns(spec: &FieldSpec) -> Vec<String> {
    let n = spec.name;
    match spec.kind {
        FieldKind::AccountLinks => vec![],
        FieldKind::Consent => vec![
            format!("{n}_granted"),
            format!("{n}_at"),
            format!("{n}_source"),
        ],
        _ if has_bidx(spec) => vec![format!("{n}_enc"), format!("{n}_bidx")],
        _ if spec.sensitive => vec![format!("{n}_enc")],
        _ => vec![n.to_string()],
    }
}

/// The columns [`decode`] reads (the blind index is for lookups only).
pub fn read_columns(spec: &FieldSpec) -> Vec<String> {
    let mut cols = columns(spec);
    if has_bidx(spec) {
        cols.retain(|c| !c.ends_with("_bidx"));
    }
    cols
}

/// The single column used to filter or sort a non-sensitive scalar field.
pub fn plain_column(spec: &FieldSpec) -> Option<&'static str> {
    if spec.sensitive || matches!(spec.kind, FieldKind::AccountLinks | FieldKind::Consent) {
        None
    } else {
        Some(spec.name)
    }
}

fn null_of(kind: FieldKind) -> SqlValue {
    match kind {
        FieldKind::Money | FieldKind::Integer { .. } => SqlValue::BigInt(None),
        FieldKind::Bool => SqlValue::Bool(None),
        FieldKind::DateTime => SqlValue::ChronoDateTimeUtc(None),
        _ => SqlValue::String(None),
    }
}

fn s(v: String) -> SqlValue {
    SqlValue::String(Some(Box::new(v)))
}

/// Encode a field's value into its columns ([`columns`], in that order), encrypting
/// sensitive values.
pub fn encode(
    spec: &FieldSpec,
    value: &FieldValue,
    keys: &Keyring,
    table: &str,
    id: &str,
) -> Result<Vec<(String, SqlValue)>, DomainError> {
    let mut values = Vec::with_capacity(3);
    encode_values(spec, value, keys, table, id, &mut values)?;
    Ok(columns(spec).into_iter().zip(values).collect())
}

/// [`encode`] without the columns' names: the values are pushed onto `out` in the order of
/// [`columns`] (what a multi-row INSERT, which names its columns once, needs per row).
pub fn encode_values(
    spec: &FieldSpec,
    value: &FieldValue,
    keys: &Keyring,
    table: &str,
    id: &str,
    out: &mut Vec<SqlValue>,
) -> Result<(), DomainError> {
    if value.is_null() {
        match spec.kind {
            FieldKind::AccountLinks => {}
            FieldKind::Consent => out.extend([
                SqlValue::Bool(None),
                SqlValue::ChronoDateTimeUtc(None),
                SqlValue::String(None),
            ]),
            _ if has_bidx(spec) => out.extend([null_of(spec.kind), null_of(spec.kind)]),
            _ => out.push(null_of(spec.kind)),
        }
        return Ok(());
    }
    if spec.sensitive {
        let plain = match value {
            FieldValue::Text(t) => t.clone(),
            FieldValue::List(l) => serde_json::to_string(l).map_err(DomainError::internal)?,
            other => other.to_json().to_string(),
        };
        let enc_col = format!("{}_enc", spec.name);
        out.push(s(keys.encrypt(table, &enc_col, id, &plain)?));
        if has_bidx(spec) {
            out.push(s(keys.blind(bidx_kind(spec.kind), &plain)));
        }
        return Ok(());
    }
    match value {
        FieldValue::Null => out.push(null_of(spec.kind)),
        FieldValue::Text(t) => out.push(s(t.clone())),
        FieldValue::Money(m) | FieldValue::Int(m) => out.push(SqlValue::BigInt(Some(*m))),
        FieldValue::Date(d) => out.push(s(d.format("%Y-%m-%d").to_string())),
        FieldValue::DateTime(t) => out.push(SqlValue::ChronoDateTimeUtc(Some(Box::new(*t)))),
        FieldValue::Bool(b) => out.push(SqlValue::Bool(Some(*b))),
        FieldValue::List(l) => {
            out.push(s(serde_json::to_string(l).map_err(DomainError::internal)?))
        }
        FieldValue::Json(v) => out.push(s(v.to_string())),
        FieldValue::Consent(c) => out.extend([
            SqlValue::Bool(Some(c.granted)),
            SqlValue::ChronoDateTimeUtc(c.at.map(Box::new)),
            SqlValue::String(c.source.clone().map(Box::new)),
        ]),
        FieldValue::Links(_) => {}
    }
    Ok(())
}

/// Is the field one column of text shown as it is stored (no parsing, no decryption)? A list
/// page writes such a value straight from its row ([`super::page`]); [`decode`] reads it as
/// [`FieldValue::Text`].
pub fn reads_as_text(spec: &FieldSpec) -> bool {
    !spec.sensitive
        && !matches!(
            spec.kind,
            FieldKind::AccountLinks
                | FieldKind::Consent
                | FieldKind::Money
                | FieldKind::Integer { .. }
                | FieldKind::Bool
                | FieldKind::DateTime
                | FieldKind::Date
                | FieldKind::Tags
                | FieldKind::EmailList
                | FieldKind::PhoneList
                | FieldKind::JsonObject
                | FieldKind::ContactLinks
                | FieldKind::LineItems
        )
}

/// Decode a field from a row; `cols` are the field's [`read_columns`] (named once per query,
/// not once per row). `Ok(None)`: a sensitive value that does not decrypt
/// ([`super::unreadable`]).
pub fn decode(
    spec: &FieldSpec,
    cols: &[String],
    row: RowRef<'_>,
    keys: &Keyring,
    table: &str,
    id: &str,
) -> Result<Option<FieldValue>, DomainError> {
    let n = spec.name;
    let col = |i: usize| {
        cols.get(i).map(String::as_str).ok_or_else(|| {
            DomainError::Internal(format!("{n} is read from {} columns", cols.len()))
        })
    };
    if reads_as_text(spec) {
        return Ok(Some(
            row.get::<Option<String>>(n)?
                .map_or(FieldValue::Null, FieldValue::Text),
        ));
    }
    if spec.sensitive {
        let enc_col = col(0)?;
        let Some(ct) = row.text(enc_col)? else {
            return Ok(Some(FieldValue::Null));
        };
        let Some(plain) = super::unreadable::open(keys, table, enc_col, id, &ct) else {
            return Ok(None);
        };
        return Ok(Some(match spec.kind {
            FieldKind::EmailList | FieldKind::PhoneList => {
                FieldValue::List(serde_json::from_str(&plain).map_err(DomainError::internal)?)
            }
            _ => FieldValue::Text(plain),
        }));
    }
    Ok(Some(match spec.kind {
        FieldKind::AccountLinks => FieldValue::Links(vec![]),
        FieldKind::Consent => match row.get::<Option<bool>>(col(0)?)? {
            None => FieldValue::Null,
            Some(granted) => FieldValue::Consent(Consent {
                granted,
                at: row.get::<Option<DateTime<Utc>>>(col(1)?)?,
                source: row.get::<Option<String>>(col(2)?)?,
            }),
        },
        FieldKind::Money => row
            .get::<Option<i64>>(n)?
            .map_or(FieldValue::Null, FieldValue::Money),
        FieldKind::Integer { .. } => row
            .get::<Option<i64>>(n)?
            .map_or(FieldValue::Null, FieldValue::Int),
        FieldKind::Bool => row
            .get::<Option<bool>>(n)?
            .map_or(FieldValue::Null, FieldValue::Bool),
        FieldKind::DateTime => row
            .get::<Option<DateTime<Utc>>>(n)?
            .map_or(FieldValue::Null, FieldValue::DateTime),
        FieldKind::Date => match row.text(n)? {
            Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map(FieldValue::Date)
                .unwrap_or(FieldValue::Null),
            None => FieldValue::Null,
        },
        FieldKind::Tags | FieldKind::EmailList | FieldKind::PhoneList => match row.text(n)? {
            Some(j) => FieldValue::List(serde_json::from_str(&j).unwrap_or_default()),
            None => FieldValue::List(vec![]),
        },
        FieldKind::JsonObject | FieldKind::ContactLinks | FieldKind::LineItems => {
            match row.text(n)? {
                Some(j) => {
                    FieldValue::Json(serde_json::from_str(&j).unwrap_or(serde_json::Value::Null))
                }
                None => FieldValue::Null,
            }
        }
        // Kinds [`reads_as_text`] answers for, returned above.
        _ => row
            .get::<Option<String>>(n)?
            .map_or(FieldValue::Null, FieldValue::Text),
    }))
}

/// Masked form of a sensitive value for the audit trail.
pub fn audit_value(spec: &FieldSpec, value: &FieldValue) -> serde_json::Value {
    if value.is_null() {
        serde_json::Value::Null
    } else if spec.sensitive {
        serde_json::Value::String("[encrypted]".into())
    } else if spec.personal {
        serde_json::Value::String("[personal]".into())
    } else {
        value.to_json()
    }
}
