//! Merging many groups in one request: every group is checked first, then each merged on its
//! own, with an outcome per group.

use super::*;

/// At most this many groups in one bulk merge.
pub const MAX_BULK_GROUPS: usize = 100;

/// What became of one group of a bulk merge.
#[derive(Debug, Clone, Serialize)]
pub struct BulkOutcome {
    pub survivor_id: String,
    pub merge_id: Option<String>,
    pub status: u16,
    pub error: Option<String>,
}

fn outcome_of(e: &DomainError) -> (u16, String) {
    match e {
        DomainError::NotFound => (404, "not found".into()),
        DomainError::Validation(errs) => (
            422,
            errs.iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        DomainError::Forbidden(m) => (403, m.clone()),
        DomainError::Conflict(m) => (409, m.clone()),
        e if e.is_internal() => {
            tracing::error!(error = %e, "bulk merge group failed");
            (500, "internal error".into())
        }
        other => (400, other.to_string()),
    }
}

/// Merge many groups, each in its own transaction: one group's failure does not hold back
/// the others.
pub async fn bulk(
    store: &Store,
    actor: &Access,
    object: Object,
    groups: &[MergeRequest],
) -> Result<Vec<BulkOutcome>, DomainError> {
    merge_def(object)?;
    if groups.is_empty() || groups.len() > MAX_BULK_GROUPS {
        return Err(DomainError::field(
            "groups",
            "invalid",
            format!("merge 1 to {MAX_BULK_GROUPS} groups at a time"),
        ));
    }
    let mut out = Vec::new();
    for g in groups {
        out.push(match merge(store, actor, object, g).await {
            Ok(m) => BulkOutcome {
                survivor_id: g.survivor_id.clone(),
                merge_id: Some(m.id),
                status: 201,
                error: None,
            },
            Err(e) => {
                let (status, error) = outcome_of(&e);
                BulkOutcome {
                    survivor_id: g.survivor_id.clone(),
                    merge_id: None,
                    status,
                    error: Some(error),
                }
            }
        });
    }
    Ok(out)
}
