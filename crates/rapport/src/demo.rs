//! `rapport demo`: a small sales organisation and as many synthetic accounts and contacts as
//! asked for, inserted in large batches with progress on stderr.

use anyhow::{anyhow, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport_auth::service::{self, UserSpec};
use rapport_db::search_index::generations;
use rapport_services::access::Access;
use rapport_services::objects::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
use rapport_services::records::batch;
use rapport_services::{demo, users, Store};
use serde_json::json;
use std::time::Instant;

const TEAM: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "demo.manager.east@example.com",
        "陈经理",
        "华东销售部",
        None,
    ),
    (
        "demo.rep1@example.com",
        "王小明",
        "华东销售部",
        Some("demo.manager.east@example.com"),
    ),
    (
        "demo.rep2@example.com",
        "李娜",
        "华东销售部",
        Some("demo.manager.east@example.com"),
    ),
    (
        "demo.rep3@example.com",
        "张伟",
        "华东销售部",
        Some("demo.manager.east@example.com"),
    ),
    (
        "demo.manager.south@example.com",
        "Grace Lin",
        "华南销售部",
        None,
    ),
    (
        "demo.rep4@example.com",
        "刘洋",
        "华南销售部",
        Some("demo.manager.south@example.com"),
    ),
    (
        "demo.rep5@example.com",
        "Peter Walker",
        "华南销售部",
        Some("demo.manager.south@example.com"),
    ),
    (
        "demo.rep6@example.com",
        "赵敏",
        "华南销售部",
        Some("demo.manager.south@example.com"),
    ),
];

/// Create the demo team if missing; return the ids of the users who will own records.
async fn team(store: &Store) -> Result<Vec<String>> {
    let mut owners = Vec::new();
    for (email, name, dept, manager) in TEAM {
        let user = match users::credentials_by_email(store, email)
            .await
            .map_err(|e| anyhow!("{e}"))?
        {
            Some(c) => c.user,
            None => {
                let role = if manager.is_some() {
                    "sales_rep"
                } else {
                    "sales_manager"
                };
                let spec = UserSpec {
                    email: email.to_string(),
                    name: Some(name.to_string()),
                    // Demo users cannot sign in until an administrator sets a password.
                    password: rapport_auth::token::random_token("demo-"),
                    roles: vec![role.into()],
                    department: Some(dept.to_string()),
                    manager_email: manager.map(str::to_string),
                    ..Default::default()
                };
                service::create_user(store, &Access::system(store).await?, spec)
                    .await
                    .map_err(|e| anyhow!("{e}"))?
            }
        };
        owners.push(user.id);
    }
    Ok(owners)
}

/// How many of each record type `rapport demo` creates.
pub struct Sizes {
    pub accounts: u64,
    pub contacts: u64,
    pub leads: u64,
    pub opportunities: u64,
}

/// Search tokens: generation 0 moved out when full, as the server does (ADR 0026), so the
/// batches' tokens go into a small tree.
async fn tokens_upkeep(store: &Store) -> Result<()> {
    let policy = generations::Policy::default();
    while generations::step(&store.db, &policy, true, generations::Tidy::Due)
        .await
        .map_err(crate::describe)?
        != generations::Done::Nothing
    {}
    Ok(())
}

pub async fn run(store: &Store, sizes: Sizes, seed: u64) -> Result<()> {
    let Sizes {
        accounts,
        contacts,
        leads,
        opportunities,
    } = sizes;
    if accounts == 0 && opportunities > 0 {
        anyhow::bail!("opportunities need at least one account");
    }
    if accounts == 0 && contacts > 0 {
        anyhow::bail!("contacts need at least one account to belong to");
    }
    let started = Instant::now();
    let today = store.now().date_naive();
    let owners = team(store).await?;
    let actor = Access::system(store).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut account_ids: Vec<String> = Vec::with_capacity(accounts as usize);
    let mut done = 0u64;
    while done < accounts {
        let n = (accounts - done).min(2000);
        let docs: Vec<_> = (0..n)
            .map(|i| {
                let mut d = demo::account_doc(&mut rng, done + i + 1);
                d.insert(
                    "owner_id".into(),
                    json!(owners[rng.gen_range(0..owners.len())]),
                );
                d
            })
            .collect();
        account_ids.extend(
            batch::insert_many(store, &actor, &ACCOUNTS, &docs)
                .await
                .map_err(crate::describe)?,
        );
        done += n;
        tokens_upkeep(store).await?;
        eprintln!(
            "accounts: {done}/{accounts} ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
    }
    let mut done = 0u64;
    while done < contacts {
        let n = (contacts - done).min(5000);
        let docs: Vec<_> = (0..n)
            .map(|i| {
                let mut d = demo::contact_doc(&mut rng, done + i + 1);
                d.insert(
                    "owner_id".into(),
                    json!(owners[rng.gen_range(0..owners.len())]),
                );
                let account = &account_ids[rng.gen_range(0..account_ids.len())];
                let role = ["decision_maker", "influencer", "user"][rng.gen_range(0..3)];
                d.insert(
                    "accounts".into(),
                    json!([{"account_id": account, "role": role}]),
                );
                d
            })
            .collect();
        batch::insert_many(store, &actor, &CONTACTS, &docs)
            .await
            .map_err(crate::describe)?;
        done += n;
        tokens_upkeep(store).await?;
        eprintln!(
            "contacts: {done}/{contacts} ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
    }
    for (what, total, per) in [
        ("leads", leads, 5000u64),
        ("opportunities", opportunities, 2000),
    ] {
        let mut done = 0u64;
        while done < total {
            let n = (total - done).min(per);
            let docs: Vec<_> = (0..n)
                .map(|i| {
                    let mut d = if what == "leads" {
                        demo::lead_doc(&mut rng, done + i + 1)
                    } else {
                        let account = &account_ids[rng.gen_range(0..account_ids.len())];
                        demo::opportunity_doc(&mut rng, account, done + i + 1, today)
                    };
                    d.insert(
                        "owner_id".into(),
                        json!(owners[rng.gen_range(0..owners.len())]),
                    );
                    d
                })
                .collect();
            let def = if what == "leads" {
                &LEADS
            } else {
                &OPPORTUNITIES
            };
            batch::insert_many(store, &actor, def, &docs)
                .await
                .map_err(crate::describe)?;
            done += n;
            tokens_upkeep(store).await?;
            eprintln!(
                "{what}: {done}/{total} ({:.0}s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Every generation of search tokens merged into one, so lookups seek it once.
    generations::compact(&store.db)
        .await
        .map_err(crate::describe)?;
    // Fresh statistics, or the planners choose scans for the new rows (measured: 137 -> 670
    // list requests/s on PostgreSQL right after loading).
    {
        use sea_orm::ConnectionTrait;
        store.db.writer().execute_unprepared("ANALYZE").await?;
    }
    println!(
        "created {accounts} accounts, {contacts} contacts, {leads} leads and {opportunities} opportunities in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
