//! One document from another: a contract from an accepted quote, an order from an accepted
//! quote or an approved contract. Each goes through `records::create`, so the new document
//! follows the same rights, rules, numbering and audit as one typed in by hand.

use crate::access::Access;
use crate::objects::{CONTRACTS, ORDERS, QUOTES};
use crate::records::{self, Record, WriteOptions};
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::lines::{self, draft_to_json};
use rapport_core::DomainError;
use serde_json::{json, Map, Value};

fn put(doc: &mut Map<String, Value>, rec: &Record, from: &str, to: &str) {
    if let Some(v) = rec.values.get(from).filter(|v| !v.is_null()) {
        doc.entry(to.to_string()).or_insert_with(|| v.to_json());
    }
}

fn copied_lines(rec: &Record) -> Value {
    match rec.values.get("lines") {
        Some(FieldValue::Json(v)) => Value::Array(
            lines::from_stored(v)
                .iter()
                .map(|l| draft_to_json(&l.to_draft()))
                .collect(),
        ),
        _ => Value::Array(Vec::new()),
    }
}

fn status(rec: &Record) -> &str {
    rec.text("status").unwrap_or("")
}

/// A contract from an accepted quote; `extra` adds or overrides fields (dates, signatories).
pub async fn contract_from_quote(
    store: &Store,
    actor: &Access,
    quote_id: &str,
    extra: &Map<String, Value>,
) -> Result<Value, DomainError> {
    let quote = records::read_record(store, actor, &QUOTES, quote_id).await?;
    if status(&quote) != "accepted" {
        return Err(DomainError::Conflict(
            "a contract is made from an accepted quote".into(),
        ));
    }
    let mut doc = extra.clone();
    put(&mut doc, &quote, "name", "name");
    put(&mut doc, &quote, "account_id", "account_id");
    put(&mut doc, &quote, "opportunity_id", "opportunity_id");
    put(&mut doc, &quote, "total", "amount");
    put(&mut doc, &quote, "currency", "currency");
    put(&mut doc, &quote, "terms", "terms");
    doc.insert("quote_id".into(), json!(quote.id));
    records::create(store, actor, &CONTRACTS, &doc, WriteOptions::default()).await
}

/// An order from an accepted quote (its lines) or an approved contract (its quote's lines, or
/// one line for the contract's amount).
pub async fn order_from(
    store: &Store,
    actor: &Access,
    source: &str,
    id: &str,
    extra: &Map<String, Value>,
) -> Result<Value, DomainError> {
    let mut doc = extra.clone();
    match source {
        "quote" => {
            let quote = records::read_record(store, actor, &QUOTES, id).await?;
            if status(&quote) != "accepted" {
                return Err(DomainError::Conflict(
                    "an order is made from an accepted quote".into(),
                ));
            }
            put(&mut doc, &quote, "name", "name");
            put(&mut doc, &quote, "account_id", "account_id");
            put(&mut doc, &quote, "currency", "currency");
            doc.insert("quote_id".into(), json!(quote.id));
            doc.entry("lines").or_insert_with(|| copied_lines(&quote));
        }
        "contract" => {
            let contract =
                records::read_record(store, actor, &crate::objects::CONTRACTS, id).await?;
            if status(&contract) != "approved" {
                return Err(DomainError::Conflict(
                    "an order is made from an approved contract".into(),
                ));
            }
            put(&mut doc, &contract, "name", "name");
            put(&mut doc, &contract, "account_id", "account_id");
            put(&mut doc, &contract, "currency", "currency");
            doc.insert("contract_id".into(), json!(contract.id));
            let quote = match contract.text("quote_id").filter(|q| !q.is_empty()) {
                Some(q) => records::read_many(store, actor, &QUOTES, &[q.to_string()])
                    .await?
                    .pop(),
                None => None,
            };
            match quote {
                Some(q) => {
                    doc.insert("quote_id".into(), json!(q.id));
                    doc.entry("lines").or_insert_with(|| copied_lines(&q));
                }
                None => {
                    let amount = contract
                        .values
                        .get("amount")
                        .map(FieldValue::to_json)
                        .unwrap_or(Value::Null);
                    doc.entry("lines").or_insert_with(|| {
                        json!([{"name": contract.text("name").unwrap_or(""), "quantity": "1", "unit_price": amount}])
                    });
                }
            }
        }
        _ => {
            return Err(DomainError::field(
                "source",
                "invalid",
                "an order is made from a quote or a contract",
            ))
        }
    }
    records::create(store, actor, &ORDERS, &doc, WriteOptions::default()).await
}
