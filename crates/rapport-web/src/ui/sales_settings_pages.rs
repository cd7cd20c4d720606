//! Administrators' sales settings: pipelines and their stages, the contract approval flow, the
//! public pool's rules and price lists. Each form calls the same service as the API.

use super::form::field;
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::DomainError;
use rapport_services::pipelines::{self, PipelineDraft, Stage, StageKind};
use rapport_services::pool::{self, PoolSettings};
use rapport_services::price_lists::{self, ItemDraft, PriceListDraft};
use rapport_services::records::query::{self, ListParams};
use rapport_services::sales::approvals::{self, Flow, StepRule};
use serde_json::json;

/// A pipeline as its form shows it: (id, name_en, name_zh, stale_days, is_default, active,
/// stage rows [key, name_en, name_zh, probability, kind]).
type PipelineForm = (String, String, String, i64, bool, bool, Vec<[String; 5]>);
/// A price list as its form shows it: (id, name, currency, active, rows [product id, price]).
type PriceListForm = (String, String, String, bool, Vec<[String; 2]>);

#[derive(Template)]
#[template(path = "sales_settings.html")]
struct SalesSettingsPage {
    ctx: Ctx,
    error: Option<String>,
    notice: Option<String>,
    pipelines: Vec<PipelineForm>,
    /// (approver, min amount) rows, with blank rows to add steps.
    flow: Vec<(String, String)>,
    /// (value, label) of approvers a step may name.
    approvers: Vec<(String, String)>,
    pool: PoolSettings,
    price_lists: Vec<PriceListForm>,
    products: Vec<(String, String)>,
    /// Empty rows of a new price list.
    blank_prices: Vec<[String; 2]>,
    /// The form of a new pipeline: three open stages, a won and a lost one.
    new_pipeline: PipelineForm,
}

impl SalesSettingsPage {
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

fn blank_stage() -> [String; 5] {
    [
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        "open".into(),
    ]
}

pub async fn page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    if !page.ctx.is_admin {
        return redirect_or_error(
            lang,
            Err::<(), _>(DomainError::Forbidden("settings".into())),
            "",
        );
    }
    let store = &app.store;
    let actor = &page.access;
    let result: Result<SalesSettingsPage, DomainError> = async {
        let mut pipelines_form = Vec::new();
        for p in pipelines::list(store.db.reader()).await? {
            let mut rows: Vec<[String; 5]> = p
                .stages
                .iter()
                .map(|s| {
                    [
                        s.key.clone(),
                        s.name_en.clone(),
                        s.name_zh.clone(),
                        s.probability.to_string(),
                        s.kind.key().to_string(),
                    ]
                })
                .collect();
            rows.push(blank_stage());
            pipelines_form.push((
                p.id,
                p.name_en,
                p.name_zh,
                p.stale_days,
                p.is_default,
                p.active,
                rows,
            ));
        }
        let mut flow: Vec<(String, String)> = approvals::flow(store)
            .await?
            .steps
            .into_iter()
            .map(|s| (s.approver, s.min_amount.unwrap_or_default()))
            .collect();
        flow.push(Default::default());
        let mut approvers = vec![("manager".to_string(), t(lang, "doc.rule_manager"))];
        for r in rapport_services::roles::list(&store.db).await? {
            let name = if lang == Lang::Zh {
                r.name_zh
            } else {
                r.name_en
            };
            approvers.push((
                format!("role:{}", r.key),
                format!("{} · {name}", t(lang, "doc.rule_role")),
            ));
        }
        for u in rapport_services::users::list(store, actor).await? {
            if u.active {
                approvers.push((format!("user:{}", u.id), u.name));
            }
        }
        let mut lists = Vec::new();
        for l in price_lists::list(store, actor).await? {
            let mut rows: Vec<[String; 2]> = l
                .items
                .into_iter()
                .map(|i| [i.product_id, i.price])
                .collect();
            rows.push(Default::default());
            rows.push(Default::default());
            lists.push((l.id, l.name, l.currency, l.active, rows));
        }
        let products = query::list(
            store,
            actor,
            &rapport_services::objects::PRODUCTS,
            &ListParams {
                sort: Some("code".into()),
                limit: Some(200),
                ..Default::default()
            },
        )
        .await?
        .data
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or("").to_string(),
                format!(
                    "{} {}",
                    p["code"].as_str().unwrap_or(""),
                    p["name"].as_str().unwrap_or("")
                ),
            )
        })
        .collect();
        Ok(SalesSettingsPage {
            ctx: page.ctx.clone(),
            error: super::message(&q, &page.ctx, "error"),
            notice: (!field(&q, "saved").is_empty()).then(|| t(lang, "settings.saved")),
            pipelines: pipelines_form,
            flow,
            approvers,
            pool: pool::settings(store.db.reader()).await?,
            price_lists: lists,
            products,
            blank_prices: vec![Default::default(); 3],
            new_pipeline: (
                "new".into(),
                String::new(),
                String::new(),
                14,
                false,
                true,
                ["open", "open", "open", "won", "lost"]
                    .iter()
                    .map(|k| {
                        let mut row = blank_stage();
                        row[3] = match *k {
                            "won" => "100".into(),
                            "lost" => "0".into(),
                            _ => String::new(),
                        };
                        row[4] = (*k).into();
                        row
                    })
                    .collect(),
            ),
        })
    }
    .await;
    match result {
        Ok(p) => render(&p),
        Err(e) => redirect_or_error(lang, Err::<(), _>(e), ""),
    }
}

fn done(ctx: &super::Ctx, res: Result<(), DomainError>, anchor: &str) -> Response {
    match res {
        Ok(()) => Redirect::to(&format!("/admin/sales?saved=1#{anchor}")).into_response(),
        Err(e) => super::back_with_error(&format!("/admin/sales#{anchor}"), ctx, &e),
    }
}

fn all(f: &[(String, String)], name: &str) -> Vec<String> {
    f.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// Create (`id` "new") or replace a pipeline from its form.
pub async fn save_pipeline(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let (keys, en, zh, prob, kinds) = (
        all(&f, "key"),
        all(&f, "stage_en"),
        all(&f, "stage_zh"),
        all(&f, "probability"),
        all(&f, "kind"),
    );
    let mut stages = Vec::new();
    let mut bad = None;
    for (i, key) in keys.iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        let kind = match kinds.get(i).map(String::as_str) {
            Some("won") => StageKind::Won,
            Some("lost") => StageKind::Lost,
            _ => StageKind::Open,
        };
        let probability = match prob.get(i).map(|p| p.parse::<i64>()) {
            Some(Ok(p)) => p,
            _ => {
                bad = Some(DomainError::field(
                    format!("stages[{i}].probability"),
                    "invalid",
                    format!("the probability of {key} must be a whole number from 0 to 100"),
                ));
                0
            }
        };
        stages.push(Stage {
            key: key.clone(),
            name_en: en.get(i).cloned().unwrap_or_default(),
            name_zh: zh.get(i).cloned().unwrap_or_default(),
            probability,
            kind,
        });
    }
    if let Some(e) = bad {
        return done(&page.ctx, Err(e), "pipelines");
    }
    let draft = PipelineDraft {
        name_en: field(&f, "name_en"),
        name_zh: field(&f, "name_zh"),
        is_default: !field(&f, "is_default").is_empty(),
        active: !field(&f, "active").is_empty(),
        stale_days: field(&f, "stale_days").trim().parse().unwrap_or(0),
        stages,
    };
    let target = (id != "new").then_some(id.as_str());
    let res = pipelines::save(&app.store, &page.access, target, &draft)
        .await
        .map(|_| ());
    done(&page.ctx, res, "pipelines")
}

pub async fn save_flow(State(app): State<AppState>, Posted { page, form: f }: Posted) -> Response {
    let mins = all(&f, "min_amount");
    let steps = all(&f, "approver")
        .into_iter()
        .enumerate()
        .filter(|(_, a)| !a.is_empty())
        .map(|(i, approver)| StepRule {
            approver,
            min_amount: mins.get(i).cloned().filter(|m| !m.is_empty()),
        })
        .collect();
    let res = approvals::set_flow(&app.store, &page.access, Flow { steps })
        .await
        .map(|_| ());
    done(&page.ctx, res, "approval")
}

pub async fn save_pool(State(app): State<AppState>, Posted { page, form: f }: Posted) -> Response {
    let num = |name: &str| -> Result<u32, DomainError> {
        field(&f, name).trim().parse::<u32>().map_err(|_| {
            DomainError::field(
                name,
                "invalid",
                format!("{name} must be a whole number, 0 or more"),
            )
        })
    };
    let settings = (|| {
        Ok::<_, DomainError>(PoolSettings {
            daily_claim_limit: num("daily_claim_limit")?,
            max_owned: num("max_owned")?,
            auto_return: !field(&f, "auto_return").is_empty(),
            no_follow_up_days: num("no_follow_up_days")?,
            no_won_days: num("no_won_days")?,
            warn_days: num("warn_days")?,
        })
    })();
    let res = match settings {
        Ok(s) => pool::set_settings(&app.store, &page.access, s)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    done(&page.ctx, res, "pool")
}

/// Create (`id` "new") or replace a price list from its form.
pub async fn save_price_list(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let prices = all(&f, "price");
    let items = all(&f, "product_id")
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, product_id)| ItemDraft {
            product_id,
            price: json!(prices.get(i).cloned().unwrap_or_default()),
        })
        .collect();
    let draft = PriceListDraft {
        name: field(&f, "name"),
        currency: field(&f, "currency").trim().to_uppercase(),
        active: !field(&f, "active").is_empty(),
        items,
    };
    let target = (id != "new").then_some(id.as_str());
    let res = price_lists::save(&app.store, &page.access, target, &draft)
        .await
        .map(|_| ());
    done(&page.ctx, res, "price-lists")
}
