//! Rebuilding every record's blind-index lookups under the current index key, after the key
//! was changed (`rapport keys rotate-index`): each sensitive field's `_bidx` column and the
//! record's search tokens, derived again from its decrypted values. A record changed
//! meanwhile is left alone: its writer already used the new key.

use super::read::{read_records_fresh, Needed};
use super::{codec, rewrite_tokens, t, ObjectDef};
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::DomainError;
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Order, Query};

/// What [`rebuild_lookups`] did for one record type.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rebuilt {
    pub records: u64,
    /// Records with values that do not decrypt: their lookups stay as they were.
    pub unreadable: u64,
}

/// Rebuild the lookups of every record of `def`, 500 at a time, telling `progress` the
/// running count.
pub async fn rebuild_lookups(
    store: &Store,
    def: &'static ObjectDef,
    mut progress: impl FnMut(u64),
) -> Result<Rebuilt, DomainError> {
    let keys = store.keys()?;
    let needed = Needed::all(def);
    let bidx: Vec<_> = def.fields.iter().filter(|f| codec::has_bidx(f)).collect();
    let mut out = Rebuilt::default();
    let mut after = String::new();
    loop {
        let mut q = Query::select();
        q.from(t(def.table))
            .and_where(Expr::col((t(def.table), t("id"))).gt(after.clone()))
            .order_by((t(def.table), t("id")), Order::Asc)
            .limit(500);
        let recs = read_records_fresh(store, &keys, def, q, &needed).await?;
        let Some(last) = recs.last() else {
            return Ok(out);
        };
        after = last.id.clone();
        let tx = store.db.begin().await?;
        for rec in &recs {
            if !rec.unreadable.is_empty() {
                out.unreadable += 1;
                continue;
            }
            if !bidx.is_empty() {
                let mut u = Query::update();
                u.table(t(def.table))
                    .and_where(Expr::col(t("id")).eq(rec.id.as_str()))
                    .and_where(Expr::col(t("version")).eq(rec.version));
                for f in &bidx {
                    let token = match rec.values.get(f.name) {
                        Some(FieldValue::Text(v)) if !v.is_empty() => {
                            Some(keys.blind(codec::bidx_kind(f.kind), v))
                        }
                        _ => None,
                    };
                    u.value(Alias::new(format!("{}_bidx", f.name)), token);
                }
                if exec(&tx, &u).await? == 0 {
                    continue;
                }
            }
            rewrite_tokens(&tx, store, def, rec).await?;
            out.records += 1;
        }
        tx.commit().await.map_err(db_err)?;
        progress(out.records);
    }
}
