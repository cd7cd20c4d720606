//! Audit anchors by email: every anchor the server (or `rapport audit anchor`) writes is also
//! sent to an address in the settings, so that a signed copy of the chain's head lives outside
//! the machine, where whoever can rewrite the database and its disk cannot reach it. The mail is
//! a job, queued when the anchor is written and sent through the configured SMTP server.

use super::send::{self, Outgoing};
use crate::access::Access;
use crate::audit::anchor::Anchor;
use crate::{jobs, settings, Store};
use rapport_core::{validate, DomainError};
use rapport_db::db_err;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The job that emails one anchor.
pub const JOB: &str = "audit.anchor_mail";

const KEY: &str = "audit.anchor_email";

/// Where anchors are emailed: nowhere unless an address is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorMail {
    pub email: Option<String>,
}

/// The setting (the settings read right).
pub async fn settings(store: &Store, actor: &Access) -> Result<AnchorMail, DomainError> {
    settings::may_read(actor)?;
    Ok(settings::read(store.db.reader(), KEY)
        .await?
        .unwrap_or_default())
}

/// Change the address (or stop with `null` or an empty one); the settings right over all,
/// audited.
pub async fn set_settings(
    store: &Store,
    actor: &Access,
    new: AnchorMail,
) -> Result<AnchorMail, DomainError> {
    may_change(actor)?;
    let email = match new.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(validate::email(e).ok_or_else(|| {
            DomainError::field("email", "invalid_email", "email is not an email address")
        })?),
    };
    let after = AnchorMail { email };
    let before: AnchorMail = settings::read(store.db.reader(), KEY)
        .await?
        .unwrap_or_default();
    settings::replace(
        store,
        actor,
        KEY,
        "settings.anchor_email_changed",
        &before,
        &after,
    )
    .await?;
    Ok(after)
}

/// Queue the email of `anchor` when an address is set (once per anchored entry).
pub async fn enqueue(store: &Store, anchor: &Anchor) -> Result<(), DomainError> {
    let set: AnchorMail = settings::read(store.db.reader(), KEY)
        .await?
        .unwrap_or_default();
    if set.email.is_none() {
        return Ok(());
    }
    let now = store.now();
    let payload = serde_json::to_value(anchor).map_err(DomainError::internal)?;
    let tx = store.db.begin().await?;
    jobs::enqueue(
        &tx,
        now,
        jobs::NewJob::new(JOB, payload, now).dedupe(format!("anchor:{}", anchor.seq)),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// What the anchoring task does after writing an anchor: queue its email.
pub fn after_anchor() -> crate::audit::anchor::AfterAnchor {
    std::sync::Arc::new(|store: Store, anchor: Anchor| {
        Box::pin(async move {
            if let Err(e) = enqueue(&store, &anchor).await {
                tracing::error!(error = %e, seq = anchor.seq, "cannot queue an audit anchor's email");
            }
        })
    })
}

/// The job: send the anchor, as the line `anchors.jsonl` holds, to the address set now.
pub async fn run_job<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    payload: &Value,
) -> Result<(), DomainError> {
    let set: AnchorMail = settings::read(c, KEY).await?.unwrap_or_default();
    let Some(to) = set.email else {
        return Ok(());
    };
    let anchor: Anchor = serde_json::from_value(payload.clone()).map_err(DomainError::internal)?;
    let line = serde_json::to_string(&anchor).map_err(DomainError::internal)?;
    let text = format!(
        "审计日志第 {seq} 条记录的哈希已签名如下。请保存这封邮件：把下面一行加入锚点目录中的 \
         anchors.jsonl 后运行 `rapport audit verify`，即可发现被截断或改写的审计日志。\n\n\
         The hash of audit entry {seq} is signed below. Keep this message: with the line added \
         to anchors.jsonl in the anchor directory, `rapport audit verify` finds a trail cut \
         short or rewritten.\n\n{line}\n",
        seq = anchor.seq
    );
    let smtp = super::settings(c, store)
        .await?
        .ok_or_else(|| DomainError::Conflict("no mail server is configured".into()))?;
    send::send(
        &smtp,
        &Outgoing {
            to,
            to_name: None,
            subject: format!("[Rapport] audit anchor #{}", anchor.seq),
            text,
            from_name: None,
            reply_to: None,
        },
    )
    .await
}

/// Changing where audit anchors are emailed needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing where audit anchors are emailed")
}
