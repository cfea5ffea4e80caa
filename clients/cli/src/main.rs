//! `commerce`: run the system, provision it, mint tokens, use the storefront API, measure it.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use commerce_cli::cli::{
    BenchCommand, Cli, Command, DlqCommand, EventsCommand, GdprCommand, InfraCommand,
    LoadgenCommand, OutboxCommand, ProjectionsCommand, SagasCommand,
};
use commerce_cli::output::Output;
use commerce_cli::storefront::ApiTarget;
use commerce_cli::{commands, loadgen, storefront, system};
use commerce_platform::config::{AuthConfig, DatabaseConfig, MessagingConfig};
use commerce_platform::{telemetry, Shutdown};

/// mimalloc: the services allocate many small, short-lived buffers per request and per message;
/// measured against glibc malloc in `commerce bench relay` (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<storefront::UsageError>().is_some() => {
            eprintln!("error: {e}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("commerce: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = Output::choose(cli.api.output, cli.api.json);
    let target = ApiTarget {
        command_api: cli.api.command_api,
        read_api: cli.api.read_api,
        auth_api: cli.api.auth_api,
        token: cli.api.token,
        idempotency_key: cli.api.idempotency_key,
        request_timeout: storefront::REQUEST_TIMEOUT,
    };
    match cli.command {
        Command::Up => up().await,
        Command::Serve { components } => serve(&components).await,
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
        Command::Bench {
            command:
                BenchCommand::Relay {
                    events,
                    rounds,
                    lanes,
                    claim,
                    depth,
                },
        } => {
            anyhow::ensure!(
                rounds > 0 && events > 0,
                "--rounds and --events must be positive"
            );
            let bench = commerce_cli::bench::RelayBench {
                events,
                rounds,
                relay: commerce_command_api::relay::RelayConfig {
                    lanes,
                    claim_limit: claim,
                    pipeline_depth: depth,
                    ..Default::default()
                },
            };
            let results = commerce_cli::bench::relay(
                &DatabaseConfig::from_env()?,
                &MessagingConfig::from_env()?,
                &bench,
            )
            .await?;
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let raw = median(results.iter().map(|r| r.raw_publish).collect());
            let relay = median(results.iter().map(|r| r.relay).collect());
            let ratio = median(results.iter().map(|r| r.relay / r.raw_publish).collect());
            println!(
                "median of {rounds}: raw PublishBatch {raw:.0} msg/s, relay {relay:.0} events/s, ratio {ratio:.2} (lanes {lanes}, claim {claim}, depth {depth}, {events} events)"
            );
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Replay { events, rounds },
        } => {
            let bench = commerce_cli::bench_stream::ReplayBench {
                events,
                rounds: rounds as usize,
            };
            let results =
                commerce_cli::bench_stream::replay(&DatabaseConfig::from_env()?, &bench).await?;
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let copy = median(results.iter().map(|r| r.copy_ceiling).collect());
            let replay = median(results.iter().map(|r| r.replay).collect());
            let ratio = median(results.iter().map(|r| r.replay / r.copy_ceiling).collect());
            println!(
                "median of {rounds}: COPY ceiling {copy:.0} events/s, replay {replay:.0} events/s, ratio {ratio:.2} ({events} events, into a file)"
            );
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Rebuild {
                    model,
                    events,
                    rounds,
                    redis_ceiling,
                },
        } => {
            let bench = commerce_cli::bench_stream::RebuildBench {
                events,
                rounds: rounds as usize,
                redis: commerce_platform::config::RedisConfig::from_env()?,
                redis_ceiling,
            };
            let database = DatabaseConfig::from_env()?;
            let (results, ceiling_name) = if model == "orders" {
                (
                    commerce_cli::bench_stream::orders_rebuild(&database, &bench).await?,
                    "INSERT … SELECT",
                )
            } else {
                (
                    commerce_cli::bench_stream::rebuild(&database, &bench).await?,
                    "pipelined SET",
                )
            };
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let rebuild = median(results.iter().map(|r| r.rebuild).collect());
            let ceiling = median(results.iter().map(|r| r.ceiling).collect());
            let ratio = median(results.iter().map(|r| r.rebuild / r.ceiling).collect());
            println!(
                "median of {rounds}: {model} rebuild {rebuild:.0} events/s, {ceiling_name} {ceiling:.0}/s, ratio {ratio:.2} ({events} events)"
            );
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Suspension {
                    products,
                    rounds,
                    redis_ceiling,
                },
        } => {
            let bench = commerce_cli::bench_vendors::SuspensionBench {
                products,
                rounds: rounds as usize,
                redis: commerce_platform::config::RedisConfig::from_env()?,
                redis_ceiling,
            };
            let results = commerce_cli::bench_vendors::suspension(&bench).await?;
            for result in &results {
                let (suspension, reinstatement) = result.median_millis();
                println!(
                    "\n{} products (seeded in {:.1} s), median of {rounds}: suspension {suspension:.1} ms ({:.2} ms per 1,000 products), reinstatement {reinstatement:.1} ms\n{}",
                    result.products,
                    result.seeded_in.as_secs_f64(),
                    suspension * 1000.0 / f64::from(result.products),
                    result.table()
                );
            }
            Ok(())
        }
        Command::Loadgen {
            command:
                LoadgenCommand::AddItems {
                    seconds,
                    concurrency,
                    carts,
                    products,
                    pg_ceiling,
                    rounds,
                },
        } => {
            let load = loadgen::AddItemsLoad {
                command_api: target.command_api,
                carts,
                products,
                concurrency,
                duration: Duration::from_secs(seconds),
                pg_ceiling,
                rounds,
            };
            loadgen::add_items(&AuthConfig::from_env()?, &load).await
        }
        Command::Loadgen {
            command:
                LoadgenCommand::Checkout {
                    orders,
                    concurrency,
                    products,
                    pg_ceiling,
                    rounds,
                },
        } => {
            let load = commerce_cli::checkout_load::CheckoutLoad {
                command_api: target.command_api,
                read_api: target.read_api,
                orders,
                concurrency,
                products,
                pg_ceiling,
                rounds,
            };
            commerce_cli::checkout_load::checkout(
                &AuthConfig::from_env()?,
                &DatabaseConfig::from_env()?,
                &load,
            )
            .await
        }
        Command::Loadgen {
            command:
                LoadgenCommand::Analytics {
                    rate,
                    seconds,
                    events,
                    pg_ceiling,
                    rounds,
                },
        } => {
            let load = commerce_cli::analytics_load::AnalyticsLoad {
                command_api: target.command_api,
                read_api: target.read_api,
                rate,
                seconds,
                events,
                pg_ceiling,
                rounds: rounds as usize,
            };
            commerce_cli::analytics_load::run(
                &AuthConfig::from_env()?,
                &DatabaseConfig::from_env()?,
                &load,
            )
            .await
        }
        Command::Loadgen {
            command:
                LoadgenCommand::Auth {
                    concurrency,
                    seconds,
                },
        } => {
            use commerce_platform::config::env_or;
            let load = commerce_cli::auth_load::AuthLoad {
                command_api: target.command_api,
                auth_api: target.auth_api,
                concurrency: concurrency as usize,
                seconds,
                hashing: commerce_auth::passwords::HashParams {
                    memory_kib: env_or("COMMERCE_ARGON2_MEMORY_KIB", "19456")?,
                    iterations: env_or("COMMERCE_ARGON2_ITERATIONS", "2")?,
                    parallelism: env_or("COMMERCE_ARGON2_PARALLELISM", "1")?,
                },
            };
            let report = commerce_cli::auth_load::run(&load).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Loadgen {
            command:
                LoadgenCommand::Pages {
                    web,
                    product,
                    rate,
                    seconds,
                },
        } => {
            let token = match target.token.clone() {
                Some(token) => token,
                None => commands::token(
                    &AuthConfig::from_env()?,
                    commerce_platform::auth::Role::Customer,
                    None,
                    None,
                    3600,
                )?,
            };
            let load = commerce_cli::pages_load::PagesLoad {
                web,
                read_api: target.read_api,
                token,
                product,
                rate,
                seconds,
            };
            let report = commerce_cli::pages_load::run(&load).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Products { command } => {
            storefront::products(&target.session(output).await?, command).await
        }
        Command::Cart { command } => {
            storefront::cart(&target.session(output).await?, command).await
        }
        Command::Checkout(args) => storefront::checkout(&target.session(output).await?, args).await,
        Command::Orders { command } => {
            storefront::orders(&target.session(output).await?, command).await
        }
        Command::Stock { command } => {
            storefront::stock(&target.session(output).await?, command).await
        }
        Command::Signup(args) => commerce_cli::accounts::signup(&target, args, output).await,
        Command::Login(args) => commerce_cli::accounts::login(&target, args, output).await,
        Command::Logout => commerce_cli::accounts::logout(&target, output).await,
        Command::Users { command } => commerce_cli::accounts::users(&target, command, output).await,
        Command::Auth { command } => commerce_cli::accounts::auth(command, output).await,
        Command::Openapi { service } => {
            println!("{}", commands::openapi(service)?);
            Ok(())
        }
        Command::Audit(args) => commerce_cli::accounts::audit_log(&target, args, output).await,
        Command::Webhooks { command } => {
            commerce_cli::webhooks::webhooks(&target.session(output).await?, command).await
        }
        Command::Vendors { command } => {
            commerce_cli::vendors::vendors(&target.session(output).await?, command).await
        }
        Command::Payouts { command } => {
            let target = ApiTarget {
                request_timeout: commerce_cli::payouts::RUN_TIMEOUT,
                ..target
            };
            commerce_cli::payouts::payouts(&target.session(output).await?, command).await
        }
        Command::Commissions { command } => {
            commerce_cli::commissions::commissions(&target, command, output).await
        }
        Command::Ledger { command } => commerce_cli::ledger::ledger(&target, command, output).await,
        Command::Outbox { command } => {
            let database = DatabaseConfig::from_env()?;
            match command {
                OutboxCommand::Parked => commands::outbox_parked(&database, output).await,
                OutboxCommand::Retry { all, position } => {
                    let only = (!all).then_some(position.as_slice());
                    commands::outbox_retry(&database, only).await
                }
            }
        }
        Command::Events {
            command:
                EventsCommand::Replay {
                    after,
                    aggregate_type,
                    event_type,
                    from,
                    to,
                    follow,
                },
        } => {
            let replay = commerce_cli::replay::Replay {
                after,
                filter: commerce_platform::event_stream::StreamFilter {
                    aggregate_types: aggregate_type.into_iter().collect(),
                    event_types: event_type,
                    from,
                    to,
                },
                follow,
            };
            let database = DatabaseConfig::from_env()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            tokio::select! {
                replayed = commerce_cli::replay::replay(&database, &replay, &mut out) => {
                    replayed.map(|_| ())
                }
                () = commerce_platform::http::termination_signal() => Ok(()),
            }
        }
        Command::Status { metrics_url } => {
            let status = commerce_cli::status::collect(
                &DatabaseConfig::from_env()?,
                &MessagingConfig::from_env()?,
                &commerce_platform::config::RedisConfig::from_env()?,
                &metrics_url,
            )
            .await;
            commerce_cli::status::show(&status, output).await
        }
        Command::Projections { command } => {
            let database = DatabaseConfig::from_env()?;
            let redis = commerce_platform::config::RedisConfig::from_env()?;
            match command {
                ProjectionsCommand::List => {
                    commerce_cli::projections::list(&database, &redis, output).await
                }
                ProjectionsCommand::Rebuild { model, page } => {
                    let model = commerce_projections::rebuild::Model::parse(&model)
                        .ok_or_else(|| anyhow::anyhow!("no model {model:?}"))?;
                    commerce_cli::projections::rebuild(model, &database, &redis, page).await
                }
            }
        }
        Command::Gdpr { command } => {
            let database = DatabaseConfig::from_env()?;
            match command {
                GdprCommand::Forget { customer_id } => {
                    commerce_cli::gdpr::forget(&database, customer_id, output).await
                }
                GdprCommand::SealStored { batch } => {
                    commerce_cli::gdpr::seal_stored(&database, batch, output).await
                }
            }
        }
        Command::Dlq { command } => {
            let messaging = MessagingConfig::from_env()?;
            match command {
                DlqCommand::List => commands::dlq_list(&messaging, output).await,
                DlqCommand::Show { queue, limit } => {
                    commands::dlq_show(&messaging, &queue, limit as usize, output).await
                }
                DlqCommand::Redrive { queue, limit } => {
                    commands::dlq_redrive(&messaging, &queue, limit.map(|l| l as usize)).await
                }
            }
        }
        Command::Sagas { command } => {
            let database = DatabaseConfig::from_env()?;
            match command {
                SagasCommand::List {
                    state,
                    overdue,
                    limit,
                } => {
                    commands::sagas_list(&database, state.as_deref(), overdue, limit, output).await
                }
                SagasCommand::Show { order_id } => {
                    commands::sagas_show(&database, order_id, output).await
                }
                SagasCommand::Retry { order_id } => {
                    commands::sagas_retry(&database, order_id).await
                }
                SagasCommand::Abandon { order_id, reason } => {
                    commands::sagas_abandon(&database, order_id, &reason).await
                }
            }
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

/// Stops everything `shutdown` stops on SIGTERM or Ctrl-C.
fn stop_on_termination_signal(shutdown: Shutdown) {
    tokio::spawn(async move {
        commerce_platform::http::termination_signal().await;
        tracing::info!("termination requested; shutting down");
        shutdown.cancel();
    });
}

/// `commerce serve`: the named components, until SIGTERM or Ctrl-C.
async fn serve(components: &[system::Component]) -> anyhow::Result<()> {
    telemetry::init_logging();
    let config = system::SystemConfig::from_env()?;
    let shutdown = Shutdown::new();
    let running = system::start_components(config, components, shutdown.clone()).await?;
    for (name, address) in &running.listening {
        tracing::info!(service = name, %address, "listening");
        println!("{name:<12} http://{address}");
    }
    println!("ready");
    stop_on_termination_signal(shutdown);
    running.wait().await
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
    println!("auth         http://{}", running.auth);
    if let Some(sagas) = running.sagas {
        println!("sagas        http://{sagas}/metrics");
    }
    if let Some(simulator) = running.payment_simulator {
        println!("payments     http://{simulator} (simulator: tok_ok, tok_decline, tok_timeout)");
    }
    println!("ready");
    stop_on_termination_signal(shutdown);
    running.wait().await
}
