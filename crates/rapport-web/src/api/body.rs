//! Typed request bodies: a JSON object read into a service's struct. Every name the struct does
//! not have is refused first, all of them at once as `unknown_field` (whether or not the struct
//! would have ignored it); then a missing field is `required` and a value of the wrong shape is
//! `invalid`, named by its path (`groups[1].survivor_id`).

use crate::error::ApiResult;
use rapport_core::{DomainError, FieldError};
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value};

pub(super) fn from_doc<T: DeserializeOwned>(doc: Map<String, Value>) -> ApiResult<T> {
    if let Some(known) = field_names::<T>() {
        let unknown: Vec<FieldError> = doc
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| {
                FieldError::new(
                    k.clone(),
                    "unknown_field",
                    format!("there is no field named {k}"),
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(DomainError::Validation(unknown).into());
        }
    }
    serde_path_to_error::deserialize(Value::Object(doc)).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let named = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"));
        let (field, code) = match (named, path.as_str()) {
            (Some(name), ".") if msg.starts_with("missing field") => (name.to_string(), "required"),
            (Some(name), ".") => (name.to_string(), "unknown_field"),
            (_, ".") => ("body".to_string(), "invalid"),
            (Some(name), p) if msg.starts_with("missing field") => {
                (format!("{p}.{name}"), "required")
            }
            (_, p) => (p.to_string(), "invalid"),
        };
        DomainError::field(field, code, msg).into()
    })
}

/// The field names of a struct `T` deserializes from (serde hands them to `deserialize_struct`),
/// or `None` for anything else (a map, an enum).
fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut found = None;
    let _ = T::deserialize(Names(&mut found));
    found
}

struct Names<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Stop {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for Names<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Lenient {
        days: u32,
        #[serde(default)]
        note: Option<String>,
    }

    fn errors(r: ApiResult<Lenient>) -> Vec<(String, String)> {
        match r.map_err(|e| e.0) {
            Err(DomainError::Validation(v)) => v
                .into_iter()
                .map(|f| (f.field, f.code.to_string()))
                .collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn unknown_fields_come_first_even_where_serde_would_ignore_them() {
        let e = errors(from_doc(doc(json!({"days": "x", "zz": 1, "aa": 2}))));
        assert_eq!(
            e,
            vec![
                ("aa".into(), "unknown_field".into()),
                ("zz".into(), "unknown_field".into())
            ]
        );
    }

    #[test]
    fn a_missing_or_mistyped_field_is_named() {
        assert_eq!(
            errors(from_doc(doc(json!({"note": "n"})))),
            vec![("days".into(), "required".into())]
        );
        assert_eq!(
            errors(from_doc(doc(json!({"days": "x"})))),
            vec![("days".into(), "invalid".into())]
        );
        let ok: Lenient = from_doc(doc(json!({"days": 3}))).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(ok.days, 3);
    }
}
