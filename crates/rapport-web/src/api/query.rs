//! The query-string parameters of every route, in one table. Handlers refuse any name not in
//! their list and the OpenAPI document lists the same entries with their types, so the two
//! cannot disagree about which parameters exist.

use rapport_core::activity::{Kind, Status};
use rapport_core::fields::FieldKind;
use rapport_services::records::{self, ObjectDef};
use serde_json::{json, Value};

/// The type of one query parameter, as the handler parses it.
#[derive(Debug, Clone, Copy)]
pub enum Schema {
    Text,
    /// A record id, or `me` where the summary says so.
    Id,
    Bool,
    /// A page size: 1 to [`super::MAX_LIMIT`].
    Limit,
    Int {
        min: u64,
        max: u64,
    },
    /// RFC 3339.
    DateTime,
    Choice(&'static [&'static str]),
    Pattern(&'static str),
    ActivityKind,
    ActivityStatus,
    /// A record type activities attach to (its key).
    RelatedType,
    /// A sort key of the route's record type.
    Sort,
    /// Comma-separated column keys of the route's record type.
    Columns,
    /// The route's record type's filter tree, as JSON text.
    Filter,
}

/// One query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub schema: Schema,
    pub required: bool,
    pub about: &'static str,
}

const fn opt(name: &'static str, schema: Schema, about: &'static str) -> Param {
    Param {
        name,
        schema,
        required: false,
        about,
    }
}

const fn req(name: &'static str, schema: Schema, about: &'static str) -> Param {
    Param {
        name,
        schema,
        required: true,
        about,
    }
}

impl Param {
    /// The OpenAPI parameter object; `def` is the record type of the route, if it has one.
    pub fn to_openapi(&self, def: Option<&ObjectDef>) -> Value {
        let mut style = None;
        if let (Schema::Filter, Some(d)) = (self.schema, def) {
            return json!({"name": self.name, "in": "query", "required": self.required,
                "description": self.about, "content": {"application/json": {"schema":
                    {"$ref": format!("#/components/schemas/Filter_{}", d.plural())}}}});
        }
        let schema = match self.schema {
            Schema::Filter => json!({"type": "string"}),
            Schema::Sort => match def {
                Some(d) => json!({"type": "string", "enum": records::query::sort_keys(d)}),
                None => json!({"type": "string"}),
            },
            Schema::Columns => {
                style = Some(json!("form"));
                let mut cols: Vec<&str> = def
                    .map(|d| {
                        d.fields
                            .iter()
                            .filter(|f| !matches!(f.kind, FieldKind::JsonObject))
                            .map(|f| f.name)
                            .collect()
                    })
                    .unwrap_or_default();
                cols.extend(["created_at", "updated_at"]);
                json!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": cols}})
            }
            Schema::Text => json!({"type": "string"}),
            Schema::Id => json!({"type": "string"}),
            Schema::Bool => json!({"type": "boolean"}),
            Schema::Limit => {
                json!({"type": "integer", "minimum": 1, "maximum": super::MAX_LIMIT})
            }
            Schema::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
            Schema::DateTime => json!({"type": "string", "format": "date-time"}),
            Schema::Choice(values) => json!({"type": "string", "enum": values}),
            Schema::Pattern(p) => json!({"type": "string", "pattern": p}),
            Schema::ActivityKind => {
                json!({"type": "string", "enum": Kind::ALL.iter().map(|k| k.key()).collect::<Vec<_>>()})
            }
            Schema::RelatedType => {
                json!({"type": "string", "enum": rapport_services::activities::access::related_types()})
            }
            Schema::ActivityStatus => {
                json!({"type": "string", "enum": Status::ALL.iter().map(|k| k.key()).collect::<Vec<_>>()})
            }
        };
        let mut p = json!({"name": self.name, "in": "query", "required": self.required,
            "schema": schema, "description": self.about});
        if let Some(style) = style {
            p["style"] = style;
            p["explode"] = json!(false);
        }
        p
    }
}

const CURSOR: Param = opt(
    "cursor",
    Schema::Text,
    "next_cursor of the previous page, as the server gave it",
);
const LIMIT: Param = opt("limit", Schema::Limit, "page size");
const MERGEABLE: &[&str] = &["accounts", "contacts", "leads"];

pub const RECORD_LIST: &[Param] = &[
    opt(
        "q",
        Schema::Text,
        "quick search: words of names (Chinese: any two characters in them), email, phone or its last 4 digits, company name",
    ),
    opt(
        "filter",
        Schema::Filter,
        "JSON filter tree; see docs/api.md",
    ),
    opt("sort", Schema::Sort, "field or -field"),
    LIMIT,
    CURSOR,
];
pub const RECORD_WRITE: &[Param] = &[opt(
    "override_duplicates",
    Schema::Bool,
    "save despite duplicates found by warn rules",
)];
pub const RECORD_EXPORT: &[Param] = &[
    opt("q", Schema::Text, "quick search, as in the list"),
    opt("filter", Schema::Filter, "JSON filter tree, as in the list"),
    opt(
        "cols",
        Schema::Columns,
        "comma-separated column keys (default: every column)",
    ),
    opt("sort", Schema::Sort, "field or -field"),
    opt("format", Schema::Choice(&["csv", "xlsx"]), "default csv"),
];
pub const ACTIVITIES: &[Param] = &[
    opt("assignee_id", Schema::Id, "a user id, or me"),
    opt(
        "attending",
        Schema::Bool,
        "with assignee_id: also meetings the user attends",
    ),
    opt("kind", Schema::ActivityKind, "one kind"),
    opt("status", Schema::ActivityStatus, "one status"),
    opt("since", Schema::DateTime, "at or after"),
    opt("until", Schema::DateTime, "before"),
    opt(
        "related_type",
        Schema::RelatedType,
        "activities on records of this type",
    ),
    opt("related_id", Schema::Id, "activities on this record"),
    opt("order", Schema::Choice(&["asc", "desc"]), "default desc"),
    CURSOR,
    LIMIT,
];
pub const TIMELINE: &[Param] = &[
    opt(
        "kinds",
        Schema::Text,
        "comma-separated entry kinds to keep (activity kinds, field_change, stage_change, contact_added)",
    ),
    CURSOR,
    LIMIT,
];
pub const NOTIFICATIONS: &[Param] = &[
    opt("unread", Schema::Bool, "only unread ones"),
    CURSOR,
    LIMIT,
];
pub const JOBS: &[Param] = &[
    opt(
        "status",
        Schema::Choice(&["pending", "running", "done", "failed"]),
        "one status",
    ),
    LIMIT,
];
pub const AUDIT: &[Param] = &[
    opt("actor_id", Schema::Id, "the user who acted"),
    opt("action", Schema::Text, "such as contact.updated"),
    opt("object_type", Schema::Text, "such as contact"),
    opt("object_id", Schema::Id, "one record"),
    opt("since", Schema::DateTime, "at or after"),
    opt("until", Schema::DateTime, "before"),
    opt(
        "before_seq",
        Schema::Int {
            min: 0,
            max: i64::MAX as u64,
        },
        "entries before this sequence number (paging)",
    ),
    LIMIT,
];
pub const SESSIONS: &[Param] = &[opt(
    "user_id",
    Schema::Id,
    "another user's sessions (administrators)",
)];
pub const RECEIVABLES: &[Param] = &[opt(
    "group",
    Schema::Choice(&["contract", "account", "owner"]),
    "default contract",
)];
pub const POOL: &[Param] = &[opt("q", Schema::Text, "account name prefix"), LIMIT];
pub const TARGETS: &[Param] = &[opt(
    "period",
    Schema::Pattern("^(20[0-9]{2}|2100)(-Q[1-4]|-(0[1-9]|1[0-2]))?$"),
    "a year from 2000 to 2100 (2026), a quarter (2026-Q1) or a month (2026-01); default this month",
)];
pub const IMPORT_UPLOAD: &[Param] = &[
    req("object", Schema::Choice(MERGEABLE), "the record type"),
    opt("file_name", Schema::Text, "the uploaded file's name"),
    opt(
        "sheet",
        Schema::Int { min: 0, max: 1000 },
        "the workbook sheet to read, counting from 0",
    ),
];
pub const IMPORT_ONE: &[Param] = &[opt(
    "header_row",
    Schema::Int {
        min: 0,
        max: i64::MAX as u64,
    },
    "preview with this row (counting from 0) as the header",
)];
pub const VCARD_EXPORT: &[Param] = &[
    opt("ids", Schema::Text, "comma-separated contact ids"),
    opt("q", Schema::Text, "quick search, as in the list"),
];
pub const DUPLICATES: &[Param] = &[
    req("object", Schema::Choice(MERGEABLE), "the record type"),
    opt(
        "min_confidence",
        Schema::Int { min: 0, max: 100 },
        "default 50",
    ),
    LIMIT,
];
pub const MERGES: &[Param] = &[
    req("object", Schema::Choice(MERGEABLE), "the record type"),
    LIMIT,
];
pub const BOARD: &[Param] = &[opt(
    "pipeline_id",
    Schema::Id,
    "default: the default pipeline",
)];

/// The record type a documented path belongs to (`/api/v1/{plural}/...`).
pub fn def_of_path(path: &str) -> Option<&'static ObjectDef> {
    let first = path.strip_prefix("/api/v1/")?.split('/').next()?;
    rapport_services::objects::ALL
        .iter()
        .copied()
        .find(|d| d.plural() == first)
}

/// The parameters of a documented route (`path` as in the document), if it takes any.
pub fn of_route(method: &str, path: &str) -> &'static [Param] {
    let generic = path
        .strip_prefix("/api/v1/")
        .and_then(|rest| {
            let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
            rapport_services::objects::ALL
                .iter()
                .any(|d| d.plural() == first)
                .then(|| {
                    format!(
                        "/api/v1/{{object}}{}{tail}",
                        if tail.is_empty() { "" } else { "/" }
                    )
                })
        })
        .unwrap_or_default();
    let key = |p: &str| -> Option<&'static [Param]> {
        Some(match (method, p) {
            ("get", "/api/v1/{object}") => RECORD_LIST,
            ("post", "/api/v1/{object}") | ("patch", "/api/v1/{object}/{id}") => RECORD_WRITE,
            ("get", "/api/v1/{object}/export") => RECORD_EXPORT,
            ("get", "/api/v1/{object}/{id}/timeline") => TIMELINE,
            ("get", "/api/v1/activities") => ACTIVITIES,
            ("get", "/api/v1/notifications") => NOTIFICATIONS,
            ("get", "/api/v1/jobs") => JOBS,
            ("get", "/api/v1/audit") => AUDIT,
            ("get", "/api/v1/sessions") => SESSIONS,
            ("get", "/api/v1/receivables") => RECEIVABLES,
            ("get", "/api/v1/pool") => POOL,
            ("get", "/api/v1/targets") => TARGETS,
            ("post", "/api/v1/imports") => IMPORT_UPLOAD,
            ("get", "/api/v1/imports/{id}") => IMPORT_ONE,
            ("get", "/api/v1/contacts/vcard") => VCARD_EXPORT,
            ("get", "/api/v1/duplicates") => DUPLICATES,
            ("get", "/api/v1/merges") => MERGES,
            ("get", "/api/v1/opportunities/board") => BOARD,
            _ => return None,
        })
    };
    key(path).or_else(|| key(&generic)).unwrap_or(&[])
}
