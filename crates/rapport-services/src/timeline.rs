//! One timeline per record: its activities, its field changes (from the audit trail) and the
//! events of related records (for an account: its contacts' and deals' activities, the
//! contacts added, new opportunities, their stage changes and payments received),
//! newest first, filterable by kind, with a cursor. Every source applies the viewer's scope in
//! its query, so nothing outside it appears, not even as a count.

use crate::access::{Access, OwnerFilter};
use crate::activities::{self, access, row_to};
use crate::objects;
use crate::objects::{ACCOUNTS, CONTACTS};
use crate::records;
use crate::{audit, Store};
use chrono::{DateTime, SecondsFormat, Utc};
use rapport_core::activity::Kind;
use rapport_core::{Action, DomainError};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Cond, Expr, Order, Query};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// What a timeline entry is about: an activity of some kind, a field change, a related record.
pub const CHANGE: &str = "change";
pub const RELATED: &str = "related";

/// Every filter key a timeline accepts.
pub fn kinds() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Kind::ALL.iter().map(|k| k.key()).collect();
    v.push(CHANGE);
    v.push(RELATED);
    v
}

/// What a timeline entry holds.
#[derive(Debug, Clone)]
pub enum Item {
    /// An activity, with its record's label when the viewer may read the record.
    Activity(Box<activities::Activity>, Option<String>),
    /// A change from the audit trail: action, actor, changed fields.
    Change(Value),
    /// A related record's event.
    Related(Value),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// Unique across sources; ties on `at` are broken by it.
    pub key: String,
    pub item: Item,
}

#[derive(Debug, Clone, Default)]
pub struct Params {
    /// Only these entry kinds (activity kinds, `change`, `related`); empty means all.
    pub kinds: Vec<String>,
    pub cursor: Option<String>,
    pub limit: u64,
}

pub struct Page {
    pub data: Vec<Entry>,
    pub next_cursor: Option<String>,
}

fn bad(field: &str, code: &'static str, msg: impl Into<String>) -> DomainError {
    DomainError::field(field, code, msg)
}

fn parse_cursor(c: &str) -> Result<(DateTime<Utc>, String), DomainError> {
    let (ms, key) = c.split_once('~').ok_or_else(|| {
        bad(
            "cursor",
            "invalid_cursor",
            "the cursor is not one this server gave",
        )
    })?;
    let ms: i64 = ms.parse().map_err(|_| {
        bad(
            "cursor",
            "invalid_cursor",
            "the cursor is not one this server gave",
        )
    })?;
    let at = DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        bad(
            "cursor",
            "invalid_cursor",
            "the cursor is not one this server gave",
        )
    })?;
    Ok((at, key.to_string()))
}

fn before(e: &Entry, cursor: &Option<(DateTime<Utc>, String)>) -> bool {
    match cursor {
        None => true,
        Some((at, key)) => e.at < *at || (e.at == *at && e.key.as_str() < key.as_str()),
    }
}

/// The timeline of an account or contact the viewer may read (404 otherwise).
pub async fn of_record(
    store: &Store,
    actor: &Access,
    object: &str,
    id: &str,
    p: &Params,
) -> Result<Page, DomainError> {
    let def = access::def_of(object).ok_or(DomainError::NotFound)?;
    records::read_record(store, actor, def, id).await?;
    let all_kinds = kinds();
    for k in &p.kinds {
        if !all_kinds.contains(&k.as_str()) {
            return Err(bad(
                "kinds",
                "invalid_choice",
                format!("kinds may contain: {}", all_kinds.join(", ")),
            ));
        }
    }
    let wants = |k: &str| p.kinds.is_empty() || p.kinds.iter().any(|x| x == k);
    let limit = p.limit.clamp(1, 200);
    let fetch = limit + 1;
    let cursor = p.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut entries: Vec<Entry> = Vec::new();
    // Which contacts the viewer may read (an account's timeline shows theirs), resolved once.
    let contacts_filter = if def.object == ACCOUNTS.object {
        actor.owners(CONTACTS.object, Action::Read)
    } else {
        None
    };
    let deals_filter = if def.object == ACCOUNTS.object {
        actor.owners(objects::OPPORTUNITY, Action::Read)
    } else {
        None
    };

    // Activities on the record; for an account also on its contacts the viewer may read.
    let activity_kinds: Vec<&str> = Kind::ALL
        .iter()
        .map(|k| k.key())
        .filter(|k| wants(k))
        .collect();
    if !activity_kinds.is_empty() {
        let col = |c: &str| Expr::col((t("activities"), t(c)));
        let mut q = activities::select();
        let on_record = Cond::all()
            .add(col("related_type").eq(object))
            .add(col("related_id").eq(id));
        if def.object == ACCOUNTS.object {
            let mut links = Query::select();
            links
                .column(t("contact_id"))
                .from(t("contact_accounts"))
                .and_where(Expr::col(t("account_id")).eq(id));
            if let Some(OwnerFilter::Owners(owners)) = &contacts_filter {
                let mut mine = Query::select();
                mine.column(t("id"))
                    .from(t("contacts"))
                    .and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
                links.and_where(Expr::col(t("contact_id")).in_subquery(mine));
            }
            let mut any = Cond::any().add(on_record);
            if let Some(f) = &deals_filter {
                let mut deals = Query::select();
                deals
                    .column(t("id"))
                    .from(t("opportunities"))
                    .and_where(Expr::col(t("account_id")).eq(id));
                if let OwnerFilter::Owners(owners) = f {
                    deals.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
                }
                any = any.add(
                    Cond::all()
                        .add(col("related_type").eq("opportunity"))
                        .add(col("related_id").in_subquery(deals)),
                );
            }
            if contacts_filter.is_some() {
                any = any.add(
                    Cond::all()
                        .add(col("related_type").eq("contact"))
                        .add(col("related_id").in_subquery(links)),
                );
            }
            q.cond_where(any);
        } else {
            q.cond_where(on_record);
        }
        q.and_where(col("kind").is_in(activity_kinds));
        if let Some((at, key)) = &cursor {
            q.cond_where(
                Cond::any().add(col("at").lt(*at)).add(
                    Cond::all()
                        .add(col("at").eq(*at))
                        .add(col("id").lt(key.clone())),
                ),
            );
        }
        q.order_by((t("activities"), t("at")), Order::Desc)
            .order_by((t("activities"), t("id")), Order::Desc)
            .limit(fetch);
        let rows = all(store.db.reader(), &q).await?;
        let acts = rows.iter().map(row_to).collect::<Result<Vec<_>, _>>()?;
        for (a, label) in activities::labels(store, actor, acts).await? {
            entries.push(Entry {
                at: a.at,
                key: a.id.clone(),
                item: Item::Activity(Box::new(a), label),
            });
        }
    }

    // Field changes, from the audit trail, without fields the viewer may not see.
    if wants(CHANGE) {
        let rows = audit::search_unchecked(
            store,
            &audit::AuditFilter {
                object_type: Some(object.into()),
                object_id: Some(id.into()),
                actions: ["created", "updated", "transferred"]
                    .iter()
                    .map(|v| format!("{object}.{v}"))
                    .collect(),
                until: cursor.as_ref().map(|(at, _)| {
                    (*at + chrono::Duration::milliseconds(1))
                        .to_rfc3339_opts(SecondsFormat::Millis, true)
                }),
                limit: fetch * 2,
                ..Default::default()
            },
        )
        .await?;
        for mut r in rows {
            let Ok(at) = DateTime::parse_from_rfc3339(&r.at) else {
                continue;
            };
            if let Some(Value::Object(changes)) = r.details.get_mut("changes") {
                changes.retain(|field, _| actor.grants.can_read_field(def.object, field));
            }
            if let Some(Value::Object(values)) = r.details.get_mut("values") {
                values.retain(|field, _| actor.grants.can_read_field(def.object, field));
            }
            entries.push(Entry {
                at: at.with_timezone(&Utc),
                key: format!("audit-{:020}", r.seq),
                item: Item::Change(json!({
                    "action": r.action, "actor_id": r.actor_id, "actor_email": r.actor_email,
                    "changes": r.details.get("changes"), "values": r.details.get("values"),
                })),
            });
        }
    }

    // Related records: the contacts of an account the viewer may read, when they were added.
    if wants(RELATED) && def.object == ACCOUNTS.object {
        if let Some(filter) = contacts_filter {
            let mut q = Query::select();
            q.columns([
                (t("contacts"), t("id")),
                (t("contacts"), t("family_name")),
                (t("contacts"), t("given_name")),
                (t("contacts"), t("created_at")),
            ])
            .from(t("contacts"))
            .inner_join(
                t("contact_accounts"),
                Expr::col((t("contact_accounts"), t("contact_id")))
                    .equals((t("contacts"), t("id"))),
            )
            .and_where(Expr::col((t("contact_accounts"), t("account_id"))).eq(id))
            .order_by((t("contacts"), t("created_at")), Order::Desc)
            .limit(fetch * 2);
            if let OwnerFilter::Owners(owners) = filter {
                q.and_where(Expr::col((t("contacts"), t("owner_id"))).is_in(owners));
            }
            if let Some((at, _)) = &cursor {
                q.and_where(Expr::col((t("contacts"), t("created_at"))).lte(*at));
            }
            for r in all(store.db.reader(), &q).await? {
                let cid: String = get(&r, "id")?;
                let name = rapport_core::names::person_name(
                    &get::<Option<String>>(&r, "family_name")?.unwrap_or_default(),
                    &get::<Option<String>>(&r, "given_name")?.unwrap_or_default(),
                );
                entries.push(Entry {
                    at: get(&r, "created_at")?,
                    key: format!("contact-{cid}"),
                    item: Item::Related(json!({
                        "event": "contact.added", "object_type": "contact", "id": cid, "label": name,
                    })),
                });
            }
        }
    }

    if wants(RELATED) && def.object == ACCOUNTS.object {
        related_deals(
            store,
            actor,
            id,
            deals_filter.as_ref(),
            &cursor,
            fetch,
            &mut entries,
        )
        .await?;
    }

    entries.retain(|e| before(e, &cursor));
    entries.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.key.cmp(&a.key)));
    let more = entries.len() as u64 > limit;
    entries.truncate(limit as usize);
    let next_cursor = if more {
        entries
            .last()
            .map(|e| format!("{}~{}", e.at.timestamp_millis(), e.key))
    } else {
        None
    };
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{object}.timeline.read")).object(object, id),
    )
    .await?;
    Ok(Page {
        data: entries,
        next_cursor,
    })
}

/// An account's deals as timeline events: each new opportunity, each stage it entered after
/// its first, and each payment received — only those the viewer may read.
async fn related_deals(
    store: &Store,
    actor: &Access,
    account_id: &str,
    deals: Option<&OwnerFilter>,
    cursor: &Option<(DateTime<Utc>, String)>,
    fetch: u64,
    entries: &mut Vec<Entry>,
) -> Result<(), DomainError> {
    let db = store.db.reader();
    let o = |c: &str| Expr::col((t("opportunities"), t(c)));
    if let Some(filter) = deals {
        let mut q = Query::select();
        q.columns(
            ["id", "name", "amount", "currency", "created_at"].map(|c| (t("opportunities"), t(c))),
        )
        .from(t("opportunities"))
        .and_where(o("account_id").eq(account_id))
        .order_by((t("opportunities"), t("created_at")), Order::Desc)
        .limit(fetch);
        if let OwnerFilter::Owners(owners) = filter {
            q.and_where(o("owner_id").is_in(owners.clone()));
        }
        if let Some((at, _)) = cursor {
            q.and_where(o("created_at").lte(*at));
        }
        for r in all(db, &q).await? {
            let oid: String = get(&r, "id")?;
            let amount = actor
                .grants
                .can_read_field(objects::OPPORTUNITY, "amount")
                .then(|| get::<Option<i64>>(&r, "amount"))
                .transpose()?
                .flatten()
                .map(rapport_core::validate::money_string);
            entries.push(Entry {
                at: get(&r, "created_at")?,
                key: format!("opportunity-{oid}"),
                item: Item::Related(json!({
                    "event": "opportunity.created", "object_type": "opportunity", "id": oid,
                    "label": get::<String>(&r, "name")?, "amount": amount,
                    "currency": get::<Option<String>>(&r, "currency")?,
                })),
            });
        }
        // Stage changes: every stay in a stage but the first of each deal.
        let s = |c: &str| Expr::col((t("opportunity_stages"), t(c)));
        let mut q = Query::select();
        q.columns([
            (t("opportunity_stages"), t("id")),
            (t("opportunity_stages"), t("opportunity_id")),
            (t("opportunity_stages"), t("stage")),
            (t("opportunity_stages"), t("entered_at")),
        ])
        .column((t("opportunities"), t("name")))
        .column((t("opportunities"), t("created_at")))
        .from(t("opportunity_stages"))
        .inner_join(
            t("opportunities"),
            o("id").equals((t("opportunity_stages"), t("opportunity_id"))),
        )
        .and_where(o("account_id").eq(account_id))
        .order_by((t("opportunity_stages"), t("entered_at")), Order::Desc)
        .limit(fetch * 2);
        if let OwnerFilter::Owners(owners) = filter {
            q.and_where(o("owner_id").is_in(owners.clone()));
        }
        if let Some((at, _)) = cursor {
            q.and_where(s("entered_at").lte(*at));
        }
        let pipelines = crate::pipelines::list(db).await?;
        for r in all(db, &q).await? {
            let entered: DateTime<Utc> = get(&r, "entered_at")?;
            let created: DateTime<Utc> = get(&r, "created_at")?;
            if entered <= created {
                continue;
            }
            let key: String = get(&r, "stage")?;
            let (zh, en) = pipelines
                .iter()
                .flat_map(|p| p.stages.iter())
                .find(|st| st.key == key)
                .map_or((key.clone(), key.clone()), |st| {
                    (st.name(true).to_string(), st.name(false).to_string())
                });
            entries.push(Entry {
                at: entered,
                key: format!("stage-{}", get::<String>(&r, "id")?),
                item: Item::Related(json!({
                    "event": "opportunity.stage_changed", "object_type": "opportunity",
                    "id": get::<String>(&r, "opportunity_id")?, "label": get::<String>(&r, "name")?,
                    "stage": key, "stage_zh": zh, "stage_en": en,
                })),
            });
        }
    }
    // Payments received from the account.
    if let Some(filter) = actor.owners(objects::PAYMENT, Action::Read) {
        let mut q = Query::select();
        q.columns(
            [
                "id",
                "number",
                "amount",
                "currency",
                "paid_on",
                "created_at",
            ]
            .map(t),
        )
        .from(t("payments"))
        .and_where(Expr::col(t("account_id")).eq(account_id))
        .order_by(t("created_at"), Order::Desc)
        .limit(fetch);
        if let OwnerFilter::Owners(owners) = filter {
            q.and_where(Expr::col(t("owner_id")).is_in(owners));
        }
        if let Some((at, _)) = cursor {
            q.and_where(Expr::col(t("created_at")).lte(*at));
        }
        for r in all(db, &q).await? {
            let pid: String = get(&r, "id")?;
            entries.push(Entry {
                at: get(&r, "created_at")?,
                key: format!("payment-{pid}"),
                item: Item::Related(json!({
                    "event": "payment.received", "object_type": "payment", "id": pid,
                    "label": get::<Option<String>>(&r, "number")?,
                    "amount": get::<Option<i64>>(&r, "amount")?.map(rapport_core::validate::money_string),
                    "currency": get::<Option<String>>(&r, "currency")?,
                    "paid_on": get::<Option<String>>(&r, "paid_on")?,
                })),
            });
        }
    }
    Ok(())
}

impl Entry {
    pub fn to_json(&self) -> Value {
        let mut v = match &self.item {
            Item::Activity(a, label) => {
                json!({"type": "activity", "activity": a.to_json(label.as_deref())})
            }
            Item::Change(c) => json!({"type": CHANGE, "change": c}),
            Item::Related(r) => json!({"type": RELATED, "related": r}),
        };
        v["at"] = Value::String(self.at.to_rfc3339_opts(SecondsFormat::Millis, true));
        v
    }
}
