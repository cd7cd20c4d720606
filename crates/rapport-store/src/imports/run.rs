//! Running an import: one batch of rows per job, in one transaction with the checkpoint, the
//! counts, the failed rows and the next batch's job. A batch interrupted by a crash is rolled
//! back whole and run again after restart; a batch that committed is never run twice (the
//! checkpoint is checked and moved in the same transaction).

use super::{load, mapping, rows_between, Import, Mapping};
use crate::db::{db_err, exec};
use crate::records::{self, duplicates, ObjectDef, Preset, WriteOptions};
use crate::scope::owner_filter;
use crate::{audit, jobs, notifications, users, Store};
use chrono::{DateTime, Utc};
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::input::{self, Mode};
use rapport_core::{validate, Action, DomainError, Object, Principal};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The job kind of one batch.
pub const IMPORT_JOB: &str = "import.batch";
/// Rows per batch (one transaction).
const BATCH: i64 = 500;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub(super) async fn enqueue<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    id: &str,
    run: &str,
    after: i64,
) -> Result<(), DomainError> {
    jobs::enqueue(c, now, super::jobs_new(id, run, after, now)).await?;
    Ok(())
}

/// The importing user as a principal with their current rights.
pub(crate) async fn principal_of(store: &Store, user_id: &str) -> Result<Principal, DomainError> {
    let user = users::get_user(store, user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| DomainError::Conflict("the importing user is no longer active".into()))?;
    let (grants, _) = users::grants_of(store.db.reader(), user_id).await?;
    Ok(Principal {
        user_id: user.id,
        email: user.email,
        department_id: user.department_id,
        grants,
        session_id: None,
        token_id: None,
        read_only: false,
        viewed_by: None,
        ip: None,
        user_agent: None,
    })
}

/// What happened to one row.
enum Outcome {
    Created(String),
    Updated(String),
    Skipped,
}

/// A domain error as the error file explains it; a field is named by its key and both its
/// labels (the file is read in either language).
fn reason(e: &DomainError) -> String {
    match e {
        DomainError::Validation(errs) => errs
            .iter()
            .map(|f| {
                let base = f.field.split(['.', '[']).next().unwrap_or(&f.field);
                let label = rapport_core::Object::RECORDS
                    .iter()
                    .find_map(|o| rapport_core::objects::field(*o, base))
                    .map(|s| format!(" ({} / {})", s.label_zh, s.label_en))
                    .unwrap_or_default();
                format!("{}{label}: {}", f.field, f.message)
            })
            .collect::<Vec<_>>()
            .join("; "),
        DomainError::Duplicate { rule, matches, .. } => {
            let label = matches
                .iter()
                .find_map(|m| m["label"].as_str())
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            format!("duplicate of an existing record by {rule}{label}")
        }
        DomainError::Forbidden(m) | DomainError::Conflict(m) => m.clone(),
        DomainError::NotFound => "a record it names was not found".into(),
        other => other.to_string(),
    }
}

/// Everything one batch needs that does not change between rows.
struct Ctx<'a> {
    store: &'a Store,
    actor: &'a Principal,
    def: &'static ObjectDef,
    mapping: &'a Mapping,
    kinds: HashMap<String, FieldKind>,
    /// user id, email and name → user id (owner columns)
    users: HashMap<String, String>,
    /// The accounts the importer may read (for `account_name`), resolved once per batch.
    accounts: Option<crate::scope::OwnerFilter>,
    /// picklist field → (label in either language or value, lower case → value)
    choices: HashMap<String, HashMap<String, String>>,
    dry: bool,
}

impl Ctx<'_> {
    /// The row as the API document a save takes, with owner and account names resolved.
    async fn doc(&self, cells: &[String]) -> Result<Map<String, Value>, String> {
        let mut doc = mapping::row_doc(self.mapping, cells, |f| self.kinds.get(f).copied());
        // Picklist cells may hold a label as people read it (制造业, Manufacturing).
        for (field, labels) in &self.choices {
            if let Some(Value::String(v)) = doc.get(field) {
                if let Some(value) = labels.get(&v.to_lowercase()) {
                    doc.insert(field.clone(), json!(value));
                }
            }
        }
        if let Some(Value::String(owner)) = doc.get("owner_id").cloned() {
            let found = self
                .users
                .get(&owner)
                .or_else(|| self.users.get(&owner.to_lowercase()));
            match found {
                Some(id) => {
                    doc.insert("owner_id".into(), json!(id));
                }
                None => return Err(format!("owner_id: no user {owner}")),
            }
        }
        if let Some(Value::String(name)) = doc.remove("account_name") {
            let norm = validate::company_name_norm(&name);
            let filter = self
                .accounts
                .clone()
                .ok_or_else(|| "you may not read accounts".to_string())?;
            let mut q = Query::select();
            q.column(t("id"))
                .from(t("accounts"))
                .and_where(Expr::col(t("name_norm")).eq(norm))
                .limit(1);
            if let crate::scope::OwnerFilter::Owners(o) = filter {
                q.and_where(Expr::col(t("owner_id")).is_in(o));
            }
            match crate::db::one(self.store.db.reader(), &q)
                .await
                .map_err(|e| reason(&e))?
            {
                Some(r) => {
                    let id: String = crate::db::get(&r, "id").map_err(|e| reason(&e))?;
                    doc.insert("account_ids".into(), json!([id]));
                }
                None => return Err(format!("account_name: no account {name} that you can see")),
            }
        }
        Ok(doc)
    }

    /// The match key of a row (normalised as a save would), if the mapping matches on one.
    fn key(
        &self,
        doc: &Map<String, Value>,
    ) -> Option<(BTreeMap<&'static str, FieldValue>, String)> {
        let rule = self.mapping.match_on.as_str();
        if rule == "none" {
            return None;
        }
        let field = match rule {
            "phone" if self.def.object != Object::Account => "mobile",
            other => other,
        };
        // Only the key is read here: the rest of the row is checked by the save itself.
        let mut one = Map::new();
        one.insert(field.to_string(), doc.get(field)?.clone());
        let parsed = input::read(
            self.def.fields,
            &one,
            Mode::Update,
            &self.store.parse_context(),
            &[],
        )
        .ok()?;
        let values: BTreeMap<&'static str, FieldValue> = parsed
            .values
            .iter()
            .map(|(s, v)| (s.name, v.clone()))
            .collect();
        match values.get(field) {
            Some(FieldValue::Text(s)) if !s.is_empty() => {
                let k = if field == "name" {
                    validate::company_name_norm(s)
                } else {
                    s.to_lowercase()
                };
                Some((values, k))
            }
            _ => None,
        }
    }

    async fn row<C: ConnectionTrait>(
        &self,
        tx: &C,
        cells: &[String],
        seen: &mut HashMap<String, i64>,
        row_no: i64,
    ) -> Result<Outcome, String> {
        let doc = self.doc(cells).await?;
        if doc.is_empty() {
            return Err("the row has none of the mapped columns".into());
        }
        let opts = |over| WriteOptions {
            override_duplicates: over,
        };
        let mut existing = None;
        if let Some((values, key)) = self.key(&doc) {
            if let Some(first) = seen.get(&key) {
                return Err(format!(
                    "{} is the same as in row {} of the file",
                    self.mapping.match_on,
                    first + 1
                ));
            }
            seen.insert(key, row_no);
            let ids =
                duplicates::ids_for_rule(self.store, self.def, &self.mapping.match_on, &values)
                    .await
                    .map_err(|e| reason(&e))?;
            let readable = records::read_many(self.store, self.actor, self.def, &ids)
                .await
                .map_err(|e| reason(&e))?;
            existing = readable.into_iter().next();
            if existing.is_none() && !ids.is_empty() && self.mapping.on_match != "create" {
                return Err(format!(
                    "matches a record by {} that you cannot see",
                    self.mapping.match_on
                ));
            }
        }
        match (existing, self.mapping.on_match.as_str()) {
            (Some(_), "skip") => Ok(Outcome::Skipped),
            (Some(rec), "update") => {
                let p = records::prepare_update(
                    self.store,
                    self.actor,
                    self.def,
                    &rec.id,
                    &doc,
                    opts(true),
                )
                .await
                .map_err(|e| reason(&e))?;
                if !self.dry {
                    records::apply_update(tx, self.store, self.actor, &p)
                        .await
                        .map_err(|e| reason(&e))?;
                }
                Ok(Outcome::Updated(rec.id))
            }
            (found, _) => {
                let p = records::prepare_create(
                    self.store,
                    self.actor,
                    self.def,
                    &doc,
                    opts(found.is_some()),
                    Preset::default(),
                )
                .await
                .map_err(|e| reason(&e))?;
                if !self.dry {
                    records::insert(tx, self.store, self.actor, &p)
                        .await
                        .map_err(|e| reason(&e))?;
                }
                Ok(Outcome::Created(p.id.clone()))
            }
        }
    }
}

async fn fail(store: &Store, imp: &Import, msg: &str) -> Result<(), DomainError> {
    exec(
        store.db.writer(),
        Query::update()
            .table(t("imports"))
            .value(t("status"), "failed")
            .value(t("error"), msg)
            .value(t("finished_at"), store.now())
            .and_where(Expr::col(t("id")).eq(imp.id.as_str())),
    )
    .await?;
    Ok(())
}

/// Run the next batch of an import (the job's payload names it).
pub async fn run_batch(store: &Store, payload: &Value) -> Result<(), DomainError> {
    let id = payload["import_id"].as_str().unwrap_or("");
    let Some(imp) = load(store.db.reader(), id).await? else {
        return Ok(());
    };
    let dry = match imp.status.as_str() {
        "running" => false,
        "dry_running" => true,
        _ => return Ok(()),
    };
    let actor = match principal_of(store, &imp.user_id).await {
        Ok(p) => p,
        Err(e) => return fail(store, &imp, &e.to_string()).await,
    };
    let (Some(object), Some(m)) = (Object::parse(&imp.object), imp.mapping.clone()) else {
        return fail(store, &imp, "the import has no mapping").await;
    };
    let Some(def) = super::importable(object) else {
        return fail(store, &imp, "this record type cannot be imported").await;
    };
    let mut kinds: HashMap<String, FieldKind> = def
        .fields
        .iter()
        .map(|f| (f.name.to_string(), f.kind))
        .collect();
    for c in crate::custom_fields::active(store, object).await? {
        kinds.insert(c.key.clone(), c.base_kind());
    }
    let mut user_keys = HashMap::new();
    for u in users::list(store, &actor).await.unwrap_or_default() {
        if u.active {
            user_keys.insert(u.email.to_lowercase(), u.id.clone());
            user_keys.insert(u.name.clone(), u.id.clone());
            user_keys.insert(u.id.clone(), u.id);
        }
    }
    let mut choices = HashMap::new();
    for f in def.fields {
        if let FieldKind::Picklist(list) = f.kind {
            let mut labels = HashMap::new();
            for v in crate::picklists::values(&store.db, list).await? {
                labels.insert(v.label_zh.to_lowercase(), v.value.clone());
                labels.insert(v.label_en.to_lowercase(), v.value.clone());
                labels.insert(v.value.to_lowercase(), v.value);
            }
            choices.insert(f.name.to_string(), labels);
        }
    }
    let ctx = Ctx {
        store,
        actor: &actor,
        def,
        mapping: &m,
        kinds,
        users: user_keys,
        accounts: owner_filter(store, &actor, Object::Account, Action::Read).await?,
        choices,
        dry,
    };
    let rows = rows_between(store, id, imp.processed + 1, imp.processed + 1 + BATCH).await?;
    let now = store.now();
    let tx = store.db.begin().await?;
    // Take the import: another runner of the same batch (a job run twice after a crash) finds
    // the checkpoint moved and does nothing.
    let mine = exec(
        &tx,
        Query::update()
            .table(t("imports"))
            .value(t("updated_at"), now)
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("processed")).eq(imp.processed))
            .and_where(Expr::col(t("status")).eq(imp.status.as_str())),
    )
    .await?;
    if mine != 1 {
        return Ok(());
    }
    let (mut created, mut updated, mut skipped, mut failed) = (0i64, 0i64, 0i64, 0i64);
    let mut seen = HashMap::new();
    let mut last = imp.processed;
    for (row_no, cells) in &rows {
        last = *row_no;
        match ctx.row(&tx, cells, &mut seen, *row_no).await {
            Ok(outcome) => {
                let (record, action) = match outcome {
                    Outcome::Created(r) => {
                        created += 1;
                        (Some(r), "created")
                    }
                    Outcome::Updated(r) => {
                        updated += 1;
                        (Some(r), "updated")
                    }
                    Outcome::Skipped => {
                        skipped += 1;
                        (None, "")
                    }
                };
                if let (Some(r), false) = (record, dry) {
                    exec(
                        &tx,
                        Query::insert()
                            .into_table(t("import_records"))
                            .columns(["import_id", "record_id", "action"].map(t))
                            .values_panic([id.into(), r.into(), action.into()])
                            .on_conflict(
                                sea_orm::sea_query::OnConflict::columns(
                                    ["import_id", "record_id"].map(t),
                                )
                                .do_nothing()
                                .to_owned(),
                            ),
                    )
                    .await?;
                }
            }
            Err(why) => {
                failed += 1;
                exec(
                    &tx,
                    Query::insert()
                        .into_table(t("import_errors"))
                        .columns(["import_id", "row_no", "reason"].map(t))
                        .values_panic([
                            id.into(),
                            (*row_no).into(),
                            why.chars().take(1000).collect::<String>().into(),
                        ]),
                )
                .await?;
            }
        }
    }
    let more = rows.len() as i64 == BATCH && last + 1 < imp.total_rows;
    let finished_status = if dry { "dry_done" } else { "done" };
    let mut q = Query::update();
    q.table(t("imports"))
        .value(t("processed"), last)
        .value(
            t("created_count"),
            Expr::col(t("created_count")).add(created),
        )
        .value(
            t("updated_count"),
            Expr::col(t("updated_count")).add(updated),
        )
        .value(
            t("skipped_count"),
            Expr::col(t("skipped_count")).add(skipped),
        )
        .value(t("failed_count"), Expr::col(t("failed_count")).add(failed))
        .value(t("updated_at"), now)
        .and_where(Expr::col(t("id")).eq(id));
    if !more {
        q.value(t("status"), finished_status)
            .value(t("finished_at"), now);
    }
    exec(&tx, &q).await?;
    if more {
        enqueue(&tx, now, id, payload["run"].as_str().unwrap_or(""), last).await?;
    } else {
        let totals = super::load(&tx, id).await?.ok_or(DomainError::NotFound)?;
        let counts = json!({"created": totals.created, "updated": totals.updated,
            "skipped": totals.skipped, "failed": totals.failed, "dry_run": dry});
        audit::record(
            &tx,
            store,
            &actor,
            audit::Entry::new(if dry {
                "import.dry_run_finished"
            } else {
                "import.finished"
            })
            .object("import", id)
            .details(json!({"object": def.key(), "file_name": imp.file_name, "counts": counts})),
        )
        .await?;
        notifications::notify(
            &tx,
            now,
            notifications::NewNotification {
                user_id: imp.user_id.clone(),
                kind: "import_finished",
                subject: imp.file_name.clone(),
                object: Some(("import".into(), id.to_string())),
                actor_id: None,
                payload: counts,
                dedupe_key: Some(format!("import:{id}:{finished_status}")),
            },
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)
}
