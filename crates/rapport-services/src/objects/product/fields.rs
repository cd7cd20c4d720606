//! The fields of product records.

use crate::objects::common::{CURRENCY, TAGS};
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Products (产品): what is sold, with a list price, unit and tax rate.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new("code", Text { max: 64 }, "Code", "产品编码").required(),
    FieldSpec::new("name", Text { max: 200 }, "Name", "产品名称").required(),
    FieldSpec::new(
        "category",
        Picklist("product_category"),
        "Category",
        "产品类别",
    ),
    FieldSpec::new("unit", Text { max: 20 }, "Unit", "单位"),
    FieldSpec::new("price", Money, "List price", "标准价格"),
    CURRENCY,
    FieldSpec::new(
        "tax_rate",
        Integer { min: 0, max: 100 },
        "Tax rate (%)",
        "税率 (%)",
    ),
    FieldSpec::new("active", Bool, "On sale", "在售"),
    TAGS,
    FieldSpec::new("description", LongText, "Description", "描述"),
];
