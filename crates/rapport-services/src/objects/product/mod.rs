//! Products (产品): what is sold, with a list price, unit and tax rate. Codes are unique; a new
//! product is on sale unless it says otherwise. Products have no owner: a role reaches all of
//! them or none.

mod fields;

use super::common::{name_norm, text_of};
use super::documents::{input_text, t};
use crate::records::hooks::{Branch, Change, Cx, Effects, Hooks, Loaded, SearchText, Values};
use crate::records::{ObjectDef, Record};
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::permission::Ownership;
use rapport_core::{DomainError, Object};
use rapport_db::one;
use sea_orm::sea_query::{Expr, Query, Value as SqlValue};

pub use fields::FIELDS;

/// The permission key of product records (roles grant on it; paths use its plural).
pub const PRODUCT: Object = Object::record("product", "products", Ownership::Unowned);

pub const PRODUCTS: ObjectDef = ObjectDef {
    object: PRODUCT,
    table: "products",
    fields: FIELDS,
    hooks: &Rules,
};

struct Rules;

/// Another product already uses the code being written.
struct CodeTaken(Option<String>);

#[async_trait::async_trait]
impl Hooks for Rules {
    async fn load(
        &self,
        cx: Cx<'_>,
        input: Option<&Input>,
        before: Option<&Record>,
    ) -> Result<Loaded, DomainError> {
        let Some(code) = input.and_then(|i| input_text(i, "code")) else {
            return Ok(Loaded::of(CodeTaken(None)));
        };
        let mut q = Query::select();
        q.column(t("id"))
            .from(t("products"))
            .and_where(Expr::col(t("code")).eq(code));
        if let Some(b) = before {
            q.and_where(Expr::col(t("id")).ne(b.id.as_str()));
        }
        let taken = one(cx.store.db.reader(), &q).await?.is_some();
        Ok(Loaded::of(CodeTaken(taken.then(|| code.to_string()))))
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        if let Some(CodeTaken(Some(code))) = loaded.get::<CodeTaken>() {
            return Err(DomainError::field(
                "code",
                "duplicate_code",
                format!("another product already has the code {code}"),
            ));
        }
        if change.before.is_none() {
            for (k, v) in self.new_defaults() {
                if change.values.get(k).is_none_or(FieldValue::is_null) {
                    change.values.insert(k, v);
                }
            }
        }
        Ok(Effects::default())
    }

    /// On sale unless it says otherwise: the quote and order forms offer only products on sale.
    fn new_defaults(&self) -> Vec<(&'static str, FieldValue)> {
        vec![("active", FieldValue::Bool(true))]
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, SqlValue)> {
        vec![name_norm(&text_of(values, "name"))]
    }

    /// A product is found by the start of its name or of its code.
    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        let code = text.q.trim();
        if code.is_empty() {
            return Vec::new();
        }
        vec![Branch::prefix("code", code, &["code"])]
    }

    fn name_sources(&self) -> &'static [crate::records::hooks::NameSource] {
        &[super::common::NAME]
    }
}
