//! Sales pipelines: ordered stages with a win probability each, as administrators configure
//! them. What an opportunity does with them (stage rules, stage history, the kanban board)
//! lives with the opportunity type in `objects::opportunity`.

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{ids, DomainError, FieldError};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde::{Deserialize, Serialize};
use serde_json::json;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn key(self) -> &'static str {
        match self {
            StageKind::Open => "open",
            StageKind::Won => "won",
            StageKind::Lost => "lost",
        }
    }
    fn parse(s: &str) -> Option<StageKind> {
        [StageKind::Open, StageKind::Won, StageKind::Lost]
            .into_iter()
            .find(|k| k.key() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    pub probability: i64,
    pub kind: StageKind,
}

impl Stage {
    pub fn name(&self, zh: bool) -> &str {
        if zh {
            &self.name_zh
        } else {
            &self.name_en
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub id: String,
    pub name_en: String,
    pub name_zh: String,
    pub is_default: bool,
    pub active: bool,
    pub stale_days: i64,
    pub stages: Vec<Stage>,
}

impl Pipeline {
    pub fn stage(&self, key: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.key == key)
    }
    pub fn name(&self, zh: bool) -> &str {
        if zh {
            &self.name_zh
        } else {
            &self.name_en
        }
    }
}

/// The default pipeline: 潜在客户 10%, 需求分析 25%, 方案提供 50%, 谈判 75%, 成交, 输单.
pub const DEFAULT_STAGES: &[(&str, &str, &str, i64, StageKind)] = &[
    (
        "prospecting",
        "Prospecting",
        "潜在客户",
        10,
        StageKind::Open,
    ),
    (
        "needs_analysis",
        "Needs analysis",
        "需求分析",
        25,
        StageKind::Open,
    ),
    ("proposal", "Proposal", "方案提供", 50, StageKind::Open),
    ("negotiation", "Negotiation", "谈判", 75, StageKind::Open),
    ("won", "Won", "成交", 100, StageKind::Won),
    ("lost", "Lost", "输单", 0, StageKind::Lost),
];

async fn insert_stages<C: ConnectionTrait>(
    c: &C,
    pipeline_id: &str,
    stages: &[Stage],
) -> Result<(), DomainError> {
    for (pos, s) in stages.iter().enumerate() {
        exec(
            c,
            Query::insert()
                .into_table(t("pipeline_stages"))
                .columns(
                    [
                        "id",
                        "pipeline_id",
                        "key",
                        "name_en",
                        "name_zh",
                        "position",
                        "probability",
                        "kind",
                    ]
                    .map(t),
                )
                .values_panic([
                    ids::new_id().into(),
                    pipeline_id.into(),
                    s.key.clone().into(),
                    s.name_en.clone().into(),
                    s.name_zh.clone().into(),
                    (pos as i32).into(),
                    (s.probability as i32).into(),
                    s.kind.key().into(),
                ]),
        )
        .await?;
    }
    Ok(())
}

/// Create the default pipeline if there is none (migration seed).
pub(crate) async fn seed_default(
    tx: &DatabaseTransaction,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    if one(
        tx,
        Query::select()
            .column(t("id"))
            .from(t("pipelines"))
            .limit(1),
    )
    .await?
    .is_some()
    {
        return Ok(());
    }
    let draft = PipelineDraft {
        name_en: "Sales".into(),
        name_zh: "销售流程".into(),
        is_default: true,
        active: true,
        stale_days: fourteen(),
        stages: DEFAULT_STAGES
            .iter()
            .map(|(key, en, zh, p, kind)| Stage {
                key: key.to_string(),
                name_en: en.to_string(),
                name_zh: zh.to_string(),
                probability: *p,
                kind: *kind,
            })
            .collect(),
    };
    insert_pipeline(tx, &ids::new_id(), &draft, now).await
}

/// Insert a pipeline row and its stages.
async fn insert_pipeline<C: ConnectionTrait>(
    c: &C,
    id: &str,
    d: &PipelineDraft,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::insert()
            .into_table(t("pipelines"))
            .columns(
                [
                    "id",
                    "name_en",
                    "name_zh",
                    "position",
                    "is_default",
                    "active",
                    "stale_days",
                    "created_at",
                    "updated_at",
                ]
                .map(t),
            )
            .values_panic([
                id.into(),
                d.name_en.trim().into(),
                d.name_zh.trim().into(),
                0.into(),
                d.is_default.into(),
                (d.active || d.is_default).into(),
                (d.stale_days as i32).into(),
                now.into(),
                now.into(),
            ]),
    )
    .await?;
    insert_stages(c, id, &d.stages).await
}

/// Every pipeline with its stages, default first.
pub async fn list<C: ConnectionTrait>(c: &C) -> Result<Vec<Pipeline>, DomainError> {
    let rows = all(
        c,
        Query::select()
            .columns(
                [
                    "id",
                    "name_en",
                    "name_zh",
                    "is_default",
                    "active",
                    "stale_days",
                ]
                .map(t),
            )
            .from(t("pipelines"))
            .order_by(t("is_default"), Order::Desc)
            .order_by(t("position"), Order::Asc)
            .order_by(t("name_en"), Order::Asc),
    )
    .await?;
    let stage_rows = all(
        c,
        Query::select()
            .columns(
                [
                    "pipeline_id",
                    "key",
                    "name_en",
                    "name_zh",
                    "probability",
                    "kind",
                ]
                .map(t),
            )
            .from(t("pipeline_stages"))
            .order_by(t("pipeline_id"), Order::Asc)
            .order_by(t("position"), Order::Asc),
    )
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let id: String = get(r, "id")?;
        let mut stages = Vec::new();
        for s in &stage_rows {
            if get::<String>(s, "pipeline_id")? != id {
                continue;
            }
            let kind: String = get(s, "kind")?;
            stages.push(Stage {
                key: get(s, "key")?,
                name_en: get(s, "name_en")?,
                name_zh: get(s, "name_zh")?,
                probability: i64::from(get::<i32>(s, "probability")?),
                kind: StageKind::parse(&kind).unwrap_or(StageKind::Open),
            });
        }
        out.push(Pipeline {
            id,
            name_en: get(r, "name_en")?,
            name_zh: get(r, "name_zh")?,
            is_default: get(r, "is_default")?,
            active: get(r, "active")?,
            stale_days: i64::from(get::<i32>(r, "stale_days")?),
            stages,
        });
    }
    Ok(out)
}

/// One pipeline by id.
pub async fn find<C: ConnectionTrait>(c: &C, id: &str) -> Result<Option<Pipeline>, DomainError> {
    Ok(list(c).await?.into_iter().find(|p| p.id == id))
}

/// The pipeline new opportunities go into when none is named.
pub async fn default_pipeline<C: ConnectionTrait>(c: &C) -> Result<Pipeline, DomainError> {
    default_of(&list(c).await?).cloned()
}

/// The default pipeline among `all` (the first active one if none is marked default).
pub fn default_of(all: &[Pipeline]) -> Result<&Pipeline, DomainError> {
    all.iter()
        .find(|p| p.is_default && p.active)
        .or_else(|| all.iter().find(|p| p.active))
        .ok_or_else(|| DomainError::Conflict("there is no active sales pipeline".into()))
}

/// What an administrator sends to create or change a pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineDraft {
    pub name_en: String,
    pub name_zh: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default = "fourteen")]
    pub stale_days: i64,
    pub stages: Vec<Stage>,
}

fn yes() -> bool {
    true
}
fn fourteen() -> i64 {
    14
}

fn check_draft(d: &PipelineDraft) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    for (name, v) in [("name_en", &d.name_en), ("name_zh", &d.name_zh)] {
        if v.trim().is_empty() || v.chars().count() > 100 {
            errors.push(FieldError::new(
                name,
                "required",
                format!("{name} must be 1-100 characters"),
            ));
        }
    }
    if !(1..=365).contains(&d.stale_days) {
        errors.push(FieldError::new(
            "stale_days",
            "out_of_range",
            "stale_days must be between 1 and 365",
        ));
    }
    if d.stages.len() < 2 || d.stages.len() > 20 {
        errors.push(FieldError::new(
            "stages",
            "invalid",
            "a pipeline has 2 to 20 stages",
        ));
    }
    let mut seen = Vec::new();
    for (i, s) in d.stages.iter().enumerate() {
        let f = |n: &str| format!("stages[{i}].{n}");
        if s.key.is_empty()
            || s.key.len() > 64
            || !s
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            errors.push(FieldError::new(
                f("key"),
                "invalid",
                "a stage key is 1-64 lowercase letters, digits or _",
            ));
        }
        if seen.contains(&&s.key) {
            errors.push(FieldError::new(
                f("key"),
                "repeated",
                format!("stage {} appears twice", s.key),
            ));
        }
        seen.push(&s.key);
        for (n, v) in [("name_en", &s.name_en), ("name_zh", &s.name_zh)] {
            if v.trim().is_empty() || v.chars().count() > 60 {
                errors.push(FieldError::new(
                    f(n),
                    "required",
                    "a stage name is 1-60 characters",
                ));
            }
        }
        if !(0..=100).contains(&s.probability) {
            errors.push(FieldError::new(
                f("probability"),
                "out_of_range",
                "probability must be between 0 and 100",
            ));
        }
    }
    for kind in [StageKind::Won, StageKind::Lost] {
        if d.stages.iter().filter(|s| s.kind == kind).count() != 1 {
            errors.push(FieldError::new(
                "stages",
                "invalid",
                format!("a pipeline has exactly one {} stage", kind.key()),
            ));
        }
    }
    if !d.stages.iter().any(|s| s.kind == StageKind::Open) {
        errors.push(FieldError::new(
            "stages",
            "invalid",
            "a pipeline needs an open stage",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// The settings right over all (the API asks before reading a body).
pub fn may_change(actor: &Access) -> Result<(), DomainError> {
    crate::settings::may_change(actor, "changing pipelines")
}

/// Create (`id` None) or replace a pipeline. A stage that opportunities are in cannot be
/// removed; only one pipeline is the default.
pub async fn save(
    store: &Store,
    actor: &Access,
    id: Option<&str>,
    draft: &PipelineDraft,
) -> Result<Pipeline, DomainError> {
    may_change(actor)?;
    check_draft(draft)?;
    let before = match id {
        Some(id) => Some(
            find(store.db.reader(), id)
                .await?
                .ok_or(DomainError::NotFound)?,
        ),
        None => None,
    };
    let id = before.as_ref().map_or_else(ids::new_id, |p| p.id.clone());
    let now = store.now();
    let tx = store.db.begin().await?;
    if let Some(b) = &before {
        for s in &b.stages {
            if draft.stages.iter().any(|d| d.key == s.key) {
                continue;
            }
            let used = one(
                &tx,
                Query::select()
                    .column(t("id"))
                    .from(t("opportunities"))
                    .and_where(Expr::col(t("pipeline_id")).eq(id.as_str()))
                    .and_where(Expr::col(t("stage")).eq(s.key.as_str()))
                    .limit(1),
            )
            .await?;
            if used.is_some() {
                return Err(DomainError::field(
                    "stages",
                    "stage_in_use",
                    format!(
                        "opportunities are in stage {}; move them before removing it",
                        s.key
                    ),
                ));
            }
        }
        if b.is_default && !draft.is_default {
            return Err(DomainError::field(
                "is_default",
                "invalid",
                "make another pipeline the default instead",
            ));
        }
    }
    if draft.is_default {
        exec(
            &tx,
            Query::update()
                .table(t("pipelines"))
                .value(t("is_default"), false),
        )
        .await?;
    }
    let is_default = draft.is_default;
    if before.is_some() {
        exec(
            &tx,
            Query::update()
                .table(t("pipelines"))
                .value(t("name_en"), draft.name_en.trim())
                .value(t("name_zh"), draft.name_zh.trim())
                .value(t("is_default"), is_default)
                .value(t("active"), draft.active || is_default)
                .value(t("stale_days"), draft.stale_days as i32)
                .value(t("updated_at"), now)
                .and_where(Expr::col(t("id")).eq(id.as_str())),
        )
        .await?;
        exec(
            &tx,
            Query::delete()
                .from_table(t("pipeline_stages"))
                .and_where(Expr::col(t("pipeline_id")).eq(id.as_str())),
        )
        .await?;
        insert_stages(&tx, &id, &draft.stages).await?;
    } else {
        insert_pipeline(&tx, &id, draft, now).await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(if before.is_some() {
            "settings.pipeline_changed"
        } else {
            "settings.pipeline_created"
        })
        .object("pipeline", &id)
        .details(json!({"name_en": draft.name_en, "stages": draft.stages.iter().map(|s| &s.key).collect::<Vec<_>>()})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    find(store.db.reader(), &id)
        .await?
        .ok_or(DomainError::NotFound)
}
