//! The fields of opportunity records.

use crate::objects;
use crate::objects::common::{LAST_ACTIVITY, NEXT_ACTIVITY};
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Opportunities (商机): a deal moving through the stages of a pipeline.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new("name", Text { max: 200 }, "Name", "商机名称").required(),
    FieldSpec::new("account_id", AccountRef, "Account", "客户").required(),
    FieldSpec::new("pipeline_id", PipelineRef, "Pipeline", "销售流程"),
    FieldSpec::new("stage", Stage, "Stage", "销售阶段"),
    FieldSpec::new(
        "probability",
        Integer { min: 0, max: 100 },
        "Win probability (%)",
        "赢率 (%)",
    ),
    FieldSpec::new("amount", Money, "Amount", "金额"),
    FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种"),
    FieldSpec::new(
        "expected_close_date",
        Date,
        "Expected close",
        "预计成交日期",
    ),
    FieldSpec::new("next_step", Text { max: 200 }, "Next step", "下一步"),
    FieldSpec::new("competitors", Tags, "Competitors", "竞争对手"),
    FieldSpec::new("contacts", ContactLinks, "Contacts", "联系人"),
    FieldSpec::new("source", Picklist("account_source"), "Source", "来源"),
    FieldSpec::new("campaign", Text { max: 200 }, "Campaign", "市场活动"),
    FieldSpec::new(
        "lost_reason",
        Picklist("lost_reason"),
        "Lost because",
        "输单原因",
    ),
    FieldSpec::new("status", Picklist("opportunity_status"), "Status", "状态").system(),
    FieldSpec::new(
        "stage_entered_at",
        DateTime,
        "In stage since",
        "进入阶段时间",
    )
    .system(),
    FieldSpec::new("closed_at", DateTime, "Closed", "关闭时间").system(),
    FieldSpec::new("lead_id", RecordRef(objects::LEAD), "From lead", "来源线索").system(),
    FieldSpec::new("owner_id", UserRef, "Owner", "负责人"),
    FieldSpec::new("department_id", DepartmentRef, "Department", "所属部门").system(),
    FieldSpec::new("tags", Tags, "Tags", "标签"),
    FieldSpec::new("description", LongText, "Description", "描述"),
    LAST_ACTIVITY,
    NEXT_ACTIVITY,
];
