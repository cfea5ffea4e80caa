//! `commerce`: run the system, provision it, mint tokens, measure it.
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use commerce_cli::{commands, system};
use commerce_platform::auth::Role;
use commerce_platform::config::{AuthConfig, DatabaseConfig, MessagingConfig};
use commerce_platform::{telemetry, Shutdown};
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "commerce",
    version,
    about = "The commerce engine's command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process until Ctrl-C or SIGTERM (migrates and provisions first).
    Up,
    /// Create the database if missing and apply every migration.
    Migrate,
    /// Infrastructure tasks.
    Infra {
        #[command(subcommand)]
        command: InfraCommand,
    },
    /// Print a bearer token for local use, signed with COMMERCE_JWT_SECRET.
    Token {
        #[arg(long)]
        role: Role,
        /// The user id (`sub`); a new one if omitted.
        #[arg(long)]
        sub: Option<String>,
        /// Required for --role vendor.
        #[arg(long)]
        vendor_id: Option<Uuid>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum InfraCommand {
    /// Create the SNS topic, SQS queues, DLQs and subscriptions (idempotent).
    Provision,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("commerce: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up => up().await,
        Command::Migrate => {
            telemetry::init_logging();
            commands::migrate(&DatabaseConfig::from_env()?).await
        }
        Command::Infra {
            command: InfraCommand::Provision,
        } => {
            telemetry::init_logging();
            commands::provision(&MessagingConfig::from_env()?).await
        }
        Command::Token {
            role,
            sub,
            vendor_id,
            ttl,
        } => {
            let token = commands::token(&AuthConfig::from_env()?, role, sub, vendor_id, ttl)?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn up() -> anyhow::Result<()> {
    telemetry::init_logging();
    let config = system::SystemConfig::from_env()?;
    commands::migrate(&config.command_api.database)
        .await
        .context("migrating")?;
    commands::provision(&config.command_api.messaging)
        .await
        .context("provisioning")?;
    let shutdown = Shutdown::new();
    let running = system::start(config, shutdown.clone()).await?;
    println!("command-api  http://{}", running.command_api);
    println!("read-api     http://{}", running.read_api);
    println!("ready");
    let signal = shutdown.clone();
    tokio::spawn(async move {
        commerce_platform::http::termination_signal().await;
        tracing::info!("termination requested; shutting down");
        signal.cancel();
    });
    running.wait().await
}
