//! Contract approval (合同审批). Submitting a draft or rejected contract starts a round of the
//! steps the settings name (the owner's manager; finance above an amount; a named user or
//! role), each decided by one of its approvers in order. Nobody approves a contract they
//! submitted or own. Every step is audited and everyone involved is notified in the app.

mod round;

pub use round::{decide, submit, terminate};

use crate::access::Access;
use crate::objects;
use crate::objects::CONTRACTS;
use crate::records;
use crate::{audit, notifications, outbox, Store};
use chrono::{DateTime, Utc};
use rapport_core::{ids, validate, Action, DomainError, FieldError};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

const SETTING_KEY: &str = "contract_approval";

/// Notification kinds.
pub use crate::notifications::{
    APPROVAL_REQUESTED as REQUESTED, CONTRACT_APPROVED as APPROVED, CONTRACT_REJECTED as REJECTED,
};

/// One step of the approval flow as the settings keep it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepRule {
    /// `manager` (the owner's manager), `user:<id>` or `role:<role key>`.
    pub approver: String,
    /// The step applies to contracts of at least this amount ("500000.00"); always if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub steps: Vec<StepRule>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            steps: vec![
                StepRule {
                    approver: "manager".into(),
                    min_amount: None,
                },
                StepRule {
                    approver: "role:finance".into(),
                    min_amount: Some("500000.00".into()),
                },
            ],
        }
    }
}

fn check_flow(flow: &Flow) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    if flow.steps.is_empty() || flow.steps.len() > 10 {
        errors.push(FieldError::new(
            "steps",
            "invalid",
            "an approval flow has 1 to 10 steps",
        ));
    }
    for (i, s) in flow.steps.iter().enumerate() {
        let ok = s.approver == "manager"
            || s.approver
                .strip_prefix("user:")
                .is_some_and(ids::is_valid_id)
            || s.approver.strip_prefix("role:").is_some_and(|k| {
                !k.is_empty()
                    && k.len() <= 64
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !ok {
            errors.push(FieldError::new(
                format!("steps[{i}].approver"),
                "invalid",
                "approver is manager, user:<user id> or role:<role key>",
            ));
        }
        if let Some(m) = &s.min_amount {
            if validate::money_minor(&json!(m)).is_err() {
                errors.push(FieldError::new(
                    format!("steps[{i}].min_amount"),
                    "invalid_amount",
                    "min_amount must be an amount such as \"500000.00\"",
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// The approval flow in force.
pub async fn flow(store: &Store) -> Result<Flow, DomainError> {
    Ok(crate::settings::read(store.db.reader(), SETTING_KEY)
        .await?
        .unwrap_or_default())
}

/// The approval flow, for someone with the settings right.
pub async fn read_flow(store: &Store, actor: &Access) -> Result<Flow, DomainError> {
    crate::settings::may_read(actor)?;
    flow(store).await
}

/// Replace the approval flow (settings right; audited).
pub async fn set_flow(store: &Store, actor: &Access, new: Flow) -> Result<Flow, DomainError> {
    may_change(actor)?;
    check_flow(&new)?;
    let before = flow(store).await?;
    crate::settings::replace(
        store,
        actor,
        SETTING_KEY,
        "settings.approval_flow_changed",
        &before,
        &new,
    )
    .await?;
    Ok(new)
}

/// One step of one submission.
#[derive(Debug, Clone, Serialize)]
pub struct StepState {
    pub id: String,
    pub contract_id: String,
    pub round: i32,
    pub step: i32,
    pub rule: String,
    pub approvers: Vec<String>,
    pub submitted_by: Option<String>,
    /// approved, rejected, or null while waiting (or never reached after a rejection).
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

const STEP_COLS: [&str; 12] = [
    "id",
    "contract_id",
    "round",
    "step",
    "rule",
    "approvers",
    "submitted_by",
    "decision",
    "decided_by",
    "comment",
    "created_at",
    "decided_at",
];

fn row_to_step(r: &sea_orm::QueryResult) -> Result<StepState, DomainError> {
    let approvers: String = get(r, "approvers")?;
    Ok(StepState {
        id: get(r, "id")?,
        contract_id: get(r, "contract_id")?,
        round: get(r, "round")?,
        step: get(r, "step")?,
        rule: get(r, "rule")?,
        approvers: serde_json::from_str(&approvers).unwrap_or_default(),
        submitted_by: get(r, "submitted_by")?,
        decision: get(r, "decision")?,
        decided_by: get(r, "decided_by")?,
        comment: get(r, "comment")?,
        created_at: get(r, "created_at")?,
        decided_at: get(r, "decided_at")?,
    })
}

async fn steps_of<C: ConnectionTrait>(
    c: &C,
    contract_id: &str,
) -> Result<Vec<StepState>, DomainError> {
    steps_of_many(c, &[contract_id.to_string()]).await
}

/// The steps of several contracts in one query, by round and step.
async fn steps_of_many<C: ConnectionTrait>(
    c: &C,
    contract_ids: &[String],
) -> Result<Vec<StepState>, DomainError> {
    all(
        c,
        Query::select()
            .columns(STEP_COLS.map(t))
            .from(t("contract_approvals"))
            .and_where(Expr::col(t("contract_id")).is_in(contract_ids.to_vec()))
            .order_by(t("contract_id"), Order::Asc)
            .order_by(t("round"), Order::Asc)
            .order_by(t("step"), Order::Asc),
    )
    .await?
    .iter()
    .map(row_to_step)
    .collect()
}

/// The step waiting for a decision: the first undecided step of the latest round, if no step
/// of that round was rejected.
fn current(steps: &[StepState]) -> Option<&StepState> {
    let round = steps.iter().map(|s| s.round).max()?;
    let this: Vec<&StepState> = steps.iter().filter(|s| s.round == round).collect();
    if this
        .iter()
        .any(|s| s.decision.as_deref() == Some("rejected"))
    {
        return None;
    }
    this.into_iter().find(|s| s.decision.is_none())
}

async fn is_active_user(store: &Store, id: &str) -> Result<bool, DomainError> {
    Ok(crate::users::get_user(store, id)
        .await?
        .is_some_and(|u| u.active))
}

/// Who may decide a step: the rule's users minus the submitter and the owner; administrators
/// stand in when nobody else is left.
async fn resolve(
    store: &Store,
    rule: &str,
    owner: &str,
    submitter: &str,
) -> Result<Vec<String>, DomainError> {
    let mut people = if rule == "manager" {
        let manager = crate::access::org::tree(store)
            .await?
            .member(owner)
            .and_then(|m| m.manager_id.clone());
        match manager {
            Some(m) if is_active_user(store, &m).await? => vec![m],
            _ => Vec::new(),
        }
    } else if let Some(id) = rule.strip_prefix("user:") {
        if is_active_user(store, id).await? {
            vec![id.to_string()]
        } else {
            Vec::new()
        }
    } else if let Some(key) = rule.strip_prefix("role:") {
        crate::users::role_members(store, key).await?
    } else {
        Vec::new()
    };
    people.retain(|p| p != owner && p != submitter);
    if people.is_empty() {
        people = crate::users::role_members(store, "administrator").await?;
        people.retain(|p| p != owner && p != submitter);
    }
    Ok(people)
}

/// A notification about a contract, sent to several people.
struct Note<'a> {
    kind: &'static str,
    contract_id: &'a str,
    subject: &'a str,
    payload: Value,
}

async fn notify_all<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    users: &[String],
    actor: &Access,
    note: Note<'_>,
) -> Result<(), DomainError> {
    for u in users {
        if *u == actor.user_id {
            continue;
        }
        notifications::notify(
            c,
            now,
            notifications::NewNotification {
                user_id: u.clone(),
                kind: note.kind,
                subject: note.subject.to_string(),
                object: Some(("contract".into(), note.contract_id.to_string())),
                actor_id: Some(actor.user_id.clone()),
                payload: note.payload.clone(),
                dedupe_key: None,
            },
        )
        .await?;
    }
    Ok(())
}

async fn set_status<C: ConnectionTrait>(
    c: &C,
    id: &str,
    status: &str,
    now: DateTime<Utc>,
    stamp: Option<&str>,
) -> Result<(), DomainError> {
    let mut q = Query::update();
    q.table(t("contracts"))
        .value(t("status"), status)
        .value(t("updated_at"), now)
        .value(t("version"), Expr::col(t("version")).add(1))
        .and_where(Expr::col(t("id")).eq(id));
    if let Some(col) = stamp {
        q.value(t(col), now);
    }
    exec(c, &q).await?;
    Ok(())
}

/// The approval history of a contract the actor may read (or is an approver of).
pub async fn history(
    store: &Store,
    actor: &Access,
    contract_id: &str,
) -> Result<Vec<StepState>, DomainError> {
    if !ids::is_valid_id(contract_id) {
        return Err(DomainError::NotFound);
    }
    let steps = steps_of(store.db.reader(), contract_id).await?;
    let approver = steps.iter().any(|s| s.approvers.contains(&actor.user_id));
    if !approver {
        records::read_record(store, actor, &CONTRACTS, contract_id).await?;
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("contract.approvals.read").object("contract", contract_id),
    )
    .await?;
    Ok(steps)
}

/// A contract waiting for the actor's decision.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub step: StepState,
    pub number: Option<String>,
    pub name: String,
    pub account_id: String,
    pub amount: String,
    pub currency: String,
    pub owner_id: Option<String>,
}

/// Contracts waiting for the actor's decision, oldest first.
pub async fn pending_for(store: &Store, actor: &Access) -> Result<Vec<Pending>, DomainError> {
    // Ids are uuids stored as a JSON array of strings: a quoted id cannot match by accident.
    let rows = all(
        store.db.reader(),
        Query::select()
            .column(t("contract_id"))
            .from(t("contract_approvals"))
            .and_where(Expr::col(t("decision")).is_null())
            .and_where(Expr::col(t("approvers")).like(format!("%\"{}\"%", actor.user_id)))
            .order_by(t("created_at"), Order::Asc)
            .limit(500),
    )
    .await?;
    // Each contract once, oldest request first; then all their steps and the contracts in
    // one query each.
    let mut ids: Vec<String> = Vec::new();
    for r in rows {
        let cid: String = get(&r, "contract_id")?;
        if !ids.contains(&cid) {
            ids.push(cid);
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let steps = steps_of_many(store.db.reader(), &ids).await?;
    let contracts = all(
        store.db.reader(),
        Query::select()
            .columns(
                [
                    "id",
                    "number",
                    "name",
                    "account_id",
                    "amount",
                    "currency",
                    "owner_id",
                ]
                .map(t),
            )
            .from(t("contracts"))
            .and_where(Expr::col(t("id")).is_in(ids.clone())),
    )
    .await?;
    let mut out = Vec::new();
    for cid in &ids {
        let mine: Vec<StepState> = steps
            .iter()
            .filter(|s| s.contract_id == *cid)
            .cloned()
            .collect();
        let Some(step) = current(&mine).filter(|s| s.approvers.contains(&actor.user_id)) else {
            continue;
        };
        let mut found = None;
        for r in &contracts {
            if get::<String>(r, "id")? == *cid {
                found = Some(r);
            }
        }
        let Some(c) = found else { continue };
        out.push(Pending {
            step: step.clone(),
            number: get(c, "number")?,
            name: get(c, "name")?,
            account_id: get(c, "account_id")?,
            amount: validate::money_string(get::<Option<i64>>(c, "amount")?.unwrap_or(0)),
            currency: get::<Option<String>>(c, "currency")?.unwrap_or_else(|| "CNY".into()),
            owner_id: get(c, "owner_id")?,
        });
    }
    Ok(out)
}

/// Changing the approval flow needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing the approval flow")
}
