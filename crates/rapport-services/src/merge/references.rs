//! Where other rows point at the merged records (as their type declares, plus what every type
//! has): a merge moves each of these to the surviving record, and its undo moves them back.

use super::snapshot::{self, Cell, Row};
use crate::records::merging::{Holds, Reference};
use crate::records::ObjectDef;
use rapport_core::DomainError;
use rapport_db::{all, exec, get};
use sea_orm::sea_query::{Alias, Condition, Expr, Query};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Every column that points at a record of `def`: what the type declares, then the rows
/// every type has (activities logged on it, notifications about it, earlier merges into it).
fn of(def: &ObjectDef) -> Vec<Reference> {
    let declared = def.hooks.merging().map(|m| m.references).unwrap_or(&[]);
    let mut out = declared.to_vec();
    if def.hooks.has_activities() {
        out.push(Reference::typed(
            "activities",
            "related_id",
            "related_type",
            def.key(),
        ));
    }
    out.push(Reference::typed(
        "notifications",
        "object_id",
        "object_type",
        def.key(),
    ));
    // Records merged into a merged record now point at the survivor (their history follows).
    out.push(Reference {
        key: &["merged_id"],
        ..Reference::id("merged_records", "survivor_id")
    });
    out
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

/// Move every reference to `merged` (ids of `def`'s records) onto `survivor`.
pub async fn move_all<C: ConnectionTrait>(
    c: &C,
    def: &ObjectDef,
    survivor: &str,
    merged: &[String],
) -> Result<Moved, DomainError> {
    let mut out = Moved::default();
    let from: BTreeSet<String> = merged.iter().cloned().collect();
    for r in &of(def) {
        match r.holds {
            Holds::Id => move_ids(c, def, r, survivor, merged, &mut out).await?,
            Holds::Json => move_json(c, r, survivor, &from, &mut out).await?,
        }
    }
    Ok(out)
}

async fn move_ids<C: ConnectionTrait>(
    c: &C,
    def: &ObjectDef,
    r: &Reference,
    survivor: &str,
    merged: &[String],
    out: &mut Moved,
) -> Result<(), DomainError> {
    let mut cond = Condition::all().add(Expr::col(t(r.column)).is_in(merged.to_vec()));
    if let Some((col, ty)) = r.of_type {
        cond = cond.add(Expr::col(t(col)).eq(ty));
    }
    if r.table == def.table {
        // The survivor's own parent is a column of the survivor, kept with it.
        cond = cond.add(Expr::col(t("id")).ne(survivor));
    }
    let rows = snapshot::rows(c, r.table, cond.clone()).await?;
    if rows.is_empty() {
        return Ok(());
    }
    // A link table holds one row per pair: a row whose pair the survivor already has (or an
    // earlier merged record brought) is removed instead of moved.
    let unique_pairs = r.unique_pair;
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
