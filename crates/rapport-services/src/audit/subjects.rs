//! Per-person keys for the audit trail (crypto-shredding). What an entry says about a person
//! (the values of a contact's or lead's fields that describe them) is sealed with a key of
//! that person's own, kept wrapped with the field keys in `subject_keys`. Reading the trail
//! opens the sealed values while the key exists; an erasure deletes the key, after which they
//! read as `[erased]`. The entries themselves, and the hash chain over them, never change.

use super::AuditRow;
use crate::crypto::SubjectKey;
use crate::Store;
use rapport_core::DomainError;
use rapport_db::{exec, get, one};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::collections::HashMap;

const TABLE: &str = "subject_keys";
const COLUMN: &str = "key_enc";

/// The key of a sealed value in the trail: `{"sealed": "…"}`.
pub const SEALED: &str = "sealed";

/// Beside [`SEALED`] in a value sealed with the key of a person other than the entry's own
/// object (an activity's subject, sealed with the key of the contact it is logged on):
/// `{"sealed": "…", "of": "contact:<id>"}`.
pub const OF: &str = "of";

/// What a sealed value reads as once its person was erased.
pub const ERASED: &str = "[erased]";

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn place(object_type: &str, id: &str) -> String {
    format!("{object_type}:{id}")
}

fn aad(object_type: &str, id: &str) -> String {
    format!("audit:{object_type}:{id}")
}

/// Seals values of one person's record for the trail.
pub struct Sealer {
    key: SubjectKey,
    aad: String,
    place: String,
}

impl Sealer {
    /// `v` sealed (`null` stays `null`: that a value was empty is no secret).
    pub fn seal(&self, v: &Value) -> Result<Value, DomainError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let sealed = self.key.seal(&self.aad, v.to_string().as_bytes())?;
        Ok(json!({ SEALED: sealed }))
    }

    /// `v` sealed in an entry about another object, naming the person whose key sealed it.
    pub fn seal_naming(&self, v: &Value) -> Result<Value, DomainError> {
        match self.seal(v)? {
            Value::Object(mut m) => {
                m.insert(OF.into(), Value::String(self.place.clone()));
                Ok(Value::Object(m))
            }
            other => Ok(other),
        }
    }
}

/// Make a key for the person and store it (wrapped with the field keys) unless one is stored
/// already: the new key, or `None` when another transaction had made one.
async fn make_key<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    object_type: &str,
    id: &str,
) -> Result<Option<String>, DomainError> {
    let raw = SubjectKey::encode(&SubjectKey::generate());
    let wrapped = store
        .keys()?
        .encrypt(TABLE, COLUMN, &place(object_type, id), &raw)?;
    let inserted = exec(
        c,
        Query::insert()
            .into_table(t(TABLE))
            .columns(["object_type", "object_id", "key_enc", "created_at"].map(t))
            .values_panic([
                object_type.into(),
                id.into(),
                wrapped.into(),
                store.now().into(),
            ])
            .on_conflict(
                OnConflict::columns([t("object_type"), t("object_id")])
                    .do_nothing()
                    .to_owned(),
            ),
    )
    .await?;
    Ok((inserted == 1).then_some(raw))
}

fn sealer_of(raw: &str, object_type: &str, id: &str) -> Result<Sealer, DomainError> {
    Ok(Sealer {
        key: SubjectKey::from_b64(raw)?,
        aad: aad(object_type, id),
        place: place(object_type, id),
    })
}

/// The key of a person whose record is being created in the caller's transaction: made and
/// stored in one statement, with no read before or after as [`sealer`] needs for a person who
/// may have one already.
pub async fn sealer_for_new<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    object_type: &str,
    id: &str,
) -> Result<Sealer, DomainError> {
    match make_key(c, store, object_type, id).await? {
        Some(raw) => sealer_of(&raw, object_type, id),
        None => sealer(c, store, object_type, id).await,
    }
}

/// The keys of several people whose records are being created in the caller's transaction
/// (a group of creates), made and stored in one statement, in the order given.
pub async fn sealers_for_new<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    people: &[(&str, &str)],
) -> Result<Vec<Sealer>, DomainError> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let keys = store.keys()?;
    let now = store.now();
    let mut raws = Vec::with_capacity(people.len());
    let mut insert = Query::insert();
    insert
        .into_table(t(TABLE))
        .columns(["object_type", "object_id", "key_enc", "created_at"].map(t))
        .on_conflict(
            OnConflict::columns([t("object_type"), t("object_id")])
                .do_nothing()
                .to_owned(),
        );
    for (object_type, id) in people {
        let raw = SubjectKey::encode(&SubjectKey::generate());
        let wrapped = keys.encrypt(TABLE, COLUMN, &place(object_type, id), &raw)?;
        insert.values_panic([
            (*object_type).into(),
            (*id).into(),
            wrapped.into(),
            now.into(),
        ]);
        raws.push(raw);
    }
    let inserted = exec(c, &insert).await?;
    if inserted as usize != people.len() {
        // Some person had a key already (a record id used twice): read each stored key.
        let mut out = Vec::with_capacity(people.len());
        for (object_type, id) in people {
            out.push(sealer(c, store, object_type, id).await?);
        }
        return Ok(out);
    }
    people
        .iter()
        .zip(raws)
        .map(|((object_type, id), raw)| sealer_of(&raw, object_type, id))
        .collect()
}

/// The person's key (made on first use, in the caller's transaction), ready to seal.
pub async fn sealer<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    object_type: &str,
    id: &str,
) -> Result<Sealer, DomainError> {
    let wrapped = match stored(c, object_type, id).await? {
        Some(wrapped) => wrapped,
        None => match make_key(c, store, object_type, id).await? {
            Some(raw) => return sealer_of(&raw, object_type, id),
            // Another transaction made it first: use the one stored.
            None => stored(c, object_type, id)
                .await?
                .ok_or_else(|| DomainError::Internal("a subject key was not stored".into()))?,
        },
    };
    let raw = store
        .keys()?
        .decrypt(TABLE, COLUMN, &place(object_type, id), &wrapped)?;
    sealer_of(&raw, object_type, id)
}

async fn stored<C: ConnectionTrait>(
    c: &C,
    object_type: &str,
    id: &str,
) -> Result<Option<String>, DomainError> {
    one(
        c,
        Query::select()
            .column(t(COLUMN))
            .from(t(TABLE))
            .and_where(Expr::col(t("object_type")).eq(object_type))
            .and_where(Expr::col(t("object_id")).eq(id)),
    )
    .await?
    .map(|r| get(&r, COLUMN))
    .transpose()
}

/// Delete the person's key: what the trail sealed with it can no longer be read.
pub async fn shred<C: ConnectionTrait>(
    c: &C,
    object_type: &str,
    id: &str,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::delete()
            .from_table(t(TABLE))
            .and_where(Expr::col(t("object_type")).eq(object_type))
            .and_where(Expr::col(t("object_id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// Whether `m` is a sealed value: `{"sealed": "…"}`, or with `"of"` naming whose key.
fn is_sealed(m: &serde_json::Map<String, Value>) -> bool {
    m.get(SEALED).is_some_and(Value::is_string)
        && (m.len() == 1 || (m.len() == 2 && m.get(OF).is_some_and(Value::is_string)))
}

fn has_sealed(v: &Value) -> bool {
    match v {
        Value::Object(m) => is_sealed(m) || m.values().any(has_sealed),
        Value::Array(a) => a.iter().any(has_sealed),
        _ => false,
    }
}

/// The persons named by sealed values in `v` (`"of"`).
fn named(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if is_sealed(m) => {
            if let Some((ty, id)) = m
                .get(OF)
                .and_then(Value::as_str)
                .and_then(|p| p.split_once(':'))
            {
                out.push((ty.to_string(), id.to_string()));
            }
        }
        Value::Object(m) => m.values().for_each(|x| named(x, out)),
        Value::Array(a) => a.iter().for_each(|x| named(x, out)),
        _ => {}
    }
}

type Keys = HashMap<(String, String), Option<SubjectKey>>;

/// Replace every sealed value in `v` by what it holds, or by [`ERASED`]: with the key of the
/// person it names, else of the entry's own object (`own`).
fn open_all(v: &mut Value, keys: &Keys, own: Option<&(String, String)>) {
    match v {
        Value::Object(m) if is_sealed(m) => {
            let subject = match m
                .get(OF)
                .and_then(Value::as_str)
                .and_then(|p| p.split_once(':'))
            {
                Some((ty, id)) => Some((ty.to_string(), id.to_string())),
                None => own.cloned(),
            };
            let opened = subject.and_then(|(ty, id)| {
                let key = keys.get(&(ty.clone(), id.clone()))?.as_ref()?;
                let bytes = key.open(&aad(&ty, &id), m.get(SEALED)?.as_str()?)?;
                serde_json::from_slice(&bytes).ok()
            });
            *v = opened.unwrap_or_else(|| Value::String(ERASED.into()));
        }
        Value::Object(m) => m.values_mut().for_each(|x| open_all(x, keys, own)),
        Value::Array(a) => a.iter_mut().for_each(|x| open_all(x, keys, own)),
        _ => {}
    }
}

/// Open the sealed values of `rows` (one key read per person).
pub(super) async fn open_rows(store: &Store, rows: &mut [AuditRow]) -> Result<(), DomainError> {
    let keyring = store.keys()?;
    let mut cache: Keys = HashMap::new();
    for row in rows.iter_mut().filter(|r| has_sealed(&r.details)) {
        let own = row.object_type.clone().zip(row.object_id.clone());
        let mut wanted: Vec<(String, String)> = own.iter().cloned().collect();
        named(&row.details, &mut wanted);
        for (ty, id) in wanted {
            if cache.contains_key(&(ty.clone(), id.clone())) {
                continue;
            }
            let key = match stored(store.db.reader(), &ty, &id).await? {
                Some(wrapped) => keyring
                    .decrypt(TABLE, COLUMN, &place(&ty, &id), &wrapped)
                    .ok()
                    .and_then(|raw| SubjectKey::from_b64(&raw).ok()),
                None => None,
            };
            cache.insert((ty, id), key);
        }
        open_all(&mut row.details, &cache, own.as_ref());
    }
    Ok(())
}
