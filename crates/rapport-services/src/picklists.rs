//! Administrator-editable picklists (industry, level, source, ...), translated.

use crate::access::Access;
use rapport_core::DomainError;
use rapport_db::{all, exec, get, Db};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;

type Defaults = &'static [(
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
)];

pub const DEFAULTS: Defaults = &[
    (
        "industry",
        &[
            ("manufacturing", "Manufacturing", "制造业"),
            ("it", "Information technology", "信息技术"),
            ("finance", "Finance", "金融"),
            ("retail", "Retail", "零售"),
            ("education", "Education", "教育"),
            ("healthcare", "Healthcare", "医疗健康"),
            ("energy", "Energy", "能源"),
            ("logistics", "Logistics", "物流"),
            ("real_estate", "Real estate", "房地产"),
            ("government", "Government", "政府机构"),
            ("other", "Other", "其他"),
        ],
    ),
    (
        "company_size",
        &[
            ("1-49", "1–49", "1–49 人"),
            ("50-199", "50–199", "50–199 人"),
            ("200-999", "200–999", "200–999 人"),
            ("1000+", "1,000 or more", "1000 人以上"),
        ],
    ),
    (
        "account_level",
        &[
            ("A", "A (key)", "A（重点）"),
            ("B", "B (regular)", "B（普通）"),
            ("C", "C (small)", "C（小客户）"),
        ],
    ),
    (
        "account_source",
        &[
            ("referral", "Referral", "客户介绍"),
            ("website", "Website", "官网"),
            ("exhibition", "Trade show", "展会"),
            ("cold_call", "Cold call", "电话开发"),
            ("partner", "Partner", "合作伙伴"),
            ("advertising", "Advertising", "广告"),
        ],
    ),
    (
        "account_status",
        &[
            ("prospect", "Prospect", "潜在客户"),
            ("active", "Active", "成交客户"),
            ("dormant", "Dormant", "休眠客户"),
            ("lost", "Lost", "流失客户"),
        ],
    ),
    (
        "lead_status",
        &[
            ("new", "New", "新线索"),
            ("contacted", "Contacted", "已联系"),
            ("qualified", "Qualified", "已确认"),
            ("disqualified", "Disqualified", "无效"),
            ("converted", "Converted", "已转化"),
        ],
    ),
    (
        "disqualify_reason",
        &[
            ("no_budget", "No budget", "无预算"),
            ("no_need", "No need", "无需求"),
            ("unreachable", "Unreachable", "联系不上"),
            ("duplicate", "Duplicate", "重复线索"),
            ("competitor", "Competitor", "竞争对手"),
            ("other", "Other", "其他"),
        ],
    ),
    (
        "lost_reason",
        &[
            ("price", "Price", "价格"),
            ("competitor", "Chose a competitor", "选择了竞争对手"),
            ("no_budget", "No budget", "无预算"),
            ("no_decision", "No decision", "未决策"),
            ("timing", "Timing", "时机不对"),
            ("product_fit", "Product fit", "产品不匹配"),
            ("other", "Other", "其他"),
        ],
    ),
    (
        "opportunity_status",
        &[
            ("open", "Open", "进行中"),
            ("won", "Won", "赢单"),
            ("lost", "Lost", "输单"),
        ],
    ),
    (
        "product_category",
        &[
            ("software", "Software", "软件"),
            ("hardware", "Hardware", "硬件"),
            ("service", "Service", "服务"),
            ("subscription", "Subscription", "订阅"),
            ("other", "Other", "其他"),
        ],
    ),
    (
        "quote_status",
        &[
            ("draft", "Draft", "草稿"),
            ("sent", "Sent", "已发送"),
            ("accepted", "Accepted", "已接受"),
            ("rejected", "Rejected", "已拒绝"),
        ],
    ),
    (
        "contract_status",
        &[
            ("draft", "Draft", "草稿"),
            ("pending_approval", "Awaiting approval", "审批中"),
            ("approved", "Approved", "已生效"),
            ("rejected", "Rejected", "已驳回"),
            ("terminated", "Terminated", "已终止"),
        ],
    ),
    (
        "order_status",
        &[
            ("confirmed", "Confirmed", "已确认"),
            ("shipped", "Shipped", "已发货"),
            ("delivered", "Delivered", "已签收"),
            ("completed", "Completed", "已完成"),
            ("cancelled", "Cancelled", "已取消"),
        ],
    ),
    (
        "pool_release_reason",
        &[
            ("no_need", "No need for now", "暂无需求"),
            ("unreachable", "Cannot reach them", "联系不上"),
            (
                "too_many",
                "Too many accounts to follow",
                "客户太多跟进不过来",
            ),
            ("wrong_fit", "Not our customer", "非目标客户"),
            ("other", "Other", "其他"),
        ],
    ),
    (
        "payment_method",
        &[
            ("bank_transfer", "Bank transfer", "银行转账"),
            ("alipay", "Alipay", "支付宝"),
            ("wechat_pay", "WeChat Pay", "微信支付"),
            ("cheque", "Cheque", "支票"),
            ("acceptance_bill", "Bank acceptance bill", "承兑汇票"),
            ("cash", "Cash", "现金"),
            ("other", "Other", "其他"),
        ],
    ),
];

/// Lists whose values are states the application relies on: administrators may relabel them
/// but not add, remove or deactivate values.
pub const LOCKED: &[&str] = &[
    "lead_status",
    "opportunity_status",
    "quote_status",
    "contract_status",
    "order_status",
];

#[derive(Debug, Clone, Serialize)]
pub struct PicklistValue {
    pub list: String,
    pub value: String,
    pub label_en: String,
    pub label_zh: String,
    pub position: i32,
    pub active: bool,
}

pub async fn values(db: &Db, list: &str) -> Result<Vec<PicklistValue>, DomainError> {
    let rows = all(
        db.reader(),
        Query::select()
            .columns(
                [
                    "list_key", "value", "label_en", "label_zh", "position", "active",
                ]
                .map(Alias::new),
            )
            .from(Alias::new("picklist_values"))
            .and_where(Expr::col(Alias::new("list_key")).eq(list))
            .order_by(Alias::new("position"), Order::Asc),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PicklistValue {
                list: get(r, "list_key")?,
                value: get(r, "value")?,
                label_en: get(r, "label_en")?,
                label_zh: get(r, "label_zh")?,
                position: get(r, "position")?,
                active: get(r, "active")?,
            })
        })
        .collect()
}

/// Whether `value` is an active entry of `list`.
pub async fn is_allowed(db: &Db, list: &str, value: &str) -> Result<bool, DomainError> {
    Ok(values(db, list)
        .await?
        .iter()
        .any(|v| v.value == value && v.active))
}

/// Add or relabel a picklist value (administrators only).
pub async fn upsert(
    store: &crate::Store,
    actor: &Access,
    v: &PicklistValue,
) -> Result<(), DomainError> {
    may_change(actor)?;
    if !DEFAULTS.iter().any(|(k, _)| *k == v.list) {
        return Err(DomainError::field(
            "list",
            "unknown_picklist",
            format!("there is no picklist named {}", v.list),
        ));
    }
    if v.value.trim().is_empty() || v.value.chars().count() > 64 {
        return Err(DomainError::field(
            "value",
            "invalid",
            "value must be 1-64 characters",
        ));
    }
    for (name, label) in [("label_en", &v.label_en), ("label_zh", &v.label_zh)] {
        if label.trim().is_empty() || label.chars().count() > 60 {
            return Err(DomainError::field(
                name,
                "invalid",
                format!("{name} must be 1-60 characters"),
            ));
        }
    }
    if LOCKED.contains(&v.list.as_str()) {
        let known = DEFAULTS
            .iter()
            .find(|(k, _)| *k == v.list)
            .is_some_and(|(_, vals)| vals.iter().any(|(val, _, _)| *val == v.value));
        if !known || !v.active {
            return Err(DomainError::field(
                "value",
                "locked_picklist",
                format!(
                    "the values of {} are fixed: they may be relabelled, not added or deactivated",
                    v.list
                ),
            ));
        }
    }
    let tx = store.db.begin().await?;
    let t = Alias::new("picklist_values");
    exec(
        &tx,
        Query::delete()
            .from_table(t.clone())
            .and_where(Expr::col(Alias::new("list_key")).eq(v.list.as_str()))
            .and_where(Expr::col(Alias::new("value")).eq(v.value.as_str())),
    )
    .await?;
    exec(
        &tx,
        Query::insert()
            .into_table(t)
            .columns(
                [
                    "list_key", "value", "label_en", "label_zh", "position", "active",
                ]
                .map(Alias::new),
            )
            .values_panic([
                v.list.clone().into(),
                v.value.clone().into(),
                v.label_en.clone().into(),
                v.label_zh.clone().into(),
                v.position.into(),
                v.active.into(),
            ]),
    )
    .await?;
    crate::audit::record(
        &tx,
        store,
        actor,
        crate::audit::Entry::new("settings.picklist_changed")
            .object("picklist", &v.list)
            .details(serde_json::json!({"value": v.value, "label_en": v.label_en, "label_zh": v.label_zh, "active": v.active})),
    )
    .await?;
    tx.commit().await.map_err(rapport_db::db_err)
}

/// Changing picklists needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing picklists")
}
