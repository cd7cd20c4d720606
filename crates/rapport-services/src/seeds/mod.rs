//! The rows migrations seed (`rapport_db::migrate::DataStep`): built-in roles and their
//! rights on record types added later, the audit chain's head, default picklists, the default
//! sales pipeline. Each step only fills in what is missing.

mod builtin_roles;

pub use builtin_roles::{builtin_roles, BuiltinRole};

use chrono::{DateTime, Utc};
use rapport_core::{DomainError, Object};
use rapport_db::migrate::DataStep;
use rapport_db::{build, db_err, Db};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

fn a(s: &str) -> Alias {
    Alias::new(s)
}

/// What the services seed when a migration asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeds;

#[async_trait::async_trait]
impl rapport_db::migrate::Seeds for Seeds {
    async fn seed(
        &self,
        tx: &DatabaseTransaction,
        step: DataStep,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        seed_data(tx, step, now).await
    }
}

/// Apply every migration not yet applied, seeding what they ask for (the database's schema
/// is `rapport_db::migrate`'s).
pub async fn migrate(db: &Db, now: DateTime<Utc>) -> Result<(), DomainError> {
    crate::objects::register();
    rapport_db::migrate::run(db, now, &Seeds).await
}

/// Data the first migration needs: the built-in roles, the audit chain head, picklists.
async fn foundation(tx: &DatabaseTransaction, now: DateTime<Utc>) -> Result<(), DomainError> {
    let backend = tx.get_database_backend();
    seed_data(tx, DataStep::MissingRoles, now).await?;
    tx.execute(build(
        backend,
        Query::insert()
            .into_table(a("audit_head"))
            .columns([a("id"), a("seq"), a("hash")])
            .values_panic([1.into(), 0i64.into(), crate::audit::GENESIS.into()]),
    ))
    .await
    .map_err(db_err)?;
    seed_data(tx, DataStep::Picklists, now).await?;
    Ok(())
}

async fn seed_data(
    tx: &DatabaseTransaction,
    step: DataStep,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let backend = tx.get_database_backend();
    match step {
        DataStep::Foundation => Box::pin(foundation(tx, now)).await?,
        DataStep::Picklists => {
            for (list, values) in crate::picklists::DEFAULTS {
                let present = tx
                    .query_one(build(
                        backend,
                        Query::select()
                            .column(a("value"))
                            .from(a("picklist_values"))
                            .and_where(Expr::col(a("list_key")).eq(*list))
                            .limit(1),
                    ))
                    .await
                    .map_err(db_err)?;
                if present.is_some() {
                    continue;
                }
                for (pos, (value, en, zh)) in values.iter().enumerate() {
                    tx.execute(build(
                        backend,
                        Query::insert()
                            .into_table(a("picklist_values"))
                            .columns(
                                [
                                    "list_key", "value", "label_en", "label_zh", "position",
                                    "active",
                                ]
                                .map(a),
                            )
                            .values_panic([
                                (*list).into(),
                                (*value).into(),
                                (*en).into(),
                                (*zh).into(),
                                (pos as i32).into(),
                                true.into(),
                            ]),
                    ))
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        DataStep::RoleGrants(objects) => {
            for role in builtin_roles() {
                let row = tx
                    .query_one(build(
                        backend,
                        Query::select()
                            .column(a("grants"))
                            .from(a("roles"))
                            .and_where(Expr::col(a("key")).eq(role.key)),
                    ))
                    .await
                    .map_err(db_err)?;
                let Some(row) = row else { continue };
                let raw: String = rapport_db::get(&row, "grants")?;
                let mut grants: rapport_core::Grants =
                    serde_json::from_str(&raw).map_err(DomainError::internal)?;
                let mut changed = false;
                for o in objects.iter().filter_map(|k| Object::parse(k)) {
                    let o = &o;
                    if grants.permissions.contains_key(o) {
                        continue;
                    }
                    if let Some(p) = role.grants.permissions.get(o) {
                        grants.permissions.insert(*o, p.clone());
                        changed = true;
                    }
                    if let Some(r) = role.grants.field_rules.get(o) {
                        grants.field_rules.insert(*o, r.clone());
                    }
                }
                if changed {
                    let json = serde_json::to_string(&grants).map_err(DomainError::internal)?;
                    tx.execute(build(
                        backend,
                        Query::update()
                            .table(a("roles"))
                            .value(a("grants"), json)
                            .and_where(Expr::col(a("key")).eq(role.key)),
                    ))
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        DataStep::DefaultPipeline => crate::pipelines::seed_default(tx, now).await?,
        DataStep::MissingRoles => {
            for role in builtin_roles() {
                let present = tx
                    .query_one(build(
                        backend,
                        Query::select()
                            .column(a("id"))
                            .from(a("roles"))
                            .and_where(Expr::col(a("key")).eq(role.key)),
                    ))
                    .await
                    .map_err(db_err)?;
                if present.is_some() {
                    continue;
                }
                let grants = serde_json::to_string(&role.grants).map_err(DomainError::internal)?;
                tx.execute(build(
                    backend,
                    Query::insert()
                        .into_table(a("roles"))
                        .columns(
                            [
                                "id",
                                "key",
                                "name_en",
                                "name_zh",
                                "grants",
                                "require_mfa",
                                "builtin",
                                "created_at",
                                "updated_at",
                            ]
                            .map(a),
                        )
                        .values_panic([
                            rapport_core::ids::new_id().into(),
                            role.key.into(),
                            role.name_en.into(),
                            role.name_zh.into(),
                            grants.into(),
                            false.into(),
                            true.into(),
                            now.into(),
                            now.into(),
                        ]),
                ))
                .await
                .map_err(db_err)?;
            }
        }
    }
    Ok(())
}
