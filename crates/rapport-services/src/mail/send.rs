//! Sending mail through the configured SMTP server (lettre): notification emails in the
//! recipient's language, emails to contacts written in Rapport, and the administrators' test
//! message. Sending cannot join a database transaction, so a job that sent and then failed to
//! commit sends again on retry: at least once, never silently lost.

use crate::access::Access;
use crate::mail::{self, Security, SmtpSettings};
use crate::sales::approvals;
use crate::{activities, audit, notifications, Store};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rapport_core::{Action, DomainError, Object, Scope};
use rapport_db::{get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::time::Duration;

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    /// Shown as the sender's name instead of the configured one (a user writing to a contact).
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
}

fn mailbox(name: Option<&str>, address: &str, field: &str) -> Result<Mailbox, DomainError> {
    let addr = address.parse().map_err(|_| {
        DomainError::field(
            field,
            "invalid_email",
            format!("{address} is not an email address"),
        )
    })?;
    Ok(Mailbox::new(name.map(str::to_string), addr))
}

/// Send one message now.
pub async fn send(settings: &SmtpSettings, m: &Outgoing) -> Result<(), DomainError> {
    let from_name = m.from_name.as_deref().or(settings.from_name.as_deref());
    let mut builder = Message::builder()
        .from(mailbox(from_name, &settings.from_address, "from_address")?)
        .to(mailbox(m.to_name.as_deref(), &m.to, "to")?)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    if let Some(r) = &m.reply_to {
        builder = builder.reply_to(mailbox(None, r, "reply_to")?);
    }
    let email = builder
        .body(m.text.clone())
        .map_err(|e| DomainError::Internal(format!("building the message: {e}")))?;
    let upstream = |e: lettre::transport::smtp::Error| {
        DomainError::Upstream(format!(
            "the mail server {}:{} did not accept the message: {e}",
            settings.host, settings.port
        ))
    };
    let mut transport = match settings.security {
        Security::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
        }
        Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
            .map_err(upstream)?,
        Security::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(upstream)?
        }
    }
    .port(settings.port)
    .timeout(Some(Duration::from_secs(20)));
    if let (Some(u), Some(p)) = (&settings.username, &settings.password) {
        transport = transport.credentials(Credentials::new(u.clone(), p.clone()));
    }
    transport.build().send(email).await.map_err(upstream)?;
    Ok(())
}

async fn configured<C: ConnectionTrait>(c: &C, store: &Store) -> Result<SmtpSettings, DomainError> {
    mail::settings(c, store)
        .await?
        .ok_or_else(|| DomainError::Conflict("no mail server is configured".into()))
}

/// The administrators' test message, sent at once (in the administrator's language).
pub async fn test_send(
    store: &Store,
    actor: &Access,
    to: &str,
    lang_zh: bool,
) -> Result<(), DomainError> {
    if actor.scope(Object::SETTINGS, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "mail settings are for administrators".into(),
        ));
    }
    let settings = configured(store.db.reader(), store).await?;
    let (subject, text) = if lang_zh {
        (
            "Rapport 测试邮件".to_string(),
            format!(
                "这是一封来自 Rapport 的测试邮件。\n\n发信服务器：{}:{}\n如果您收到了这封邮件，说明邮件设置正确。",
                settings.host, settings.port
            ),
        )
    } else {
        (
            "Rapport test email".to_string(),
            format!(
                "This is a test message from Rapport.\n\nMail server: {}:{}\nIf you received it, mail is set up correctly.",
                settings.host, settings.port
            ),
        )
    };
    let result = send(
        &settings,
        &Outgoing {
            to: to.to_string(),
            to_name: None,
            subject,
            text,
            from_name: None,
            reply_to: None,
        },
    )
    .await;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("settings.smtp_tested").details(json!({"to": to, "ok": result.is_ok()})),
    )
    .await?;
    result
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The text of a notification email, in Chinese or English.
pub fn notification_text(
    zh: bool,
    kind: &str,
    subject: &str,
    actor: &str,
    link: Option<&str>,
) -> (String, String) {
    let (title, line) = match (kind, zh) {
        (notifications::REMINDER, true) => (format!("提醒：{subject}"), format!("提醒：{subject}")),
        (notifications::REMINDER, false) => (
            format!("Reminder: {subject}"),
            format!("Reminder: {subject}"),
        ),
        (notifications::ASSIGNED, true) => (
            format!("新任务：{subject}"),
            format!("{actor} 给您分配了任务：{subject}"),
        ),
        (notifications::ASSIGNED, false) => (
            format!("New task: {subject}"),
            format!("{actor} assigned you a task: {subject}"),
        ),
        (approvals::REQUESTED, true) => (
            format!("待审批合同：{subject}"),
            format!("{actor} 请您审批合同：{subject}"),
        ),
        (approvals::REQUESTED, false) => (
            format!("Contract to approve: {subject}"),
            format!("{actor} asks you to approve the contract {subject}"),
        ),
        (approvals::APPROVED, true) => (
            format!("合同已审批通过：{subject}"),
            format!("{actor} 审批通过了合同：{subject}"),
        ),
        (approvals::APPROVED, false) => (
            format!("Contract approved: {subject}"),
            format!("{actor} approved the contract {subject}"),
        ),
        (approvals::REJECTED, true) => (
            format!("合同被驳回：{subject}"),
            format!("{actor} 驳回了合同：{subject}"),
        ),
        (approvals::REJECTED, false) => (
            format!("Contract rejected: {subject}"),
            format!("{actor} rejected the contract {subject}"),
        ),
        (notifications::BACKUP_FAILED, true) => (
            "备份恢复演练失败".to_string(),
            format!(
                "最近一次备份未能恢复，请尽快检查备份目录和服务器日志（rapport backup verify）：{subject}"
            ),
        ),
        (notifications::BACKUP_FAILED, false) => (
            "Backup restore drill failed".to_string(),
            format!(
                "The newest backup could not be restored; check the backup directory and the server log (rapport backup verify): {subject}"
            ),
        ),
        (_, true) => (
            format!("{actor} 提到了您：{subject}"),
            format!("{actor} 在跟进记录中提到了您：{subject}"),
        ),
        (_, false) => (
            format!("{actor} mentioned you: {subject}"),
            format!("{actor} mentioned you: {subject}"),
        ),
    };
    let mut text = line;
    if let Some(l) = link {
        text.push_str(&format!("\n\n{l}"));
    }
    text.push_str(if zh {
        "\n\n— Rapport（可在“账号安全”中选择接收哪些邮件通知）"
    } else {
        "\n\n— Rapport (choose which notifications you get by email under Security)"
    });
    (format!("[Rapport] {title}"), text)
}

/// The job behind a notification email.
pub async fn run_notification_job<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    payload: &Value,
) -> Result<(), DomainError> {
    let id = payload["notification_id"]
        .as_str()
        .ok_or_else(|| DomainError::Internal("mail job without notification_id".into()))?;
    let Some(n) = one(
        c,
        Query::select()
            .columns([
                (t("notifications"), t("kind")),
                (t("notifications"), t("subject")),
                (t("notifications"), t("object_type")),
                (t("notifications"), t("object_id")),
                (t("notifications"), t("actor_id")),
                (t("users"), t("email")),
                (t("users"), t("name")),
                (t("users"), t("language")),
                (t("users"), t("active")),
            ])
            .from(t("notifications"))
            .inner_join(
                t("users"),
                Expr::col((t("users"), t("id"))).equals((t("notifications"), t("user_id"))),
            )
            .and_where(Expr::col((t("notifications"), t("id"))).eq(id)),
    )
    .await?
    else {
        return Ok(());
    };
    if !get::<bool>(&n, "active")? {
        return Ok(());
    }
    let actor_name = match get::<Option<String>>(&n, "actor_id")? {
        Some(a) => crate::users::get_user(store, &a)
            .await?
            .map(|u| u.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let zh = get::<String>(&n, "language")? != "en";
    let link = match (
        store.settings.public_url.as_deref(),
        get::<Option<String>>(&n, "object_type")?.as_deref(),
        get::<Option<String>>(&n, "object_id")?,
    ) {
        (Some(base), Some(ot @ ("account" | "contact")), Some(oid)) => Some(format!(
            "{}/{ot}s/{oid}#timeline",
            base.trim_end_matches('/')
        )),
        (Some(base), Some(ot), Some(oid)) => rapport_core::Object::parse(ot)
            .and_then(rapport_core::Object::plural)
            .map(|p| format!("{}/{p}/{oid}", base.trim_end_matches('/'))),
        _ => None,
    };
    let (subject, text) = notification_text(
        zh,
        &get::<String>(&n, "kind")?,
        &get::<String>(&n, "subject")?,
        &actor_name,
        link.as_deref(),
    );
    let settings = configured(c, store).await?;
    send(
        &settings,
        &Outgoing {
            to: get(&n, "email")?,
            to_name: Some(get(&n, "name")?),
            subject,
            text,
            from_name: None,
            reply_to: None,
        },
    )
    .await
}

/// The job behind an email to a contact: send it, then mark the logged email done.
pub async fn run_contact_job<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    payload: &Value,
) -> Result<(), DomainError> {
    let Some(activity_id) = payload["activity_id"].as_str() else {
        return Err(DomainError::Internal("mail job without activity_id".into()));
    };
    let Some(a) = activities::find_system(c, activity_id).await? else {
        return Ok(()); // deleted since
    };
    if a.status != rapport_core::activity::Status::Open {
        return Ok(()); // sent already
    }
    let to = match (payload["contact_id"].as_str(), payload["to_token"].as_str()) {
        (Some(contact), Some(token)) => {
            let system = crate::access::Access::system(store).await?;
            let address = match crate::records::read_record(
                store,
                &system,
                &crate::objects::CONTACTS,
                contact,
            )
            .await
            {
                Ok(rec) => rec.text("email").map(str::to_string),
                Err(DomainError::NotFound) => None,
                Err(e) => return Err(e),
            };
            match address.filter(|e| store.keys().is_ok_and(|k| k.blind("email", e) == token)) {
                Some(e) => e,
                None => {
                    return activities::mark_done_by_system(
                        c,
                        store,
                        &a,
                        "not sent: the contact's address changed or was erased",
                    )
                    .await
                }
            }
        }
        // Jobs queued before recipients were held by reference.
        _ => match payload["to"].as_str() {
            Some(to) => to.to_string(),
            None => return Err(DomainError::Internal("mail job without a recipient".into())),
        },
    };
    let sender = match payload["from_user"].as_str() {
        Some(u) => crate::users::get_user(store, u).await?,
        None => None,
    };
    let settings = configured(c, store).await?;
    send(
        &settings,
        &Outgoing {
            to,
            to_name: None,
            subject: a.subject.clone(),
            text: a.body.clone().unwrap_or_default(),
            from_name: sender.as_ref().map(|u| u.name.clone()),
            reply_to: sender.map(|u| u.email),
        },
    )
    .await?;
    activities::mark_done_by_system(c, store, &a, "sent").await
}
