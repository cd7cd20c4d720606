//! An opportunity's pipeline and stage: the fields that follow the stage, and the stage
//! history written when it enters one.

use crate::access::Access;
use crate::pipelines::{default_of, Pipeline, StageKind};
use crate::records::Record;
use crate::{audit, Store};
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldValue;
use rapport_core::{ids, DomainError};
use rapport_db::{all, exec, get};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use std::collections::BTreeMap;

type Values = BTreeMap<&'static str, FieldValue>;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn text<'a>(v: &'a Values, name: &str) -> Option<&'a str> {
    match v.get(name) {
        Some(FieldValue::Text(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

/// Fill in and check an opportunity's pipeline and stage, and make the fields that follow the
/// stage (probability, status, closed and entered times) agree with it. Returns whether the
/// opportunity enters a stage with this write (so the caller records it in the history).
/// `pipelines` is every pipeline (`pipelines::list`), read once by the caller.
pub fn prepare_opportunity(
    pipelines: &[Pipeline],
    before: Option<&Record>,
    after: &mut Values,
    probability_given: bool,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let pipeline = match text(after, "pipeline_id") {
        Some(id) => pipelines.iter().find(|p| p.id == id).ok_or_else(|| {
            DomainError::field(
                "pipeline_id",
                "invalid_reference",
                "pipeline_id does not name a pipeline",
            )
        })?,
        None if before.is_none() => default_of(pipelines)?,
        None => {
            return Err(DomainError::field(
                "pipeline_id",
                "required",
                "an opportunity must be in a pipeline",
            ))
        }
    };
    let pipeline_changed = before.is_none_or(|b| b.text("pipeline_id") != Some(&pipeline.id));
    if pipeline_changed && !pipeline.active {
        return Err(DomainError::field(
            "pipeline_id",
            "inactive",
            "that pipeline is no longer in use",
        ));
    }
    after.insert("pipeline_id", FieldValue::Text(pipeline.id.clone()));
    let stage_key = match text(after, "stage") {
        Some(s) => s.to_string(),
        None if before.is_none() => pipeline
            .stages
            .iter()
            .find(|s| s.kind == StageKind::Open)
            .map(|s| s.key.clone())
            .unwrap_or_default(),
        None => {
            return Err(DomainError::field(
                "stage",
                "required",
                "an opportunity must be in a stage",
            ))
        }
    };
    let Some(stage) = pipeline.stage(&stage_key) else {
        let keys: Vec<&str> = pipeline.stages.iter().map(|s| s.key.as_str()).collect();
        return Err(DomainError::field(
            "stage",
            "invalid_choice",
            format!(
                "{stage_key} is not a stage of this pipeline (one of: {})",
                keys.join(", ")
            ),
        ));
    };
    after.insert("stage", FieldValue::Text(stage.key.clone()));
    let entered = pipeline_changed || before.is_none_or(|b| b.text("stage") != Some(&stage.key));
    if entered {
        after.insert("stage_entered_at", FieldValue::DateTime(now));
        after.insert("status", FieldValue::Text(stage.kind.key().into()));
        after.insert(
            "closed_at",
            if stage.kind == StageKind::Open {
                FieldValue::Null
            } else {
                FieldValue::DateTime(now)
            },
        );
        if !probability_given {
            after.insert("probability", FieldValue::Int(stage.probability));
        }
    }
    if stage.kind == StageKind::Lost {
        if text(after, "lost_reason").is_none() {
            return Err(DomainError::field(
                "lost_reason",
                "required",
                "say why the opportunity was lost",
            ));
        }
    } else if entered {
        after.insert("lost_reason", FieldValue::Null);
    }
    Ok(entered)
}

/// Close the stage the opportunity was in and open the one it enters (in the write's
/// transaction): the history from which time in stage is known.
pub async fn record_stage<C: ConnectionTrait>(
    c: &C,
    opportunity_id: &str,
    after: &Values,
    actor_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::update()
            .table(t("opportunity_stages"))
            .value(t("left_at"), now)
            .and_where(Expr::col(t("opportunity_id")).eq(opportunity_id))
            .and_where(Expr::col(t("left_at")).is_null()),
    )
    .await?;
    exec(
        c,
        Query::insert()
            .into_table(t("opportunity_stages"))
            .columns(
                [
                    "id",
                    "opportunity_id",
                    "pipeline_id",
                    "stage",
                    "entered_at",
                    "entered_by",
                ]
                .map(t),
            )
            .values_panic([
                ids::new_id().into(),
                opportunity_id.into(),
                text(after, "pipeline_id").unwrap_or_default().into(),
                text(after, "stage").unwrap_or_default().into(),
                now.into(),
                actor_id.into(),
            ]),
    )
    .await?;
    Ok(())
}

/// One stay of an opportunity in a stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageVisit {
    pub pipeline_id: String,
    pub stage: String,
    pub entered_at: chrono::DateTime<chrono::Utc>,
    pub left_at: Option<chrono::DateTime<chrono::Utc>>,
    pub entered_by: Option<String>,
    /// Time in the stage so far (until it was left, or until now), in seconds.
    pub seconds: i64,
}

/// The stage history of an opportunity the actor may read, oldest first.
pub async fn stage_history(
    store: &Store,
    actor: &Access,
    opportunity_id: &str,
) -> Result<Vec<StageVisit>, DomainError> {
    crate::records::read_record(store, actor, &super::OPPORTUNITIES, opportunity_id).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("opportunity.stage_history.read").object("opportunity", opportunity_id),
    )
    .await?;
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns(
                [
                    "pipeline_id",
                    "stage",
                    "entered_at",
                    "left_at",
                    "entered_by",
                ]
                .map(t),
            )
            .from(t("opportunity_stages"))
            .and_where(Expr::col(t("opportunity_id")).eq(opportunity_id))
            .order_by(t("entered_at"), Order::Asc)
            .order_by(t("id"), Order::Asc),
    )
    .await?;
    let now = store.now();
    rows.iter()
        .map(|r| {
            let entered_at: chrono::DateTime<chrono::Utc> = get(r, "entered_at")?;
            let left_at: Option<chrono::DateTime<chrono::Utc>> = get(r, "left_at")?;
            Ok(StageVisit {
                pipeline_id: get(r, "pipeline_id")?,
                stage: get(r, "stage")?,
                seconds: (left_at.unwrap_or(now) - entered_at).num_seconds().max(0),
                entered_at,
                left_at,
                entered_by: get(r, "entered_by")?,
            })
        })
        .collect()
}
