//! The side panels of a record page: the records related to it, per record type.

use super::form::Choices;
use super::i18n::{t, Lang};
use super::record_pages::record_label;
use crate::AppState;
use rapport_services::access::Access;
use rapport_services::objects;
use rapport_services::objects::{CONTACTS, CONTRACTS, OPPORTUNITIES, ORDERS, PAYMENTS, QUOTES};
use rapport_services::records::query::{self, ListParams};
use rapport_services::records::ObjectDef;
use serde_json::{json, Value};

/// (label, link, note)
pub type Item = (String, String, String);
/// (title, items)
pub type Group = (String, Vec<Item>);

async fn opportunities(
    app: &AppState,
    actor: &Access,
    filter: Value,
    choices: &Choices,
    lang: Lang,
) -> Group {
    let params = ListParams {
        filter: Some(filter),
        sort: Some("-amount".into()),
        limit: Some(50),
        ..Default::default()
    };
    let list = query::list(&app.store, actor, &OPPORTUNITIES, &params)
        .await
        .map(|p| p.data)
        .unwrap_or_default();
    (
        t(lang, "record.related_opportunities"),
        list.iter()
            .map(|o| {
                let stage = o["stage"].as_str().unwrap_or("");
                let stage = choices
                    .stages
                    .iter()
                    .find(|(k, _)| k == stage)
                    .map_or(stage.to_string(), |(_, l)| l.clone());
                let amount = o["amount"]
                    .as_str()
                    .map(|a| format!(" · {a} {}", o["currency"].as_str().unwrap_or("")))
                    .unwrap_or_default();
                (
                    o["name"].as_str().unwrap_or("").to_string(),
                    format!("/opportunities/{}", o["id"].as_str().unwrap_or("")),
                    format!("{stage}{amount}"),
                )
            })
            .collect(),
    )
}

/// Quotes, contracts, orders or payments matching `filter`, newest first, with their status
/// and amount.
async fn documents(
    app: &AppState,
    actor: &Access,
    def: &ObjectDef,
    filter: Value,
    choices: &Choices,
    lang: Lang,
) -> Group {
    let title = super::record_pages::title_of(def, lang);
    if actor.scope(def.object, rapport_core::Action::Read) == rapport_core::Scope::None {
        return (title, Vec::new());
    }
    let params = ListParams {
        filter: Some(filter),
        limit: Some(50),
        ..Default::default()
    };
    let list = query::list(&app.store, actor, def, &params)
        .await
        .map(|p| p.data)
        .unwrap_or_default();
    let status_spec = def.field("status");
    let amount_field = ["total", "amount"]
        .into_iter()
        .find(|f| def.field(f).is_some())
        .unwrap_or("total");
    (
        title,
        list.iter()
            .map(|d| {
                let status = status_spec
                    .map(|s| super::form::display(s, &d["status"], lang, choices, "CN"))
                    .unwrap_or_default();
                let amount = d[amount_field]
                    .as_str()
                    .map(|a| format!("{a} {}", d["currency"].as_str().unwrap_or("")))
                    .unwrap_or_default();
                let note = [status, amount]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · ");
                (
                    record_label(def, d),
                    format!(
                        "/{}/{}",
                        def.object.plural().unwrap_or(""),
                        d["id"].as_str().unwrap_or("")
                    ),
                    note,
                )
            })
            .collect(),
    )
}

fn account_item(choices: &Choices, id: &str, note: &str) -> Option<Item> {
    let name = choices.accounts.iter().find(|(v, _)| v == id)?.1.clone();
    Some((name, format!("/accounts/{id}"), note.to_string()))
}

/// The related groups of one record (empty groups are left out by the template).
pub async fn groups(
    app: &AppState,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
    rec: &Value,
    choices: &Choices,
    lang: Lang,
) -> Vec<Group> {
    let mut out = Vec::new();
    match def.object {
        objects::ACCOUNT => {
            let params = ListParams {
                filter: Some(json!({"field": "accounts", "op": "has", "value": id})),
                limit: Some(50),
                ..Default::default()
            };
            let list = query::list(&app.store, actor, &CONTACTS, &params)
                .await
                .map(|p| p.data)
                .unwrap_or_default();
            out.push((
                t(lang, "record.related_contacts"),
                list.iter()
                    .map(|c| {
                        (
                            record_label(&CONTACTS, c),
                            format!("/contacts/{}", c["id"].as_str().unwrap_or("")),
                            c["title"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect(),
            ));
            out.push(
                opportunities(
                    app,
                    actor,
                    json!({"field": "account_id", "op": "eq", "value": id}),
                    choices,
                    lang,
                )
                .await,
            );
            for def in [&QUOTES, &CONTRACTS, &ORDERS, &PAYMENTS] {
                out.push(
                    documents(
                        app,
                        actor,
                        def,
                        json!({"field": "account_id", "op": "eq", "value": id}),
                        choices,
                        lang,
                    )
                    .await,
                );
            }
        }
        objects::QUOTE | objects::CONTRACT | objects::ORDER => {
            let mut items: Vec<Item> = rec["account_id"]
                .as_str()
                .and_then(|a| account_item(choices, a, &t(lang, "nav.accounts")))
                .into_iter()
                .collect();
            for (field, object) in [
                ("opportunity_id", objects::OPPORTUNITY),
                ("quote_id", objects::QUOTE),
                ("contract_id", objects::CONTRACT),
            ] {
                if let Some(rid) = rec[field].as_str() {
                    let label = choices
                        .records
                        .get(&object)
                        .and_then(|l| l.iter().find(|(v, _)| v == rid))
                        .map_or_else(
                            || t(lang, &format!("nav.{}", object.plural().unwrap_or(""))),
                            |(_, l)| l.clone(),
                        );
                    items.push((
                        label,
                        format!("/{}/{rid}", object.plural().unwrap_or("")),
                        String::new(),
                    ));
                }
            }
            out.push((t(lang, "record.related"), items));
            let key = match def.object {
                objects::QUOTE => "quote_id",
                objects::CONTRACT => "contract_id",
                _ => "",
            };
            if !key.is_empty() {
                let filter = json!({"field": key, "op": "eq", "value": id});
                if def.object == objects::QUOTE {
                    out.push(
                        documents(app, actor, &CONTRACTS, filter.clone(), choices, lang).await,
                    );
                } else {
                    out.push(documents(app, actor, &PAYMENTS, filter.clone(), choices, lang).await);
                }
                out.push(documents(app, actor, &ORDERS, filter, choices, lang).await);
            }
        }
        objects::CONTACT => {
            let links = rec["accounts"].as_array().cloned().unwrap_or_default();
            out.push((
                t(lang, "record.related_accounts"),
                links
                    .iter()
                    .filter_map(|l| {
                        account_item(
                            choices,
                            l["account_id"].as_str()?,
                            l["role"].as_str().unwrap_or(""),
                        )
                    })
                    .collect(),
            ));
            out.push(
                opportunities(
                    app,
                    actor,
                    json!({"field": "contacts", "op": "has", "value": id}),
                    choices,
                    lang,
                )
                .await,
            );
        }
        objects::OPPORTUNITY => {
            let mut items: Vec<Item> = rec["account_id"]
                .as_str()
                .and_then(|a| account_item(choices, a, &t(lang, "nav.accounts")))
                .into_iter()
                .collect();
            for c in rec["contacts"].as_array().into_iter().flatten() {
                let cid = c["contact_id"].as_str().unwrap_or("");
                if let Some((_, name)) = choices.contacts.iter().find(|(v, _)| v == cid) {
                    items.push((
                        name.clone(),
                        format!("/contacts/{cid}"),
                        c["role"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
            out.push((t(lang, "record.related_contacts"), items));
            for def in [&QUOTES, &CONTRACTS] {
                out.push(
                    documents(
                        app,
                        actor,
                        def,
                        json!({"field": "opportunity_id", "op": "eq", "value": id}),
                        choices,
                        lang,
                    )
                    .await,
                );
            }
            let history = rapport_services::objects::opportunity::stages::stage_history(
                &app.store, actor, id,
            )
            .await
            .unwrap_or_default();
            out.push((
                t(lang, "record.stage_history"),
                history
                    .iter()
                    .rev()
                    .map(|v| {
                        let name = choices
                            .stages
                            .iter()
                            .find(|(k, _)| *k == v.stage)
                            .map_or(v.stage.clone(), |(_, l)| l.clone());
                        let days = v.seconds as f64 / 86_400.0;
                        (
                            name,
                            String::new(),
                            format!(
                                "{} · {days:.1} {}",
                                super::form::local_time(v.entered_at),
                                t(lang, "board.days")
                            ),
                        )
                    })
                    .collect(),
            ));
        }
        objects::LEAD => {
            let mut items = Vec::new();
            if let Some(a) = rec["converted_account_id"].as_str() {
                items.extend(account_item(choices, a, &t(lang, "nav.accounts")));
            }
            if let Some(c) = rec["converted_contact_id"].as_str() {
                items.push((
                    record_label(&CONTACTS, rec),
                    format!("/contacts/{c}"),
                    t(lang, "nav.contacts"),
                ));
            }
            if let Some(o) = rec["converted_opportunity_id"].as_str() {
                items.push((
                    t(lang, "nav.opportunities"),
                    format!("/opportunities/{o}"),
                    String::new(),
                ));
            }
            out.push((t(lang, "record.converted_to"), items));
        }
        _ => {}
    }
    out
}
