//! `rapport user ...`: users managed by whoever runs the server, without a browser, so that a
//! locked-out administrator (forgotten password, lost phone, a locked account) is recovered.
//! Each command acts as the system through the same services as the API, and is audited.

use crate::config::Config;
use crate::serve;
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use rapport_auth::service as auth;
use rapport_services::access::Access;
use rapport_services::{users, Store};
use std::io::BufRead;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. A department named for the first time is created.
    Create {
        #[arg(long)]
        email: String,
        /// At least 12 characters.
        #[arg(long)]
        password: String,
        /// administrator, sales_manager, sales_rep, marketer, support_agent, finance or viewer
        /// (or a role created in the settings).
        #[arg(long)]
        role: String,
        /// Display name (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// Email of an existing user who manages this one.
        #[arg(long)]
        manager: Option<String>,
        /// zh-CN (default) or en.
        #[arg(long)]
        language: Option<String>,
    },
    /// List users: email, name, roles, whether active and whether MFA is on.
    List,
    /// Give a user a new password; their sessions and API tokens end and a sign-in lock on
    /// the account is lifted.
    SetPassword {
        #[arg(long)]
        email: String,
        /// The new password (at least 12 characters). Without it, the first line of standard
        /// input is read, which keeps the password out of the shell's history.
        #[arg(long)]
        password: Option<String>,
    },
    /// Stop a user from signing in; their sessions and API tokens end.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Remove a user's second factor and recovery codes (a lost phone); they sign in with
    /// their password and enrol again. Their sessions and API tokens end.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
    /// Replace a user's roles (repeat --role for several).
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
}

pub async fn run(cfg: &Config, command: UserCommand) -> Result<()> {
    let store = serve::open_store(cfg).await?;
    let result = run_on(&store, command).await;
    store.db.close().await;
    result
}

async fn run_on(store: &Store, command: UserCommand) -> Result<()> {
    let system = Access::system(store).await.map_err(crate::describe)?;
    match command {
        UserCommand::Create {
            email,
            password,
            role,
            name,
            department,
            manager,
            language,
        } => {
            let spec = auth::UserSpec {
                email,
                name,
                password,
                roles: vec![role],
                department,
                manager_email: manager,
                language,
                ..Default::default()
            };
            let user = auth::create_user(store, &system, spec)
                .await
                .map_err(crate::describe)?;
            println!(
                "created user {} ({}) with id {}",
                user.email,
                user.roles.join(", "),
                user.id
            );
        }
        UserCommand::List => {
            let list = users::list(store, &system).await.map_err(crate::describe)?;
            println!(
                "{:<36}  {:<24}  {:<28}  {:<8}  mfa",
                "email", "name", "roles", "state"
            );
            for u in list {
                println!(
                    "{:<36}  {:<24}  {:<28}  {:<8}  {}",
                    u.email,
                    u.name,
                    u.roles.join(","),
                    if u.active { "active" } else { "disabled" },
                    if u.mfa_enabled { "on" } else { "off" }
                );
            }
        }
        UserCommand::SetPassword { email, password } => {
            let user = by_email(store, &email).await?;
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            auth::reset_password(store, &system, &user.id, &password)
                .await
                .map_err(crate::describe)?;
            println!(
                "password of {} changed; their sessions and API tokens ended",
                user.email
            );
        }
        UserCommand::Disable { email } => {
            let user = by_email(store, &email).await?;
            users::set_active(store, &system, &user.id, false)
                .await
                .map_err(crate::describe)?;
            println!(
                "{} disabled; their sessions and API tokens ended",
                user.email
            );
        }
        UserCommand::Enable { email } => {
            let user = by_email(store, &email).await?;
            users::set_active(store, &system, &user.id, true)
                .await
                .map_err(crate::describe)?;
            println!("{} enabled", user.email);
        }
        UserCommand::ResetMfa { email } => {
            let user = by_email(store, &email).await?;
            auth::reset_mfa(store, &system, &user.id)
                .await
                .map_err(crate::describe)?;
            println!(
                "second factor of {} removed{}; their sessions and API tokens ended",
                user.email,
                if user.mfa_enabled {
                    ""
                } else {
                    " (none was enrolled)"
                }
            );
        }
        UserCommand::SetRole { email, roles } => {
            let user = by_email(store, &email).await?;
            users::set_roles(store, &system, &user.id, &roles)
                .await
                .map_err(crate::describe)?;
            println!("{} now has the roles {}", user.email, roles.join(", "));
        }
    }
    Ok(())
}

async fn by_email(store: &Store, email: &str) -> Result<users::User> {
    users::credentials_by_email(store, email)
        .await
        .map_err(crate::describe)?
        .map(|c| c.user)
        .ok_or_else(|| anyhow!("there is no user with the email {email}"))
}

/// The first line of standard input, without its line ending.
pub fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the new password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password given: pass --password or write it to standard input");
    }
    Ok(password)
}
