//! An administrator's changes to someone else's sign-in: a new password, MFA removed. Both
//! need the user right over all users, end the user's sessions and API tokens, lift the
//! account's sign-in lock and are audited. The command line (`rapport user set-password`,
//! `reset-mfa`) goes through the same functions as the system, so a locked-out administrator
//! is recovered by whoever runs the server.

use super::*;
use rapport_core::{Action, Object, Scope};

/// Whether the caller may reset others' sign-in (the API checks it before reading a body).
pub fn may_reset(actor: &Principal) -> Result<(), DomainError> {
    writable(actor)?;
    if actor.scope(Object::USER, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "resetting another user's sign-in needs the user right".into(),
        ));
    }
    Ok(())
}

/// The user to change, after checking the caller may change users.
async fn target(store: &Store, actor: &Principal, user_id: &str) -> Result<User, DomainError> {
    may_reset(actor)?;
    users::get_user(store, user_id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Give a user a new password (checked against the policy). Their sessions and API tokens
/// end and their account is no longer locked by failed sign-ins.
pub async fn reset_password(
    store: &Store,
    actor: &Principal,
    user_id: &str,
    new: &str,
) -> Result<(), DomainError> {
    let user = target(store, actor, user_id).await?;
    password::check_policy("new_password", new)?;
    let hash = password::hash(new)?;
    let tx = store.db.begin().await?;
    users::set_password_hash(&tx, store, &user.id, &hash).await?;
    sessions::revoke_all_for_user(&tx, store, &user.id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("user.password_reset").object("user", &user.id),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    throttle::clear(store, &throttle::account_key(&user.email)).await?;
    store.auth_cache().invalidate();
    Ok(())
}

/// Remove a user's second factor (a lost phone): the TOTP secret, any enrolment under way and
/// the recovery codes. They sign in with their password alone until they enrol again. Their
/// sessions and API tokens end.
pub async fn reset_mfa(store: &Store, actor: &Principal, user_id: &str) -> Result<(), DomainError> {
    let user = target(store, actor, user_id).await?;
    let tx = store.db.begin().await?;
    users::set_totp(&tx, store, &user.id, None, &[]).await?;
    users::set_totp_pending(&tx, store, &user.id, None).await?;
    sessions::revoke_all_for_user(&tx, store, &user.id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("user.mfa_reset")
            .object("user", &user.id)
            .details(json!({"had_mfa": user.mfa_enabled})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    throttle::clear(store, &throttle::account_key(&user.email)).await?;
    store.auth_cache().invalidate();
    Ok(())
}
