//! Creating many records in one go, for imports (ADR 0009): every row is validated exactly as
//! `prepare_create` validates it (types, required fields, picklists, owner within the create
//! scope, field rules, the record type's rules, custom fields), but what `prepare_create` asks
//! the database per row is read once per batch, the duplicate rules are checked for the whole
//! batch in one query per rule, and the rows go in as multi-row INSERTs with one audit entry
//! and one change-feed event per batch. Rows with references this path does not check
//! (parent accounts, other records) are left to the caller's row-by-row path.

use super::duplicates::{self, RuleMode, Rules};
use super::hooks::Cx;
use super::{
    apply_rules, check_field_rules, codec, custom_values, derived, normalise_doc, read_both,
    rule_context, tokens, ObjectDef, RuleContext,
};
use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Keyring, Store};
use rapport_core::custom::CustomField;
use rapport_core::fields::{AccountLink, FieldKind, FieldValue};
use rapport_core::input::Mode;
use rapport_core::{ids, Action, DomainError};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use sea_orm::Value as SqlValue;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A validated row, ready to be written.
pub struct Pending {
    pub id: String,
    values: BTreeMap<&'static str, FieldValue>,
    custom: Map<String, Value>,
    /// Go ahead despite duplicates found by "warn" rules.
    override_warn: bool,
    /// The keys of the rules that refuse the row (block, or warn without an override), as
    /// `check_duplicates` found them: `write` confirms them in its transaction.
    strict: Vec<(String, Vec<String>)>,
}

/// Rows encoded for their INSERTs (`FastCreate::encoding`, then `FastCreate::encode`), and
/// the statements built of them so far (`FastCreate::seal`).
pub struct Encoded {
    ids: Vec<String>,
    cols: Vec<String>,
    records: Vec<Vec<SqlValue>>,
    token_rows: Vec<(String, String)>,
    links: Vec<(String, AccountLink)>,
    statements: Vec<sea_orm::Statement>,
    /// The search tokens (record id, token) of the rows sealed so far, which `write` leaves to
    /// its caller ([`rapport_db::search_index::generations::write_bulk`]).
    tokens: Vec<(String, String)>,
    /// Per duplicate rule that refuses the rows (block, or warn without an override), their
    /// keys: `write` confirms no record committed since the check holds one.
    strict: BTreeMap<String, Vec<String>>,
    /// The key locks' versions read before the rows were checked ([`FastCreate::seen`]):
    /// `write` looks up again only keys others wrote since. Without them, every key.
    seen: Option<duplicates::Seen>,
}

/// What [`FastCreate::write`] wrote: the new records' ids in order, and their search tokens
/// (record id, token), still to be written by the caller.
#[derive(Default)]
pub struct Written {
    pub ids: Vec<String>,
    pub tokens: Vec<(String, String)>,
    /// How many of the rows' keys were looked up again in the transaction.
    pub looked_up: usize,
}

impl Encoded {
    /// Rows encoded and not yet built into statements.
    pub fn unsealed(&self) -> usize {
        self.records.len()
    }

    /// What the rows' check saw of the key locks before its lookups.
    pub(crate) fn checked_after(&mut self, seen: duplicates::Seen) {
        self.seen = Some(seen);
    }
}

/// The duplicate-rule keys of rows checked earlier but not yet visible to the readers the
/// lookups go through (rule → key → the batch that holds it). Batches are numbered by the
/// caller (`batch`); once a batch has committed its keys can be forgotten.
#[derive(Default)]
pub struct EarlierKeys {
    keys: HashMap<String, HashMap<String, u64>>,
    /// The batch whose keys `check_duplicates` adds.
    pub batch: u64,
}

impl EarlierKeys {
    /// Forget the keys of batches before `batch` (they have committed, so lookups find them).
    pub fn forget_before(&mut self, batch: u64) {
        for keys in self.keys.values_mut() {
            keys.retain(|_, b| *b >= batch);
        }
    }
}

/// Keys of one duplicate rule already looked up, and the records they found (key → id).
#[derive(Default)]
pub struct Known {
    pub rule: String,
    pub asked: HashSet<String>,
    pub found: HashMap<String, String>,
}

/// What one batch of fast creates needs, read once.
pub struct FastCreate {
    store: Store,
    actor: Access,
    def: &'static ObjectDef,
    filter: OwnerFilter,
    defs: Vec<CustomField>,
    /// user id → department (active users only)
    users: HashMap<String, Option<String>>,
    /// picklist → active values
    picklists: HashMap<&'static str, HashSet<String>>,
    rules: RuleContext,
    duplicate_rules: Rules,
    keys: Keyring,
    now: chrono::DateTime<chrono::Utc>,
    /// The key locks this import's transactions claimed.
    claims: duplicates::Claims,
}

impl FastCreate {
    pub async fn new(
        store: &Store,
        actor: &Access,
        def: &'static ObjectDef,
    ) -> Result<FastCreate, DomainError> {
        let filter = actor
            .owners(def.object, Action::Create)
            .ok_or_else(|| super::forbidden(def, Action::Create))?;
        let defs = crate::custom_fields::active(store, def.object).await?;
        let users = all(
            store.db.reader(),
            Query::select()
                .columns([Alias::new("id"), Alias::new("department_id")])
                .from(Alias::new("users"))
                .and_where(Expr::col(Alias::new("active")).eq(true)),
        )
        .await?
        .iter()
        .map(|r| Ok((get(r, "id")?, get(r, "department_id")?)))
        .collect::<Result<HashMap<String, Option<String>>, DomainError>>()?;
        let mut picklists = HashMap::new();
        for f in def.fields {
            if let FieldKind::Picklist(list) = f.kind {
                let values = crate::picklists::values(&store.db, list)
                    .await?
                    .into_iter()
                    .filter(|v| v.active)
                    .map(|v| v.value)
                    .collect();
                picklists.insert(list, values);
            }
        }
        Ok(FastCreate {
            store: store.clone(),
            actor: actor.clone(),
            def,
            filter,
            defs,
            users,
            picklists,
            rules: rule_context(store, actor, def, None, None).await?,
            duplicate_rules: duplicates::rules(store, def.object).await?,
            keys: store.keys()?,
            now: store.now(),
            claims: duplicates::Claims::default(),
        })
    }

    /// Whether this path can create records of `def`: a type its rules let be created in
    /// batches, with no required reference (rows with references go row by row).
    pub fn supports(def: &ObjectDef) -> bool {
        def.hooks.batch_creatable()
            && !def.fields.iter().any(|f| {
                f.required
                    && matches!(
                        f.kind,
                        FieldKind::AccountRef | FieldKind::RecordRef(_) | FieldKind::PriceListRef
                    )
            })
    }

    /// Validate one document as a create would. `Ok(None)`: the row holds references this
    /// path does not check (the caller creates it row by row). `trusted` names reference
    /// fields the caller resolved itself among records the actor may see.
    pub async fn prepare(
        &self,
        doc: &Map<String, Value>,
        trusted: &[&str],
        override_warn: bool,
    ) -> Result<Option<Pending>, DomainError> {
        let def = self.def;
        let doc = normalise_doc(def, doc)?;
        let (doc, custom_doc) = custom_values::split(&doc);
        let (mut input, custom) = read_both(
            &self.store,
            &self.actor,
            def,
            &self.defs,
            &doc,
            &custom_doc,
            Mode::Create,
        )
        .await?;
        check_field_rules(def, &self.actor, &input)?;
        let mut errors = Vec::new();
        for (spec, value) in &input.values {
            match (spec.kind, value) {
                (FieldKind::Picklist(list), FieldValue::Text(v))
                    if !v.is_empty()
                        && !self.picklists.get(list).is_some_and(|s| s.contains(v)) =>
                {
                    errors.push(rapport_core::FieldError::new(
                        spec.name,
                        "not_in_picklist",
                        format!("{v} is not a value of the {list} list"),
                    ));
                }
                (FieldKind::UserRef, FieldValue::Text(id)) if !self.users.contains_key(id) => {
                    errors.push(rapport_core::FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} is not an active user", spec.name),
                    ));
                }
                (FieldKind::Picklist(_) | FieldKind::UserRef, _) => {}
                (_, v) if v.is_null() => {}
                (
                    FieldKind::AccountRef
                    | FieldKind::AccountLinks
                    | FieldKind::ContactLinks
                    | FieldKind::RecordRef(_)
                    | FieldKind::DepartmentRef
                    | FieldKind::PipelineRef
                    | FieldKind::PriceListRef
                    | FieldKind::LineItems,
                    _,
                ) if !trusted.contains(&spec.name) => return Ok(None),
                _ => {}
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        let owner = match input.get("owner_id") {
            Some(FieldValue::Text(o)) => o.clone(),
            _ => self.actor.user_id.clone(),
        };
        if !self.filter.allows(Some(&owner)) {
            return Err(DomainError::field(
                "owner_id",
                "owner_out_of_scope",
                "you may not create records for that owner",
            ));
        }
        def.hooks
            .check(
                Cx {
                    store: &self.store,
                    actor: &self.actor,
                },
                &input,
                None,
                Some(&owner),
            )
            .await?;
        if let Some(spec) = def.field("owner_id") {
            input.set(spec, FieldValue::Text(owner.clone()));
        }
        if let Some(spec) = def.field("currency") {
            if input.get("currency").is_none_or(FieldValue::is_null) {
                input.set(spec, FieldValue::Text("CNY".into()));
            }
        }
        let mut values = def.values_from(&input);
        apply_rules(&self.rules, def, None, &mut values, &input, self.now)?;
        if let Some(spec) = def.field("department_id") {
            let dept = self.users.get(&owner).cloned().flatten();
            values.insert(spec.name, dept.map_or(FieldValue::Null, FieldValue::Text));
        }
        Ok(Some(Pending {
            id: ids::new_id(),
            values,
            custom,
            override_warn,
            strict: Vec::new(),
        }))
    }

    /// The keys a duplicate rule (`name`, `credit_code`, `email`, `phone`) compares, for
    /// one record's values.
    pub fn keys_of(&self, rule: &str, values: &BTreeMap<&'static str, FieldValue>) -> Vec<String> {
        duplicates::rule_keys(&self.keys, self.def, rule, values)
            .map(|k| match k {
                duplicates::RuleKeys::Column(_, keys) | duplicates::RuleKeys::Tokens(keys) => keys,
            })
            .unwrap_or_default()
    }

    /// Existing records of the type holding any of `keys` of `rule`: key → a record id.
    pub async fn existing(
        &self,
        rule: &str,
        keys: Vec<String>,
    ) -> Result<HashMap<String, String>, DomainError> {
        // The chunks' queries run at once, each on a reader of its own: the checks of an
        // import wait on these lookups more than they compute (ADR 0025).
        let found = futures_util::future::try_join_all(
            keys.chunks(500)
                .map(|chunk| self.existing_chunk(rule, chunk)),
        )
        .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// `existing` for one chunk of keys: (key, id) pairs.
    async fn existing_chunk(
        &self,
        rule: &str,
        chunk: &[String],
    ) -> Result<Vec<(String, String)>, DomainError> {
        let c = self.store.db.reader();
        // A rule the type keeps in a column of its own is looked up there; emails and phones
        // through the search index.
        let column = self
            .def
            .hooks
            .duplicate_keys(&self.keys, rule, &BTreeMap::new())
            .map(|(column, _)| column);
        match column {
            Some(column) => {
                let rows = all(
                    c,
                    Query::select()
                        .columns([Alias::new("id"), Alias::new(column)])
                        .from(Alias::new(self.def.table))
                        .and_where(Expr::col(Alias::new(column)).is_in(chunk.to_vec())),
                )
                .await?;
                rows.iter()
                    .map(|r| Ok((get::<String>(r, column)?, get::<String>(r, "id")?)))
                    .collect()
            }
            None => rapport_db::search_index::find(&self.store.db, self.def.key(), chunk).await,
        }
    }

    /// The key locks' versions now, for a batch about to be checked: read before any lookup
    /// the check relies on, and given to its rows' [`Encoded`] (`checked_after`).
    pub(crate) async fn seen(&self) -> Result<duplicates::Seen, DomainError> {
        let rules: Vec<&String> = self
            .duplicate_rules
            .iter()
            .filter(|(_, mode)| **mode != RuleMode::Off)
            .map(|(rule, _)| rule)
            .collect();
        duplicates::Seen::read(&self.store, self.def, &rules, &self.claims).await
    }

    /// The transaction that wrote this import's batches is about to commit.
    pub fn committing(&self) {
        self.claims.committing();
    }

    /// Apply the duplicate rules to the rows at once: against existing records, against the
    /// rows of earlier calls with the same `earlier` (rows not yet committed, which the
    /// readers cannot see), and between the rows themselves. Rows refused come
    /// back as errors, in the order given.
    /// `known`: a rule's keys the caller has just looked up with [`FastCreate::existing`] and
    /// what that found; they are not looked up again.
    pub async fn check_duplicates(
        &self,
        rows: Vec<Pending>,
        earlier: &mut EarlierKeys,
        known: Option<&Known>,
    ) -> Result<Vec<Result<Pending, DomainError>>, DomainError> {
        let mut verdicts: Vec<Option<(String, bool)>> = vec![None; rows.len()];
        let active: Vec<(&String, &RuleMode)> = self
            .duplicate_rules
            .iter()
            .filter(|(_, mode)| **mode != RuleMode::Off)
            .collect();
        let keyed: Vec<Vec<Vec<String>>> = active
            .iter()
            .map(|(rule, _)| rows.iter().map(|p| self.keys_of(rule, &p.values)).collect())
            .collect();
        // Every rule's lookup at once (they are independent); the verdicts below follow the
        // rules' order as before.
        let found = futures_util::future::try_join_all(active.iter().zip(&keyed).map(
            |((rule, _), per_row)| async move {
                let known = known.filter(|k| k.rule == **rule);
                let all_keys: Vec<String> = per_row
                    .iter()
                    .flatten()
                    .filter(|k| known.is_none_or(|known| !known.asked.contains(*k)))
                    .cloned()
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                let mut found = self.existing(rule, all_keys).await?;
                if let Some(known) = known {
                    found.extend(known.found.iter().map(|(k, id)| (k.clone(), id.clone())));
                }
                Ok::<_, DomainError>(found)
            },
        ))
        .await?;
        for (((rule, mode), per_row), existing) in active.iter().copied().zip(&keyed).zip(found) {
            let batch = earlier.batch;
            let before = earlier.keys.entry(rule.clone()).or_default();
            let mut first_row: HashMap<&String, usize> = HashMap::new();
            for (i, keys) in per_row.iter().enumerate() {
                let hit = keys
                    .iter()
                    .any(|k| existing.contains_key(k) || before.contains_key(k))
                    || keys
                        .iter()
                        .any(|k| first_row.get(k).is_some_and(|f| *f != i));
                for k in keys {
                    first_row.entry(k).or_insert(i);
                }
                if hit && verdicts[i].as_ref().is_none_or(|(_, block)| !block) {
                    verdicts[i] = Some((rule.clone(), *mode == RuleMode::Block));
                }
            }
            before.extend(first_row.into_keys().map(|k| (k.clone(), batch)));
        }
        Ok(rows
            .into_iter()
            .zip(verdicts)
            .enumerate()
            .map(|(i, (mut p, v))| match v {
                Some((rule, block)) if block || !p.override_warn => Err(DomainError::Duplicate {
                    rule,
                    matches: vec![],
                    overridable: !block,
                }),
                _ => {
                    // The keys the write confirms: those of the rules that refuse this row.
                    p.strict = active
                        .iter()
                        .zip(&keyed)
                        .filter(|((_, mode), per_row)| {
                            (**mode == RuleMode::Block
                                || (**mode == RuleMode::Warn && !p.override_warn))
                                && !per_row[i].is_empty()
                        })
                        .map(|((rule, _), per_row)| ((*rule).clone(), per_row[i].clone()))
                        .collect();
                    Ok(p)
                }
            })
            .collect())
    }

    /// No rows yet, with the columns `encode` fills for the record type.
    pub fn encoding(&self) -> Result<Encoded, DomainError> {
        let mut cols = super::batch::record_columns(self.def);
        cols.extend(
            custom_values::encode(&self.keys, self.def.table, "-", &self.defs, &Map::new())?
                .into_iter()
                .map(|(c, _)| c),
        );
        Ok(Encoded {
            ids: Vec::new(),
            cols,
            records: Vec::new(),
            token_rows: Vec::new(),
            links: Vec::new(),
            statements: Vec::new(),
            tokens: Vec::new(),
            strict: BTreeMap::new(),
            seen: None,
        })
    }

    /// Build the INSERTs of the rows encoded since the last call (the CPU work of writing
    /// them, done before the write transaction needs them). Their search tokens are kept
    /// aside for `write`'s caller.
    pub fn seal(&self, out: &mut Encoded) {
        let built = super::batch::record_statements(
            self.store.db.backend(),
            self.def,
            &out.cols,
            std::mem::take(&mut out.records),
            &out.token_rows,
            &out.links,
        );
        out.statements.extend(built);
        out.tokens.append(&mut out.token_rows);
        out.links.clear();
    }

    /// Encode (encrypt, tokenise) the rows into `out` for `write`: the CPU work of writing
    /// them, done before the write transaction needs them. Called again, it adds more rows.
    pub fn encode(&self, out: &mut Encoded, rows: &[Pending]) -> Result<(), DomainError> {
        let def = self.def;
        let keys = &self.keys;
        for p in rows {
            let id = p.id.as_str();
            let mut row: Vec<SqlValue> = vec![
                id.into(),
                self.now.into(),
                self.now.into(),
                self.actor.user_id.clone().into(),
            ];
            for f in def.fields {
                codec::encode_values(
                    f,
                    p.values.get(f.name).unwrap_or(&FieldValue::Null),
                    keys,
                    def.table,
                    id,
                    &mut row,
                )?;
            }
            for (_, v) in derived(def, &p.values) {
                row.push(v);
            }
            for (_, v) in custom_values::encode(keys, def.table, id, &self.defs, &p.custom)? {
                row.push(v);
            }
            out.records.push(row);
            let mut toks = tokens::tokens_for(keys, def, &p.values);
            toks.extend(custom_values::tokens(keys, &self.defs, &p.custom));
            toks.sort();
            toks.dedup();
            out.token_rows
                .extend(toks.into_iter().map(|t| (p.id.clone(), t)));
            if let Some(FieldValue::Links(l)) = p.values.get("accounts") {
                out.links
                    .extend(l.iter().map(|x| (p.id.clone(), x.clone())));
            }
            for (rule, keys) in &p.strict {
                out.strict
                    .entry(rule.clone())
                    .or_default()
                    .extend(keys.iter().cloned());
            }
            out.ids.push(p.id.clone());
        }
        Ok(())
    }

    /// Write encoded rows inside `tx`: multi-row INSERTs of the records, their token lists
    /// and account links, and one change-feed event for the batch. Its audit entry (with
    /// `details`, like the event) is added to `trail`, which the caller records with
    /// [`audit::record_many`] as the transaction's last write: the chain's head stays locked
    /// from then until the commit, and whatever else is audited meanwhile (someone reading a
    /// page) waits that long. Returns the ids written, in order, and the rows' search tokens,
    /// which the caller writes (for a whole transaction at once, `generations::write_bulk`).
    pub async fn write<C: ConnectionTrait>(
        &self,
        tx: &C,
        mut rows: Encoded,
        details: Value,
        trail: &mut Vec<audit::Entry>,
    ) -> Result<Written, DomainError> {
        if rows.ids.is_empty() {
            return Ok(Written::default());
        }
        if rows.unsealed() > 0 {
            self.seal(&mut rows);
        }
        let Encoded {
            ids,
            statements,
            tokens,
            strict,
            seen,
            ..
        } = rows;
        let def = self.def;
        // A record committed since the rows were checked (a create while the import ran) may
        // hold a key a rule refuses: the transaction is rolled back and the batch checked
        // again by the job's next run, which then finds it.
        let confirmed = duplicates::confirm_batch(
            tx,
            &self.store,
            def,
            strict.into_iter().collect(),
            seen.as_ref().map(|s| (s, &self.claims)),
        )
        .await?;
        if let Some(rule) = confirmed.refused {
            return Err(DomainError::Conflict(format!(
                "a {} created while these rows were checked matches one of them by the {rule} \
                 rule; the rows are checked again",
                def.key()
            )));
        }
        super::batch::run_all(tx, statements).await?;
        let mut summary =
            json!({"count": ids.len(), "first_id": ids.first(), "last_id": ids.last()});
        if let (Value::Object(s), Value::Object(d)) = (&mut summary, details) {
            s.extend(d);
        }
        trail.push(
            audit::Entry::new(format!("{}.batch_created", def.key()))
                .object(def.key(), "*")
                .details(summary.clone()),
        );
        outbox::emit(
            tx,
            &self.store,
            &self.actor,
            &format!("{}.batch_created", def.key()),
            def.key(),
            "*",
            summary,
        )
        .await?;
        Ok(Written {
            ids,
            tokens,
            looked_up: confirmed.looked_up,
        })
    }
}

#[cfg(test)]
#[path = "fast_create_tests.rs"]
mod tests;
