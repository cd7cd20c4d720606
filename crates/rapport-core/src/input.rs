//! Reading a create/update document against an object's fields: unknown fields, wrong types
//! and invalid values are all reported together, each naming its field.

use crate::error::{DomainError, FieldError};
use crate::fields::{parse_value, FieldSpec, FieldValue, ParseContext};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Parsed input: the fields present in the document, in the order of the object's specs.
#[derive(Debug, Default, Clone)]
pub struct Input {
    pub values: Vec<(&'static FieldSpec, FieldValue)>,
}

impl Input {
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.values
            .iter()
            .find(|(s, _)| s.name == name)
            .map(|(_, v)| v)
    }

    pub fn set(&mut self, spec: &'static FieldSpec, value: FieldValue) {
        if let Some(slot) = self.values.iter_mut().find(|(s, _)| s.name == spec.name) {
            slot.1 = value;
        } else {
            self.values.push((spec, value));
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<FieldValue> {
        let pos = self.values.iter().position(|(s, _)| s.name == name)?;
        Some(self.values.remove(pos).1)
    }
}

/// `aliases` maps extra accepted names to a spec name and a converter (e.g. `account_ids`).
pub fn read(
    specs: &'static [FieldSpec],
    doc: &Map<String, Value>,
    mode: Mode,
    ctx: &ParseContext,
    extra_allowed: &[&str],
) -> Result<Input, DomainError> {
    let mut errors = Vec::new();
    let mut input = Input::default();
    for key in doc.keys() {
        if extra_allowed.contains(&key.as_str()) {
            continue;
        }
        match specs.iter().find(|s| s.name == key) {
            None => errors.push(FieldError::new(
                key.clone(),
                "unknown_field",
                format!("there is no field named {key}"),
            )),
            Some(spec) if spec.system => errors.push(FieldError::new(
                key.clone(),
                "read_only_field",
                format!("{key} is set by the system"),
            )),
            Some(_) => {}
        }
    }
    for spec in specs {
        let Some(raw) = doc.get(spec.name) else {
            if mode == Mode::Create && spec.required {
                errors.push(FieldError::new(
                    spec.name,
                    "required",
                    format!("{} is required", spec.name),
                ));
            }
            continue;
        };
        if spec.system {
            continue;
        }
        match parse_value(spec, raw, ctx) {
            Ok(v) => {
                if spec.required && v.is_null() {
                    errors.push(FieldError::new(
                        spec.name,
                        "required",
                        format!("{} is required", spec.name),
                    ));
                } else {
                    input.values.push((spec, v));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(DomainError::Validation(errors))
    }
}
