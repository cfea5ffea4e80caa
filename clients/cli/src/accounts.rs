//! `commerce signup|login|logout`, `commerce users create-admin|show|grant`,
//! `commerce auth rotate-key` and `commerce audit`: accounts and sign-in.
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use commerce_client::{Account, AuditEntry, AuditQuery};
use commerce_platform::audit;
use commerce_platform::auth::Role;
use commerce_platform::config::DatabaseConfig;
use uuid::Uuid;

use crate::credentials;
use crate::output::{fields, Output, Table};
use crate::storefront::{describe, ApiTarget};

/// An email, and where the password comes from.
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// The account's email.
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of standard input (for scripts); otherwise it is
    /// asked for, without echo on a terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

/// A new account.
#[derive(Debug, Args)]
pub struct SignUpArgs {
    #[command(flatten)]
    pub sign_in: SignInArgs,
    /// How the storefront greets you.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an admin account directly in the database (the first admin of a deployment);
    /// reads COMMERCE_DATABASE_URL.
    CreateAdmin(SignInArgs),
    /// An account by its email (admins).
    Show {
        /// The account's email.
        email: String,
    },
    /// Give an account a role (admins): customer, vendor (with --vendor-id), admin, analyst or
    /// ops. It applies from the account's next token.
    Grant {
        /// The account's email.
        email: String,
        /// The role to give.
        #[arg(long)]
        role: Role,
        /// The vendor a vendor member acts for.
        #[arg(long)]
        vendor_id: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Add a new signing key; it signs after --activate-in seconds (default: the service's
    /// COMMERCE_SIGNING_KEY_ACTIVATION_SECS), by when verifiers have read it, and the current
    /// key stops signing then. Reads COMMERCE_DATABASE_URL.
    RotateKey {
        /// Seconds until the new key signs.
        #[arg(long)]
        activate_in: Option<u64>,
    },
}

/// Which audit entries to list.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only what this user did.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (login_failed, role_granted, refresh_token_reused, …).
    #[arg(long)]
    pub action: Option<String>,
    /// From this time on (RFC 3339).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// How many, 1 to 500.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
}

/// The password: from standard input's first line, or asked for on the terminal.
fn password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = !from_stdin && stdin.is_terminal();
    if terminal {
        eprint!("Password: ");
        std::io::stderr().flush()?;
        // No echo while it is typed.
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    read.context("reading the password")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password given");
    Ok(password)
}

/// `commerce signup`: an account, then a sign-in kept for the other commands.
pub async fn signup(target: &ApiTarget, args: SignUpArgs, output: Output) -> anyhow::Result<()> {
    let (args, name) = (args.sign_in, args.name);
    let password = password(args.password_stdin)?;
    let client = target.client()?;
    let account = client
        .register(&args.email, &password, name.as_deref())
        .await
        .map_err(describe)?;
    sign_in(target, &args.email, &password).await?;
    output.print(&account, |a| {
        format!(
            "Signed up and signed in as {} ({}, user {}).",
            a.email, a.role, a.user_id
        )
    })
}

/// `commerce login`.
pub async fn login(target: &ApiTarget, args: SignInArgs, output: Output) -> anyhow::Result<()> {
    let password = password(args.password_stdin)?;
    let path = sign_in(target, &args.email, &password).await?;
    output.print(
        &serde_json::json!({ "email": args.email, "credentials": path }),
        |_| {
            format!(
                "Signed in as {}; the token pair is kept in {}.",
                args.email,
                path.display()
            )
        },
    )
}

async fn sign_in(
    target: &ApiTarget,
    email: &str,
    password: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let pair = target
        .client()?
        .login(email, password)
        .await
        .map_err(describe)?;
    credentials::store(&target.auth_api, email, &pair)
}

/// `commerce logout`: the kept sign-in is revoked and forgotten.
pub async fn logout(target: &ApiTarget, output: Output) -> anyhow::Result<()> {
    let Some(stored) = credentials::load()? else {
        return output.print(&serde_json::json!({ "signed_out": false }), |_| {
            "Not signed in.".to_owned()
        });
    };
    target
        .client()?
        .with_auth_api(&stored.auth_api)
        .logout(&stored.refresh_token)
        .await
        .map_err(describe)?;
    credentials::forget()?;
    output.print(
        &serde_json::json!({ "signed_out": true, "email": stored.email }),
        |_| format!("Signed out {}.", stored.email),
    )
}

fn account_summary(account: &Account) -> String {
    fields(&[
        ("user", account.user_id.to_string()),
        ("email", account.email.clone()),
        ("role", account.role.clone()),
        (
            "vendor",
            account.vendor_id.map(|v| v.to_string()).unwrap_or_default(),
        ),
    ])
}

pub async fn users(
    target: &ApiTarget,
    command: UsersCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        UsersCommand::CreateAdmin(args) => {
            let password = password(args.password_stdin)?;
            let database = DatabaseConfig::from_env()?;
            let pool = commerce_platform::database::connect(&database).await?;
            commerce_auth::migrate(&pool).await?;
            let hashing = std::sync::Arc::new(commerce_auth::passwords::PasswordHashing::new(
                commerce_auth::passwords::HashParams::default(),
            )?);
            let entry = audit::AuditEntry::new("admin_created").detail(serde_json::json!({
                "by": "commerce users create-admin"
            }));
            let (user_id, email) = commerce_auth::accounts::create(
                &pool,
                &hashing,
                &args.email,
                password,
                None,
                Role::Admin,
                entry,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let account = Account {
                user_id,
                email,
                role: Role::Admin.as_str().to_owned(),
                vendor_id: None,
            };
            output.print(&account, |a| {
                format!("Admin created.\n{}", account_summary(a))
            })
        }
        UsersCommand::Show { email } => {
            let client = target.authenticated_client().await?;
            let account = client.find_account(&email).await.map_err(describe)?;
            output.print(&account, account_summary)
        }
        UsersCommand::Grant {
            email,
            role,
            vendor_id,
        } => {
            let client = target.authenticated_client().await?;
            let account = client.find_account(&email).await.map_err(describe)?;
            let account = client
                .grant_role(account.user_id, role.as_str(), vendor_id)
                .await
                .map_err(describe)?;
            output.print(&account, |a| {
                format!(
                    "Granted; it applies from the account's next token.\n{}",
                    account_summary(a)
                )
            })
        }
    }
}

pub async fn auth(command: AuthCommand, output: Output) -> anyhow::Result<()> {
    match command {
        AuthCommand::RotateKey { activate_in } => {
            let config = commerce_auth::Config::from_env()?;
            let activation = activate_in.map_or(config.key_activation, Duration::from_secs);
            let pool = commerce_platform::database::connect(&config.database).await?;
            commerce_auth::migrate(&pool).await?;
            let kid = commerce_auth::keys::rotate(&pool, activation).await?;
            output.print(
                &serde_json::json!({ "kid": kid, "signs_in_secs": activation.as_secs() }),
                |_| {
                    format!(
                        "New signing key {kid}: published now, signing in {} s; the current key \
                         stops signing then.",
                        activation.as_secs()
                    )
                },
            )
        }
    }
}

pub async fn audit_log(target: &ApiTarget, args: AuditArgs, output: Output) -> anyhow::Result<()> {
    let client = target.authenticated_client().await?;
    let page = client
        .audit_log(&AuditQuery {
            actor: args.actor,
            action: args.action,
            from: args.from,
            to: args.to,
            cursor: None,
            limit: args.limit,
        })
        .await
        .map_err(describe)?;
    output.print_rows(&page.items, render_audit)
}

fn render_audit(entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return "No audit entries.".into();
    }
    let mut table = Table::new(&[
        ("AT", false),
        ("ACTION", false),
        ("ACTOR", false),
        ("TARGET", false),
        ("FROM", false),
    ]);
    for entry in entries {
        table.row(vec![
            entry.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            entry.action.clone(),
            entry.actor.clone().unwrap_or_default(),
            entry.target.clone().unwrap_or_default(),
            entry.client_address.clone().unwrap_or_default(),
        ]);
    }
    table.render()
}
