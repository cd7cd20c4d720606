//! Outgoing mail, the parts that live in the database: the SMTP server administrators configure
//! (password encrypted), the notifications each user also wants by email, and queuing mail (a
//! notification, or an email to a contact that is logged on its timeline) as jobs in the same
//! transaction as the change. The sending itself is [`send`].

pub mod anchors;
pub mod send;

use crate::access::Access;
use crate::activities;
use crate::{audit, jobs, Store};
use chrono::{DateTime, Utc};
use rapport_core::{validate, DomainError, FieldError};
use rapport_db::{db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{json, Map, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Job kinds (a notification's email is queued by [`crate::notifications`]).
pub use crate::notifications::MAIL_JOB as NOTIFICATION_JOB;
pub const CONTACT_JOB: &str = "mail.contact";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain SMTP upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

impl Security {
    pub fn parse(s: &str) -> Option<Security> {
        match s {
            "starttls" => Some(Security::Starttls),
            "tls" => Some(Security::Tls),
            "none" => Some(Security::None),
            _ => None,
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }
}

/// The configured server, with the password decrypted (never serialised).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl SmtpSettings {
    /// What the API and the settings page show: the password only as set or not.
    pub fn public(&self) -> Value {
        json!({"host": self.host, "port": self.port, "security": self.security.key(),
               "username": self.username, "password_set": self.password.is_some(),
               "from_address": self.from_address, "from_name": self.from_name})
    }
}

/// The settings right over all (the API asks before reading a body).
pub fn may_change(actor: &Access) -> Result<(), DomainError> {
    crate::settings::may_change(actor, "changing mail settings")
}

/// The server mail goes through, if one is configured.
pub async fn settings<C: ConnectionTrait>(
    c: &C,
    store: &Store,
) -> Result<Option<SmtpSettings>, DomainError> {
    let Some(r) = one(
        c,
        Query::select()
            .columns(
                [
                    "host",
                    "port",
                    "security",
                    "username",
                    "password_enc",
                    "from_address",
                    "from_name",
                    "updated_at",
                ]
                .map(t),
            )
            .from(t("smtp_servers"))
            .and_where(Expr::col(t("id")).eq("default")),
    )
    .await?
    else {
        return Ok(None);
    };
    let security: String = get(&r, "security")?;
    let password = match get::<Option<String>>(&r, "password_enc")? {
        Some(enc) => Some(store.keys()?.decrypt(
            "smtp_servers",
            "password_enc",
            "default",
            &enc,
        )?),
        None => None,
    };
    Ok(Some(SmtpSettings {
        host: get(&r, "host")?,
        port: u16::try_from(get::<i32>(&r, "port")?).unwrap_or(25),
        security: Security::parse(&security).unwrap_or(Security::Starttls),
        username: get(&r, "username")?,
        password,
        from_address: get(&r, "from_address")?,
        from_name: get(&r, "from_name")?,
        updated_at: get(&r, "updated_at")?,
    }))
}

/// The settings page and API (administrators).
pub async fn settings_for(store: &Store, actor: &Access) -> Result<Value, DomainError> {
    may_change(actor)?;
    Ok(settings(store.db.reader(), store)
        .await?
        .map_or(Value::Null, |s| s.public()))
}

/// Save the mail server. A missing `password` keeps the stored one; `null` or "" clears it.
pub async fn save_settings(
    store: &Store,
    actor: &Access,
    doc: &Map<String, Value>,
) -> Result<Value, DomainError> {
    may_change(actor)?;
    let allowed = [
        "host",
        "port",
        "security",
        "username",
        "password",
        "from_address",
        "from_name",
    ];
    let mut errors = Vec::new();
    for k in doc.keys() {
        if !allowed.contains(&k.as_str()) {
            errors.push(FieldError::new(
                k.clone(),
                "unknown_field",
                format!("mail settings have no field named {k}"),
            ));
        }
    }
    for k in [
        "host",
        "security",
        "username",
        "password",
        "from_address",
        "from_name",
    ] {
        if doc.get(k).is_some_and(|v| !v.is_string() && !v.is_null()) {
            errors.push(FieldError::new(
                k,
                "invalid_type",
                format!("{k} must be text"),
            ));
        }
    }
    let text = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
    };
    let host = text("host").to_string();
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        errors.push(FieldError::new(
            "host",
            "invalid_host",
            "host must be a host name or IP address",
        ));
    }
    let port = doc.get("port").and_then(Value::as_u64).unwrap_or(0);
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::new(
            "port",
            "out_of_range",
            "port must be a whole number from 1 to 65535",
        ));
    }
    let security = Security::parse(text("security"));
    if security.is_none() {
        errors.push(FieldError::new(
            "security",
            "invalid_choice",
            "security must be one of: starttls, tls, none",
        ));
    }
    let from = validate::email(text("from_address"));
    if from.is_none() {
        errors.push(FieldError::new(
            "from_address",
            "invalid_email",
            "from_address must be an email address",
        ));
    }
    let from_name = Some(text("from_name").to_string()).filter(|s| !s.is_empty());
    if from_name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        errors.push(FieldError::new(
            "from_name",
            "too_long",
            "from_name is at most 100 characters",
        ));
    }
    let username = Some(text("username").to_string()).filter(|s| !s.is_empty());
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let (Some(security), Some(from)) = (security, from) else {
        return Err(DomainError::Internal("checked above".into()));
    };
    let keys = store.keys()?;
    let now = store.now();
    let tx = store.db.begin().await?;
    let current = settings(&tx, store).await?;
    let password_enc = match doc.get("password") {
        None => match &current {
            Some(c) => c
                .password
                .as_deref()
                .map(|p| keys.encrypt("smtp_servers", "password_enc", "default", p))
                .transpose()?,
            None => None,
        },
        Some(Value::String(p)) if !p.is_empty() => {
            Some(keys.encrypt("smtp_servers", "password_enc", "default", p)?)
        }
        Some(_) => None,
    };
    let values: Vec<sea_orm::sea_query::SimpleExpr> = vec![
        "default".into(),
        host.clone().into(),
        (port as i32).into(),
        security.key().into(),
        username.clone().into(),
        password_enc.into(),
        from.clone().into(),
        from_name.clone().into(),
        now.into(),
    ];
    let cols = [
        "id",
        "host",
        "port",
        "security",
        "username",
        "password_enc",
        "from_address",
        "from_name",
        "updated_at",
    ];
    let mut q = Query::insert();
    q.into_table(t("smtp_servers"))
        .columns(cols.map(t))
        .values(values)
        .map_err(DomainError::internal)?
        .on_conflict(
            OnConflict::column(t("id"))
                .update_columns(cols[1..].iter().map(|c| t(c)))
                .to_owned(),
        );
    exec(&tx, &q).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("settings.smtp_updated").details(json!({
            "host": host, "port": port, "security": security.key(), "username": username,
            "from_address": from, "password_changed": doc.contains_key("password"),
        })),
    )
    .await?;
    let saved = settings(&tx, store).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(saved.map_or(Value::Null, |s| s.public()))
}

/// Email a contact the caller may read, from Rapport: the email is logged on the contact's
/// timeline at once (as an open outbound email) and sent by a job, which marks it done.
pub async fn send_to_contact(
    store: &Store,
    actor: &Access,
    contact_id: &str,
    doc: &Map<String, Value>,
) -> Result<Value, DomainError> {
    let mut errors = Vec::new();
    for k in doc.keys() {
        if !["subject", "body"].contains(&k.as_str()) {
            errors.push(FieldError::new(
                k.clone(),
                "unknown_field",
                format!("an email has no field named {k}"),
            ));
        }
    }
    let subject = doc
        .get("subject")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    let body = doc
        .get("body")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if subject.is_empty() {
        errors.push(FieldError::new(
            "subject",
            "required",
            "subject is required",
        ));
    }
    if body.is_empty() {
        errors.push(FieldError::new("body", "required", "body is required"));
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let contact =
        crate::records::read_record(store, actor, &crate::objects::CONTACTS, contact_id).await?;
    let Some(to) = contact.text("email").map(str::to_string) else {
        return Err(DomainError::field(
            "email",
            "no_email",
            "this contact has no email address",
        ));
    };
    if settings(store.db.reader(), store).await?.is_none() {
        return Err(DomainError::Conflict(
            "no mail server is configured (Settings → Mail)".into(),
        ));
    }
    let mut a = Map::new();
    a.insert("kind".into(), json!("email"));
    a.insert("subject".into(), json!(subject));
    a.insert("body".into(), json!(body));
    a.insert("direction".into(), json!("outbound"));
    a.insert("status".into(), json!("open"));
    a.insert("related_type".into(), json!("contact"));
    a.insert("related_id".into(), json!(contact_id));
    let now = store.now();
    // The job names the recipient by reference (the contact, and a keyed token of the address
    // it will be sent to), never by value: the queue holds no copy of the address, and an
    // address changed or erased before the job runs is not written to.
    let to_token = store.keys()?.blind("email", &to);
    let job = |activity_id: &str| {
        jobs::NewJob::new(
            CONTACT_JOB,
            json!({"activity_id": activity_id, "contact_id": contact_id, "to_token": to_token,
                   "from_user": actor.user_id}),
            now,
        )
        .dedupe(format!("mail:{activity_id}"))
    };
    // The logged email and the job that sends it commit together.
    let logged = activities::create_with_job(store, actor, &a, &job).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("contact.emailed")
            .object("contact", contact_id)
            .details(json!({"activity_id": logged["id"], "subject": subject})),
    )
    .await?;
    Ok(logged)
}
