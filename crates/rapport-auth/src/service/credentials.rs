//! Ending sessions (one, or all of a user's) and issuing and revoking API tokens. A read-only
//! token changes nothing.

use super::*;

pub async fn logout(store: &Store, actor: &Principal) -> Result<(), DomainError> {
    let tx = store.db.begin().await?;
    if let Some(sid) = &actor.session_id {
        sessions::revoke_session(&tx, store, sid).await?;
    }
    if let Some(tid) = &actor.token_id {
        sessions::revoke_token(&tx, store, tid).await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.logout").object("user", &actor.user_id),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Revoke a session: one's own, or anyone's for an administrator. Others' sessions are a 404.
pub async fn revoke_session(
    store: &Store,
    actor: &Principal,
    session_id: &str,
) -> Result<(), DomainError> {
    writable(actor)?;
    let s = sessions::session_by_id(store, session_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if s.user_id != actor.user_id && !actor.is_admin() {
        return Err(DomainError::NotFound);
    }
    let tx = store.db.begin().await?;
    sessions::revoke_session(&tx, store, session_id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.session_revoked")
            .object("session", session_id)
            .details(json!({"user_id": s.user_id})),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// End every session and API token of a user (administrators).
pub async fn revoke_all_of_user(
    store: &Store,
    actor: &Principal,
    user_id: &str,
) -> Result<(), DomainError> {
    writable(actor)?;
    if !actor.is_admin() {
        return Err(DomainError::Forbidden(
            "ending another user's sessions is for administrators".into(),
        ));
    }
    users::get_user(store, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let tx = store.db.begin().await?;
    sessions::revoke_all_for_user(&tx, store, user_id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.sessions_revoked").object("user", user_id),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Sessions of a user: one's own, or anyone's for an administrator.
pub async fn list_sessions(
    store: &Store,
    actor: &Principal,
    user_id: &str,
) -> Result<Vec<SessionRow>, DomainError> {
    if user_id != actor.user_id && !actor.is_admin() {
        return Err(DomainError::NotFound);
    }
    sessions::sessions_of(store, user_id).await
}

/// Create an API token for oneself; the token is returned once and stored hashed.
pub async fn create_api_token(
    store: &Store,
    actor: &Principal,
    name: &str,
    read_only: bool,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, TokenRow), DomainError> {
    if actor.token_id.is_some() || actor.read_only {
        return Err(DomainError::Forbidden(
            "API tokens are created from a signed-in session".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::field(
            "name",
            "invalid",
            "a token name has 1-100 characters",
        ));
    }
    let now = store.now();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(DomainError::field(
            "expires_at",
            "in_the_past",
            "expires_at must be in the future",
        ));
    }
    let tok = token::random_token(token::API_PREFIX);
    let row = TokenRow {
        id: ids::new_id(),
        user_id: actor.user_id.clone(),
        name: name.to_string(),
        read_only,
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    let tx = store.db.begin().await?;
    sessions::insert_token(&tx, &row, &token::hash_token(&tok)).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.token_created")
            .object("api_token", &row.id)
            .details(json!({"name": row.name, "read_only": read_only, "expires_at": expires_at})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok((tok, row))
}

pub async fn revoke_api_token(
    store: &Store,
    actor: &Principal,
    id: &str,
) -> Result<(), DomainError> {
    let t = sessions::token_by_id(store, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if t.user_id != actor.user_id && !actor.is_admin() {
        return Err(DomainError::NotFound);
    }
    let tx = store.db.begin().await?;
    sessions::revoke_token(&tx, store, id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.token_revoked")
            .object("api_token", id)
            .details(json!({"user_id": t.user_id})),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}
