//! Lists of activities: filters, visibility applied in the query, the linked records' labels.

use super::{access, row_to, select, Activity};
use crate::access::Access;
use crate::{audit, Store};
use chrono::{DateTime, Utc};
use rapport_core::activity::{Kind, Status};
use rapport_core::DomainError;
use rapport_db::all;
use sea_orm::sea_query::{Alias, Cond, Expr, Order};
use serde_json::Value;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Filters for the activity list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only activities assigned to (or, without an assignee, owned by) this user.
    pub assignee_id: Option<String>,
    /// With `assignee_id`: also meetings and visits that user attends.
    pub include_attending: bool,
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    /// Only activities at or before this time (with `status=open`: due by then).
    pub until: Option<DateTime<Utc>>,
    pub since: Option<DateTime<Utc>>,
    /// Activities on records of this type (`account`, ...).
    pub related_type: Option<String>,
    /// Activities on this record.
    pub related_id: Option<String>,
    /// Cursor: activities ordered before this (at, id).
    pub after: Option<(DateTime<Utc>, String)>,
    /// Oldest first (a to-do list) instead of newest first.
    pub ascending: bool,
    pub limit: u64,
}

/// Activities the actor may see, filtered; each with its linked record's label when the actor
/// may read that record.
pub async fn list(
    store: &Store,
    actor: &Access,
    f: &ListFilter,
) -> Result<Vec<(Activity, Option<String>)>, DomainError> {
    let mut q = select();
    q.cond_where(access::visible(store, actor).await?);
    let col = |c: &str| Expr::col((t("activities"), t(c)));
    if let Some(u) = &f.assignee_id {
        let mut mine = Cond::any().add(col("assignee_id").eq(u.clone())).add(
            Cond::all()
                .add(col("assignee_id").is_null())
                .add(col("owner_id").eq(u.clone())),
        );
        if f.include_attending {
            // Attendees are stored as JSON; user ids are quoted strings in it.
            mine = mine.add(col("attendees").like(format!("%\"{}\"%", u.replace(['%', '_'], ""))));
        }
        q.cond_where(mine);
    }
    if let Some(k) = f.kind {
        q.and_where(col("kind").eq(k.key()));
    }
    if let Some(s) = f.status {
        q.and_where(col("status").eq(s.key()));
    }
    if let Some(u) = f.until {
        q.and_where(col("at").lte(u));
    }
    if let Some(s) = f.since {
        q.and_where(col("at").gte(s));
    }
    if let Some(rt) = &f.related_type {
        q.and_where(col("related_type").eq(rt.clone()));
    }
    if let Some(rid) = &f.related_id {
        q.and_where(col("related_id").eq(rid.clone()));
    }
    let (ord, cmp_lt) = if f.ascending {
        (Order::Asc, false)
    } else {
        (Order::Desc, true)
    };
    if let Some((at, id)) = &f.after {
        let (a, b) = if cmp_lt {
            (col("at").lt(*at), col("id").lt(id.clone()))
        } else {
            (col("at").gt(*at), col("id").gt(id.clone()))
        };
        q.cond_where(
            Cond::any()
                .add(a)
                .add(Cond::all().add(col("at").eq(*at)).add(b)),
        );
    }
    q.order_by((t("activities"), t("at")), ord.clone())
        .order_by((t("activities"), t("id")), ord)
        .limit(f.limit.clamp(1, 200));
    let rows = all(store.db.reader(), &q).await?;
    let acts: Vec<Activity> = rows.iter().map(row_to).collect::<Result<_, _>>()?;
    labels(store, actor, acts).await
}

/// Attach the labels of the linked records the actor may read (one query per record type).
pub async fn labels(
    store: &Store,
    actor: &Access,
    acts: Vec<Activity>,
) -> Result<Vec<(Activity, Option<String>)>, DomainError> {
    let mut by_type: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for a in &acts {
        let ids = by_type.entry(a.related_type.as_str()).or_default();
        if !ids.contains(&a.related_id) {
            ids.push(a.related_id.clone());
        }
    }
    let mut names: std::collections::HashMap<(String, String), String> = Default::default();
    for (ty, ids) in by_type {
        for (id, label) in access::readable_labels(store, actor, ty, &ids).await? {
            names.insert((ty.to_string(), id), label);
        }
    }
    Ok(acts
        .into_iter()
        .map(|a| {
            let l = names
                .get(&(a.related_type.clone(), a.related_id.clone()))
                .cloned();
            (a, l)
        })
        .collect())
}

/// Audit a list read (what was asked for, not what came back).
pub async fn audit_list(store: &Store, actor: &Access, what: Value) -> Result<(), DomainError> {
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("activity.listed").details(what),
    )
    .await
}
