//! Realistic synthetic companies and people, Chinese and English, for demos and benchmarks.

use crate::access::Access;
use crate::objects::{ACCOUNTS, CONTACTS};
use crate::records::{self, WriteOptions};
use crate::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport_core::{validate, DomainError};
use serde_json::{json, Map, Value};

const CITIES: &[(&str, &str, &str)] = &[
    ("北京", "北京", "010"),
    ("上海", "上海", "021"),
    ("广东", "深圳", "0755"),
    ("广东", "广州", "020"),
    ("浙江", "杭州", "0571"),
    ("江苏", "南京", "025"),
    ("江苏", "苏州", "0512"),
    ("四川", "成都", "028"),
    ("湖北", "武汉", "027"),
    ("陕西", "西安", "029"),
    ("天津", "天津", "022"),
    ("重庆", "重庆", "023"),
    ("山东", "青岛", "0532"),
    ("福建", "厦门", "0592"),
    ("湖南", "长沙", "0731"),
];
const WORDS_ZH: &[&str] = &[
    "华信", "恒泰", "远航", "星辰", "鼎盛", "博远", "天成", "瑞丰", "中和", "金桥", "长青", "宏图",
    "智联", "云启", "海纳", "正源", "嘉禾", "新锐", "同创", "汇通",
];
const TRADES_ZH: &[(&str, &str)] = &[
    ("科技", "it"),
    ("信息技术", "it"),
    ("机械制造", "manufacturing"),
    ("贸易", "retail"),
    ("物流", "logistics"),
    ("医疗器械", "healthcare"),
    ("新能源", "energy"),
    ("教育咨询", "education"),
    ("投资管理", "finance"),
    ("置业", "real_estate"),
];
const WORDS_EN: &[&str] = &[
    "Northwind",
    "Bluepeak",
    "Silverline",
    "Harbor",
    "Evergreen",
    "Brightpath",
    "Ironwood",
    "Summit",
    "Redwood",
    "Clearwater",
    "Golden Gate",
    "Pioneer",
    "Atlas",
    "Lighthouse",
    "Cedar",
];
const TRADES_EN: &[(&str, &str)] = &[
    ("Software", "it"),
    ("Manufacturing", "manufacturing"),
    ("Trading", "retail"),
    ("Logistics", "logistics"),
    ("Medical", "healthcare"),
    ("Energy", "energy"),
    ("Learning", "education"),
    ("Capital", "finance"),
];
const FAMILY_ZH: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "欧阳", "司马",
];
const GIVEN_ZH: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "强", "婷", "涛", "明", "超",
    "秀英", "建华", "志强", "晓东", "海燕", "子涵", "思远", "雨桐",
];
const FAMILY_EN: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clark", "Lewis", "Walker", "Hall", "Young",
    "King", "Wright", "Green", "Baker",
];
const GIVEN_EN: &[&str] = &[
    "James", "Mary", "John", "Linda", "David", "Susan", "Daniel", "Emma", "Michael", "Olivia",
    "Chris", "Sophia", "Peter", "Grace",
];
const TITLES_ZH: &[&str] = &[
    "总经理",
    "采购经理",
    "技术总监",
    "财务经理",
    "销售总监",
    "项目经理",
    "IT 主管",
    "行政主管",
];
const TITLES_EN: &[&str] = &[
    "CEO",
    "Purchasing Manager",
    "CTO",
    "Finance Manager",
    "Head of Sales",
    "Project Manager",
    "IT Lead",
    "Office Manager",
];
const LEVELS: &[&str] = &["A", "B", "B", "C", "C", "C"];
const SOURCES: &[&str] = &[
    "referral",
    "website",
    "exhibition",
    "cold_call",
    "partner",
    "advertising",
];
const STATUSES: &[&str] = &["prospect", "active", "active", "dormant", "lost"];
const SIZES: &[&str] = &["1-49", "50-199", "200-999", "1000+"];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// A valid unified social credit code.
pub fn credit_code(rng: &mut StdRng) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut first = String::from("91");
    first.push_str(&format!("{:06}", rng.gen_range(110000..660000)));
    for _ in 0..9 {
        first.push(CHARS[rng.gen_range(0..CHARS.len())] as char);
    }
    let check = validate::credit_code_check_char(&first).unwrap_or('0');
    format!("{first}{check}")
}

/// A plausible Chinese mobile number (E.164).
pub fn mobile(rng: &mut StdRng) -> String {
    const PREFIXES: &[&str] = &[
        "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158", "159", "186",
        "187", "188", "189",
    ];
    format!(
        "+86{}{:08}",
        pick(rng, PREFIXES),
        rng.gen_range(0..100_000_000u32)
    )
}

/// One synthetic account document (as the API takes it).
pub fn account_doc(rng: &mut StdRng, n: u64) -> Map<String, Value> {
    let (province, city, area) = *pick(rng, CITIES);
    let chinese = rng.gen_bool(0.75);
    let (name, industry) = if chinese {
        let (trade, ind) = *pick(rng, TRADES_ZH);
        (
            format!(
                "{city}{}{trade}有限公司{}",
                pick(rng, WORDS_ZH),
                if n > 0 {
                    format!("（{n}）")
                } else {
                    String::new()
                }
            ),
            ind,
        )
    } else {
        let (trade, ind) = *pick(rng, TRADES_EN);
        (
            format!(
                "{} {trade} {}Co., Ltd.",
                pick(rng, WORDS_EN),
                if n > 0 {
                    format!("{n} ")
                } else {
                    String::new()
                }
            ),
            ind,
        )
    };
    let revenue: i64 = rng.gen_range(1..5000) * 100_000;
    let mut doc = Map::new();
    doc.insert("name".into(), json!(name));
    doc.insert("credit_code".into(), json!(credit_code(rng)));
    doc.insert("industry".into(), json!(industry));
    doc.insert("size".into(), json!(pick(rng, SIZES)));
    doc.insert("level".into(), json!(pick(rng, LEVELS)));
    doc.insert("source".into(), json!(pick(rng, SOURCES)));
    doc.insert("status".into(), json!(pick(rng, STATUSES)));
    doc.insert("province".into(), json!(province));
    doc.insert("city".into(), json!(city));
    let landline = format!(
        "+86{}{:08}",
        area.trim_start_matches('0'),
        rng.gen_range(20_000_000..89_999_999u32)
    );
    let phone = if validate::phone_e164(&landline, "CN").is_some() {
        landline
    } else {
        mobile(rng)
    };
    doc.insert("phone".into(), json!(phone));
    doc.insert("annual_revenue".into(), json!(revenue.to_string()));
    doc.insert(
        "tags".into(),
        if rng.gen_bool(0.2) {
            json!(["vip"])
        } else {
            json!([])
        },
    );
    doc
}

/// One synthetic contact document.
pub fn contact_doc(rng: &mut StdRng, n: u64) -> Map<String, Value> {
    let chinese = rng.gen_bool(0.8);
    let (family, given, title) = if chinese {
        (
            pick(rng, FAMILY_ZH).to_string(),
            pick(rng, GIVEN_ZH).to_string(),
            pick(rng, TITLES_ZH).to_string(),
        )
    } else {
        (
            pick(rng, FAMILY_EN).to_string(),
            pick(rng, GIVEN_EN).to_string(),
            pick(rng, TITLES_EN).to_string(),
        )
    };
    let mut doc = Map::new();
    doc.insert("family_name".into(), json!(family));
    doc.insert("given_name".into(), json!(given));
    doc.insert("title".into(), json!(title));
    doc.insert("mobile".into(), json!(mobile(rng)));
    doc.insert(
        "email".into(),
        json!(format!("user{n}.{}@example.com", rng.gen_range(1000..9999))),
    );
    doc.insert(
        "consent_email".into(),
        json!({"granted": rng.gen_bool(0.6), "source": "demo"}),
    );
    doc
}

/// A small sample set created through the normal services (first-run "sample data").
pub async fn sample(
    store: &Store,
    actor: &Access,
    accounts: u64,
    contacts: u64,
) -> Result<(), DomainError> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut ids = Vec::new();
    let opts = WriteOptions {
        override_duplicates: true,
        ..WriteOptions::default()
    };
    for i in 0..accounts {
        let doc = account_doc(&mut rng, i);
        match records::create(store, actor, &ACCOUNTS, &doc, opts).await {
            Ok(a) => ids.push(a["id"].as_str().unwrap_or_default().to_string()),
            Err(DomainError::Duplicate { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    for i in 0..contacts {
        let mut doc = contact_doc(&mut rng, i);
        if !ids.is_empty() {
            let aid = ids[rng.gen_range(0..ids.len())].clone();
            doc.insert("accounts".into(), json!([{"account_id": aid, "role": pick(&mut rng, &["decision_maker", "influencer", "user"])}]));
        }
        match records::create(store, actor, &CONTACTS, &doc, opts).await {
            Ok(_) | Err(DomainError::Duplicate { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One synthetic opportunity on `account_id`, in a stage of the default pipeline (mostly open;
/// won and lost ones carry what they need).
/// `today`: the day close dates are counted from.
pub fn opportunity_doc(
    rng: &mut StdRng,
    account_id: &str,
    n: u64,
    today: chrono::NaiveDate,
) -> Map<String, Value> {
    const STAGES: &[&str] = &[
        "prospecting",
        "prospecting",
        "needs_analysis",
        "needs_analysis",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ];
    const PRODUCTS: &[&str] = &[
        "CRM",
        "ERP",
        "MES",
        "数据平台",
        "云服务",
        "运维外包",
        "培训",
    ];
    let stage = *pick(rng, STAGES);
    let mut doc = Map::new();
    doc.insert(
        "name".into(),
        json!(format!("{} 项目 #{n}", pick(rng, PRODUCTS))),
    );
    doc.insert("account_id".into(), json!(account_id));
    doc.insert("stage".into(), json!(stage));
    let amount: i64 = rng.gen_range(10..2000) * 1000;
    doc.insert("amount".into(), json!(amount.to_string()));
    let close = today + chrono::Days::new(rng.gen_range(1..180));
    doc.insert(
        "expected_close_date".into(),
        json!(close.format("%Y-%m-%d").to_string()),
    );
    doc.insert("source".into(), json!(pick(rng, SOURCES)));
    if stage == "lost" {
        doc.insert(
            "lost_reason".into(),
            json!(pick(rng, &["price", "competitor", "no_budget", "timing"])),
        );
    }
    doc
}

/// One synthetic lead.
pub fn lead_doc(rng: &mut StdRng, n: u64) -> Map<String, Value> {
    let mut doc = contact_doc(rng, n);
    doc.remove("consent_email");
    let company = account_doc(rng, n)["name"].clone();
    doc.insert("company".into(), company);
    doc.insert("source".into(), json!(pick(rng, SOURCES)));
    doc.insert(
        "status".into(),
        json!(pick(rng, &["new", "new", "contacted", "qualified"])),
    );
    doc.insert("score".into(), json!(rng.gen_range(0..=100)));
    doc
}
