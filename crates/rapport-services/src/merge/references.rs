//! Where other rows point at accounts, contacts and leads: a merge moves each of these to the
//! surviving record, and its undo moves them back.

use super::snapshot::{self, Cell, Row};
use crate::objects;
use rapport_core::{DomainError, Object};
use rapport_db::{all, exec, get};
use sea_orm::sea_query::{Alias, Condition, Expr, Query};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// How a column refers to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// The record's id.
    Id,
    /// JSON text with the id somewhere inside (contact links, attendees).
    Json,
}

#[derive(Debug, Clone, Copy)]
struct Reference {
    table: &'static str,
    column: &'static str,
    holds: Holds,
    /// The row's key columns (besides `column` itself).
    key: &'static [&'static str],
    /// `(column, value)` a row must also have, for tables that point at several types.
    of_type: Option<(&'static str, &'static str)>,
}

const fn id_ref(table: &'static str, column: &'static str) -> Reference {
    Reference {
        table,
        column,
        holds: Holds::Id,
        key: &["id"],
        of_type: None,
    }
}

const fn typed(
    table: &'static str,
    column: &'static str,
    type_col: &'static str,
    ty: &'static str,
) -> Reference {
    Reference {
        table,
        column,
        holds: Holds::Id,
        key: &["id"],
        of_type: Some((type_col, ty)),
    }
}

const fn json_ref(table: &'static str, column: &'static str) -> Reference {
    Reference {
        table,
        column,
        holds: Holds::Json,
        key: &["id"],
        of_type: None,
    }
}

const ACCOUNT_REFS: &[Reference] = &[
    Reference {
        table: "contact_accounts",
        column: "account_id",
        holds: Holds::Id,
        key: &["contact_id"],
        of_type: None,
    },
    id_ref("opportunities", "account_id"),
    id_ref("quotes", "account_id"),
    id_ref("contracts", "account_id"),
    id_ref("orders", "account_id"),
    id_ref("payments", "account_id"),
    id_ref("accounts", "parent_id"),
    id_ref("pool_events", "account_id"),
    id_ref("leads", "converted_account_id"),
    typed("activities", "related_id", "related_type", "account"),
    typed("notifications", "object_id", "object_type", "account"),
];

const CONTACT_REFS: &[Reference] = &[
    Reference {
        table: "contact_accounts",
        column: "contact_id",
        holds: Holds::Id,
        key: &["account_id"],
        of_type: None,
    },
    id_ref("quotes", "contact_id"),
    id_ref("leads", "converted_contact_id"),
    typed("activities", "related_id", "related_type", "contact"),
    typed("notifications", "object_id", "object_type", "contact"),
    json_ref("opportunities", "contacts"),
    json_ref("activities", "attendees"),
];

const LEAD_REFS: &[Reference] = &[
    id_ref("opportunities", "lead_id"),
    typed("activities", "related_id", "related_type", "lead"),
    typed("notifications", "object_id", "object_type", "lead"),
];

/// Records merged into a merged record now point at the survivor (their history follows).
const MERGED_REF: Reference = Reference {
    table: "merged_records",
    column: "survivor_id",
    holds: Holds::Id,
    key: &["merged_id"],
    of_type: None,
};

fn of(object: Object) -> &'static [Reference] {
    match object {
        objects::ACCOUNT => ACCOUNT_REFS,
        objects::CONTACT => CONTACT_REFS,
        objects::LEAD => LEAD_REFS,
        _ => &[],
    }
}

/// One row moved from a merged record to the survivor: undone by setting `column` back to
/// `before` where the row still holds `after`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Move {
    pub table: String,
    pub key: Row,
    pub column: String,
    pub before: Cell,
    pub after: Cell,
}

/// What moving the references did: rows moved, and rows removed because the survivor already
/// had the same link (a contact linked to both accounts keeps one link).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Moved {
    pub moves: Vec<Move>,
    pub removed: Vec<(String, Row)>,
}

impl Moved {
    /// Rows moved per table, for the audit entry.
    pub fn counts(&self) -> Value {
        let mut m = serde_json::Map::new();
        for mv in &self.moves {
            let n = m.entry(mv.table.clone()).or_insert(Value::from(0));
            *n = Value::from(n.as_i64().unwrap_or(0) + 1);
        }
        Value::Object(m)
    }
}

fn row_key(r: &Reference, row: &Row) -> Row {
    r.key
        .iter()
        .map(|k| (k.to_string(), row.get(*k).cloned().unwrap_or(Cell::Null)))
        .collect()
}

fn key_cond(key: &Row) -> Condition {
    key.iter()
        .fold(Condition::all(), |c, (k, v)| c.add(v.matches(k)))
}

/// Replace every string equal to one of `from` with `to` in a JSON value, then drop repeated
/// items of arrays (a contact listed twice, or twice by `contact_id`).
fn rewrite_json(v: &mut Value, from: &BTreeSet<String>, to: &str) {
    match v {
        Value::String(s) if from.contains(s.as_str()) => *s = to.to_string(),
        Value::Array(items) => {
            for i in items.iter_mut() {
                rewrite_json(i, from, to);
            }
            let mut seen: Vec<Value> = Vec::new();
            items.retain(|i| {
                let id = i.get("contact_id").cloned().unwrap_or_else(|| i.clone());
                if seen.contains(&id) {
                    false
                } else {
                    seen.push(id);
                    true
                }
            });
        }
        Value::Object(o) => {
            for (_, i) in o.iter_mut() {
                rewrite_json(i, from, to);
            }
        }
        _ => {}
    }
}

/// Move every reference to `merged` (ids of `object`) onto `survivor`.
pub async fn move_all<C: ConnectionTrait>(
    c: &C,
    object: Object,
    survivor: &str,
    merged: &[String],
) -> Result<Moved, DomainError> {
    let mut out = Moved::default();
    let from: BTreeSet<String> = merged.iter().cloned().collect();
    for r in of(object).iter().chain([&MERGED_REF]) {
        match r.holds {
            Holds::Id => move_ids(c, r, survivor, merged, &mut out).await?,
            Holds::Json => move_json(c, r, survivor, &from, &mut out).await?,
        }
    }
    Ok(out)
}

async fn move_ids<C: ConnectionTrait>(
    c: &C,
    r: &Reference,
    survivor: &str,
    merged: &[String],
    out: &mut Moved,
) -> Result<(), DomainError> {
    let mut cond = Condition::all().add(Expr::col(t(r.column)).is_in(merged.to_vec()));
    if let Some((col, ty)) = r.of_type {
        cond = cond.add(Expr::col(t(col)).eq(ty));
    }
    if r.table == "accounts" {
        // The survivor's own parent is a column of the survivor, kept with it.
        cond = cond.add(Expr::col(t("id")).ne(survivor));
    }
    let rows = snapshot::rows(c, r.table, cond.clone()).await?;
    if rows.is_empty() {
        return Ok(());
    }
    // A link table holds one row per pair: a row whose pair the survivor already has (or an
    // earlier merged record brought) is removed instead of moved.
    let unique_pairs = r.table == "contact_accounts";
    let key_of = |row: &Row| serde_json::to_string(&row_key(r, row)).unwrap_or_default();
    let mut held: BTreeSet<String> = BTreeSet::new();
    if unique_pairs {
        let mine = snapshot::rows(
            c,
            r.table,
            Condition::all().add(Expr::col(t(r.column)).eq(survivor)),
        )
        .await?;
        held.extend(mine.iter().map(key_of));
    }
    for row in rows {
        let key = row_key(r, &row);
        if unique_pairs && !held.insert(key_of(&row)) {
            let mut cond = key_cond(&key);
            cond = cond.add(
                row.get(r.column)
                    .cloned()
                    .unwrap_or(Cell::Null)
                    .matches(r.column),
            );
            exec(c, Query::delete().from_table(t(r.table)).cond_where(cond)).await?;
            out.removed.push((r.table.to_string(), row));
            continue;
        }
        out.moves.push(Move {
            table: r.table.to_string(),
            key,
            column: r.column.to_string(),
            before: row.get(r.column).cloned().unwrap_or(Cell::Null),
            after: Cell::text(survivor),
        });
    }
    exec(
        c,
        Query::update()
            .table(t(r.table))
            .value(t(r.column), survivor)
            .cond_where(cond),
    )
    .await?;
    Ok(())
}

async fn move_json<C: ConnectionTrait>(
    c: &C,
    r: &Reference,
    survivor: &str,
    from: &BTreeSet<String>,
    out: &mut Moved,
) -> Result<(), DomainError> {
    let any = from.iter().fold(Condition::any(), |cond, id| {
        cond.add(Expr::col(t(r.column)).like(format!("%{id}%")))
    });
    let rows = all(
        c,
        Query::select()
            .columns([t("id"), t(r.column)])
            .from(t(r.table))
            .cond_where(any),
    )
    .await?;
    for row in rows {
        let id: String = get(&row, "id")?;
        let Some(text) = get::<Option<String>>(&row, r.column)? else {
            continue;
        };
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        rewrite_json(&mut v, from, survivor);
        let new = v.to_string();
        if new == text {
            continue;
        }
        exec(
            c,
            Query::update()
                .table(t(r.table))
                .value(t(r.column), new.clone())
                .and_where(Expr::col(t("id")).eq(id.as_str())),
        )
        .await?;
        out.moves.push(Move {
            table: r.table.to_string(),
            key: Row::from([("id".to_string(), Cell::Text(id))]),
            column: r.column.to_string(),
            before: Cell::Text(text),
            after: Cell::Text(new),
        });
    }
    Ok(())
}

/// Move rows back where they still hold what the merge wrote; removed link rows come back
/// when both ends still exist. The number of rows put back.
pub async fn undo<C: ConnectionTrait>(c: &C, moved: &Moved) -> Result<u64, DomainError> {
    let mut n = 0;
    for mv in moved.moves.iter().rev() {
        let cond = key_cond(&mv.key).add(mv.after.matches(&mv.column));
        let values = Row::from([(mv.column.clone(), mv.before.clone())]);
        n += snapshot::update(c, &mv.table, &values, cond).await?;
    }
    for (table, row) in &moved.removed {
        let ends = [("contact_id", "contacts"), ("account_id", "accounts")];
        let mut whole = true;
        for (col, target) in ends {
            if let Some(id) = row.get(col).and_then(Cell::as_text) {
                let found = all(
                    c,
                    Query::select()
                        .column(t("id"))
                        .from(t(target))
                        .and_where(Expr::col(t("id")).eq(id)),
                )
                .await?;
                whole &= !found.is_empty();
            }
        }
        let exists = !snapshot::rows(c, table, key_cond(row)).await?.is_empty();
        if whole && !exists {
            snapshot::insert(c, table, std::slice::from_ref(row)).await?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_ids_are_replaced_and_repeats_dropped() {
        let from: BTreeSet<String> = ["b".to_string(), "c".to_string()].into();
        let mut links = json!([
            {"contact_id": "a", "role": "x"},
            {"contact_id": "b", "role": "y"},
            {"contact_id": "s", "role": null},
            {"contact_id": "c", "role": null}
        ]);
        rewrite_json(&mut links, &from, "s");
        assert_eq!(
            links,
            json!([
                {"contact_id": "a", "role": "x"},
                {"contact_id": "s", "role": "y"}
            ])
        );
        let mut att = json!({"users": ["u"], "contacts": ["c", "b", "d"], "others": []});
        rewrite_json(&mut att, &from, "s");
        assert_eq!(att["contacts"], json!(["s", "d"]));
    }
}
