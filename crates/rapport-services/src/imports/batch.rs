//! One batch of an import's rows, processed together: the rows are read into documents (owner
//! and account names resolved, picklist labels translated), matched against existing records
//! in one query, updated row by row where they match, and created through the fast path
//! (`records::fast_create`: validation as a save, duplicate rules for the whole batch,
//! multi-row inserts). Rows the fast path cannot take are created one by one as before.

use super::Mapping;
use crate::access::Access;
use crate::access::OwnerFilter;
use crate::objects;
use crate::records::duplicates::Seen;
use crate::records::fast_create::{EarlierKeys, Encoded, FastCreate, Known, Pending};
use crate::records::{self, ObjectDef, Preset, WriteOptions};
use crate::{audit, Store};
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::input::{self, Mode};
use rapport_core::{validate, DomainError};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// A domain error as the error file explains it; a field is named by its key and both its
/// labels (the file is read in either language).
pub(super) fn reason(e: &DomainError) -> String {
    match e {
        DomainError::Validation(errs) => errs
            .iter()
            .map(|f| {
                let base = f.field.split(['.', '[']).next().unwrap_or(&f.field);
                let label = crate::objects::ALL
                    .iter()
                    .find_map(|d| d.field(base))
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
            format!("duplicate of an existing record (or of another row) by {rule}{label}")
        }
        DomainError::Forbidden(m) | DomainError::Conflict(m) => m.clone(),
        DomainError::NotFound => "a record it names was not found".into(),
        other => other.to_string(),
    }
}

/// Encoded rows built into statements at a time (about one INSERT of records).
const SEAL_ROWS: usize = 400;

/// Everything one batch needs that does not change between rows.
pub(super) struct Ctx {
    pub store: Store,
    pub actor: Access,
    pub def: &'static ObjectDef,
    pub mapping: Mapping,
    pub kinds: HashMap<String, FieldKind>,
    /// user id, email and name → user id (owner columns)
    pub users: HashMap<String, String>,
    /// The accounts the importer may read (for `account_name`).
    pub accounts: Option<OwnerFilter>,
    /// picklist field → (label in either language or value, lower case → value)
    pub choices: HashMap<String, HashMap<String, String>>,
    pub dry: bool,
}

/// What became of a batch's rows.
#[derive(Default)]
pub(super) struct Outcome {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub skipped: i64,
    pub failed: Vec<(i64, String)>,
}

/// What the checks remember of the rows before them that have not committed yet: rows
/// written in an open transaction, or checked and still waiting to be written, are not
/// visible to the readers the lookups go through. Batches are numbered from 0 in the order
/// they are checked; `forget_before` drops what committed batches held.
#[derive(Default)]
pub(super) struct Earlier {
    /// The match key of each such row → its row number and batch.
    seen: HashMap<String, (i64, u64)>,
    /// The duplicate-rule keys of those rows.
    keys: EarlierKeys,
}

impl Earlier {
    /// The next `check` is of batch `batch`.
    pub(super) fn start(&mut self, batch: u64) {
        self.keys.batch = batch;
    }

    /// Forget the rows of batches before `batch`: they have committed.
    pub(super) fn forget_before(&mut self, batch: u64) {
        self.seen.retain(|_, (_, b)| *b >= batch);
        self.keys.forget_before(batch);
    }
}

/// A batch checked and ready to be written: what became of each row, and the writes.
pub(super) struct Checked {
    /// Created and updated hold the rows about to be (the fast path's are added by `write`).
    outcome: Outcome,
    updates: Vec<records::PreparedUpdate>,
    /// Creates that went through the full save (references the fast path does not check).
    slow: Vec<records::Prepared>,
    /// The fast path's rows (none on a dry run): their ids, and their encoding, done on a
    /// task of its own while the next batch is checked.
    encoded: Option<(Vec<String>, Encoding)>,
}

/// The task encoding a batch's rows for their INSERTs.
type Encoding = tokio::task::JoinHandle<Result<Encoded, DomainError>>;

impl Checked {
    /// The ids of the records the batch creates and those it updates (before it is written).
    pub(super) fn ids(&self) -> (Vec<&String>, &[String]) {
        let mut created: Vec<&String> = self.outcome.created.iter().collect();
        if let Some((ids, _)) = &self.encoded {
            created.extend(ids);
        }
        (created, &self.outcome.updated)
    }

    /// The rows that failed, with their reasons.
    pub(super) fn failed(&self) -> &[(i64, String)] {
        &self.outcome.failed
    }
}

/// A row read into a document.
struct Row {
    row_no: i64,
    doc: Map<String, Value>,
    /// `accounts` was resolved here from `account_name` among accounts the importer sees.
    trusted_links: bool,
    /// The match key's parsed value and its normalised text.
    key: Option<(BTreeMap<&'static str, FieldValue>, String)>,
}

/// Encode (encrypt, tokenise) checked rows and build their INSERTs, in parts, giving way
/// between them so the server's requests on the same runtime are not held up behind it.
async fn encode(
    fast: Arc<FastCreate>,
    good: Vec<Pending>,
    seen: Option<Seen>,
) -> Result<Encoded, DomainError> {
    let mut encoded = fast.encoding()?;
    if let Some(seen) = seen {
        encoded.checked_after(seen);
    }
    for part in good.chunks(50) {
        fast.encode(&mut encoded, part)?;
        if encoded.unsealed() >= SEAL_ROWS {
            fast.seal(&mut encoded);
        }
        tokio::task::yield_now().await;
    }
    fast.seal(&mut encoded);
    Ok(encoded)
}

impl Ctx {
    /// The ids of the accounts named in the rows (normalised name → id), among those the
    /// importer may read, in one query.
    async fn account_ids(
        &self,
        names: Vec<String>,
    ) -> Result<HashMap<String, String>, DomainError> {
        let mut out = HashMap::new();
        let Some(filter) = self.accounts.clone() else {
            return Ok(out);
        };
        for chunk in names.chunks(500) {
            let mut q = Query::select();
            q.columns([t("id"), t("name_norm")])
                .from(t("accounts"))
                .and_where(Expr::col(t("name_norm")).is_in(chunk.to_vec()));
            if let OwnerFilter::Owners(o) = &filter {
                q.and_where(Expr::col(t("owner_id")).is_in(o.clone()));
            }
            for r in all(self.store.db.reader(), &q).await? {
                out.entry(get(&r, "name_norm")?).or_insert(get(&r, "id")?);
            }
        }
        Ok(out)
    }

    /// The mapped row as the API document a save takes, with owner and account names resolved.
    fn doc(
        &self,
        mut doc: Map<String, Value>,
        accounts: &HashMap<String, String>,
    ) -> Result<(Map<String, Value>, bool), String> {
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
        let mut trusted = false;
        if let Some(Value::String(name)) = doc.remove("account_name") {
            if self.accounts.is_none() {
                return Err("you may not read accounts".into());
            }
            match accounts.get(&validate::company_name_norm(&name)) {
                Some(id) => {
                    doc.insert("account_ids".into(), json!([id]));
                    trusted = true;
                }
                None => return Err(format!("account_name: no account {name} that you can see")),
            }
        }
        Ok((doc, trusted))
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
            "phone" if self.def.object != objects::ACCOUNT => "mobile",
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

    /// What the batches of a job share: the fast path's rights, picklists and rules, read
    /// once.
    pub(super) async fn fast(&self) -> Result<FastCreate, DomainError> {
        FastCreate::new(&self.store, &self.actor, self.def).await
    }

    /// Check a batch: every row read, matched and validated as a save would, nothing written
    /// (`write` writes it). `earlier` carries what the batches before it that have not
    /// committed will have written. It runs on its own task and gives way every few rows,
    /// so the server's requests on the same runtime are not held up behind it.
    pub(super) async fn check(
        &self,
        fast: &Arc<FastCreate>,
        rows: &[(i64, Vec<String>)],
        earlier: &mut Earlier,
    ) -> Result<Checked, DomainError> {
        // The key locks' versions before any lookup: the write looks up again only keys that
        // others wrote since (`duplicates::confirm_batch`).
        let locks_seen = if self.dry {
            None
        } else {
            Some(fast.seen().await?)
        };
        let mut out = Outcome::default();
        let mut updates = Vec::new();
        let mut slow = Vec::new();
        // Each row as mapped, once; then the account names of all rows in one query.
        let docs: Vec<(i64, Map<String, Value>)> = rows
            .iter()
            .map(|(n, cells)| {
                let doc =
                    super::mapping::row_doc(&self.mapping, cells, |f| self.kinds.get(f).copied());
                (*n, doc)
            })
            .collect();
        let mut names: Vec<String> = docs
            .iter()
            .filter_map(|(_, d)| match d.get("account_name") {
                Some(Value::String(name)) => Some(validate::company_name_norm(name)),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        let accounts = self.account_ids(names).await?;
        let mut ready = Vec::new();
        let batch = earlier.keys.batch;
        let seen = &mut earlier.seen;
        for (row_no, doc) in docs {
            match self.doc(doc, &accounts) {
                Ok((doc, _)) if doc.is_empty() => out
                    .failed
                    .push((row_no, "the row has none of the mapped columns".into())),
                Ok((doc, trusted_links)) => {
                    let key = self.key(&doc);
                    if let Some((_, k)) = &key {
                        if let Some((first, _)) = seen.get(k) {
                            out.failed.push((
                                row_no,
                                format!(
                                    "{} is the same as in row {} of the file",
                                    self.mapping.match_on,
                                    first + 1
                                ),
                            ));
                            continue;
                        }
                        seen.insert(k.clone(), (row_no, batch));
                    }
                    ready.push(Row {
                        row_no,
                        doc,
                        trusted_links,
                        key,
                    });
                }
                Err(why) => out.failed.push((row_no, why)),
            }
        }
        // Matches against existing records: one query, then the ones the importer may see.
        let mut matched: HashMap<usize, Option<records::Record>> = HashMap::new();
        let mut known = None;
        if self.mapping.match_on != "none" {
            let keys: Vec<Vec<String>> = ready
                .iter()
                .map(|r| match &r.key {
                    Some((values, _)) => fast.keys_of(&self.mapping.match_on, values),
                    None => Vec::new(),
                })
                .collect();
            let asked: HashSet<String> = keys.iter().flatten().cloned().collect();
            let existing = fast
                .existing(&self.mapping.match_on, asked.iter().cloned().collect())
                .await?;
            let ids: Vec<String> = existing.values().cloned().collect();
            let visible: HashMap<String, records::Record> =
                records::read_many(&self.store, &self.actor, self.def, &ids)
                    .await?
                    .into_iter()
                    .map(|r| (r.id.clone(), r))
                    .collect();
            for (i, ks) in keys.iter().enumerate() {
                if let Some(id) = ks.iter().find_map(|k| existing.get(k)) {
                    matched.insert(i, visible.get(id).cloned());
                }
            }
            // The duplicate rule of the same name does not look these keys up again.
            known = Some(Known {
                rule: self.mapping.match_on.clone(),
                asked,
                found: existing,
            });
        }
        let mut creates: Vec<(i64, Pending)> = Vec::new();
        for (i, row) in ready.iter().enumerate() {
            if i % 32 == 31 {
                tokio::task::yield_now().await;
            }
            let found = matched.get(&i);
            match (found, self.mapping.on_match.as_str()) {
                (Some(None), "skip" | "update") => out.failed.push((
                    row.row_no,
                    format!(
                        "matches a record by {} that you cannot see",
                        self.mapping.match_on
                    ),
                )),
                (Some(Some(_)), "skip") => out.skipped += 1,
                (Some(Some(rec)), "update") => {
                    let p = records::prepare_update(
                        &self.store,
                        &self.actor,
                        self.def,
                        &rec.id,
                        &row.doc,
                        WriteOptions {
                            override_duplicates: true,
                            ..WriteOptions::default()
                        },
                    )
                    .await;
                    match p {
                        Ok(p) => {
                            out.updated.push(rec.id.clone());
                            updates.push(p);
                        }
                        Err(e) => out.failed.push((row.row_no, reason(&e))),
                    }
                }
                (found, _) => {
                    let trusted: &[&str] = if row.trusted_links {
                        &["accounts"]
                    } else {
                        &[]
                    };
                    let override_warn = matches!(found, Some(Some(_)));
                    match fast.prepare(&row.doc, trusted, override_warn).await {
                        Ok(Some(p)) => creates.push((row.row_no, p)),
                        Ok(None) => {
                            // References the fast path does not check: the full save.
                            let p = records::prepare_create(
                                &self.store,
                                &self.actor,
                                self.def,
                                &row.doc,
                                WriteOptions {
                                    override_duplicates: override_warn,
                                    ..WriteOptions::default()
                                },
                                Preset::default(),
                            )
                            .await;
                            match p {
                                Ok(p) => {
                                    out.created.push(p.id.clone());
                                    slow.push(p);
                                }
                                Err(e) => out.failed.push((row.row_no, reason(&e))),
                            }
                        }
                        Err(e) => out.failed.push((row.row_no, reason(&e))),
                    }
                }
            }
        }
        let (row_nos, pending): (Vec<i64>, Vec<Pending>) = creates.into_iter().unzip();
        let mut good = Vec::new();
        for (row_no, verdict) in row_nos.into_iter().zip(
            fast.check_duplicates(pending, &mut earlier.keys, known.as_ref())
                .await?,
        ) {
            match verdict {
                Ok(p) => good.push(p),
                Err(e) => out.failed.push((row_no, reason(&e))),
            }
        }
        let encoded = if self.dry {
            out.created.extend(good.iter().map(|p| p.id.clone()));
            None
        } else {
            let ids = good.iter().map(|p| p.id.clone()).collect();
            Some((ids, tokio::spawn(encode(fast.clone(), good, locks_seen))))
        };
        out.failed.sort_by_key(|(n, _)| *n);
        Ok(Checked {
            outcome: out,
            updates,
            slow,
            encoded,
        })
    }

    /// Write a checked batch inside `tx` (nothing on a dry run) and say what became of its rows.
    /// The search tokens of the records it creates are added to `tokens`, for the caller to
    /// write once for the whole transaction (`records::generations::write_bulk`).
    pub(super) async fn write(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        fast: &FastCreate,
        import_id: &str,
        checked: Checked,
        tokens: &mut Vec<(String, String)>,
        trail: &mut Vec<audit::Entry>,
    ) -> Result<Outcome, DomainError> {
        let Checked {
            mut outcome,
            updates,
            slow,
            encoded,
        } = checked;
        if self.dry {
            return Ok(outcome);
        }
        // An update records its audit entry as it goes (it takes the chain's head before the
        // transaction ends); created rows leave theirs in `trail`, recorded last.
        for p in &updates {
            records::apply_update(tx, &self.store, &self.actor, p).await?;
        }
        for p in &slow {
            trail.push(records::insert_unaudited(tx, &self.store, &self.actor, p).await?);
        }
        if let Some((_, encoding)) = encoded {
            let encoded = encoding
                .await
                .map_err(|e| DomainError::Internal(format!("encoding an import's rows: {e}")))??;
            let written = fast
                .write(tx, encoded, json!({"import_id": import_id}), trail)
                .await?;
            outcome.created.extend(written.ids);
            tokens.extend(written.tokens);
        }
        Ok(outcome)
    }
}
