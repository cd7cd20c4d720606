//! The fields of payment records.

use crate::objects;
use crate::objects::common::{DEPARTMENT, DESCRIPTION, NUMBER, OWNER};
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Payments received (回款) against a contract.
pub const FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new(
        "contract_id",
        RecordRef(objects::CONTRACT),
        "Contract",
        "合同",
    )
    .required(),
    FieldSpec::new("account_id", AccountRef, "Account", "客户").system(),
    FieldSpec::new("amount", Money, "Amount", "回款金额").required(),
    FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种").system(),
    FieldSpec::new("paid_on", Date, "Received on", "回款日期").required(),
    FieldSpec::new("method", Picklist("payment_method"), "Method", "回款方式"),
    FieldSpec::new(
        "instalment",
        Integer { min: 1, max: 120 },
        "Instalment",
        "期次",
    ),
    FieldSpec::new(
        "reference",
        Text { max: 100 },
        "Transaction reference",
        "交易流水号",
    ),
    OWNER,
    DEPARTMENT,
    DESCRIPTION,
];
