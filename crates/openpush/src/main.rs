//! The `openpush` binary: a thin shell over the library crates.

/// mimalloc: the push path allocates many small, short-lived buffers (frames, rows), where
/// it measurably beats the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod device;
mod mock_vendors;
mod signal;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use openpush_api::{Config, Server, DEFAULT_CONFIG_TOML};
use openpush_core::{Clock, SystemClock};
use openpush_store::sqlite::SqliteStore;
use openpush_store::Store;
use signal::StopSignal;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "openpush",
    version,
    about = "Self-hosted instant push with the Easemob Push REST API"
)]
struct Cli {
    /// TOML configuration file (see `openpush default-config`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the embedded store; overrides the file and OPENPUSH_DATA_DIR.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on; overrides the file and OPENPUSH_LISTEN.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Manage apps in the store (works whether the server runs or not).
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Connect as one device of a user and print each notification as a JSON line
    /// (logs on stderr); reconnects until Ctrl-C.
    Device(device::DeviceArgs),
    /// Manage push certificates ("notifiers") in the store (works whether the server runs or not).
    Notifier {
        #[command(subcommand)]
        command: NotifierCommand,
    },
    /// Run local stand-ins for the eight vendor push services (demos, load tests).
    MockVendors(mock_vendors::MockVendorsArgs),
    /// Print every setting with its default and a one-line doc.
    DefaultConfig,
    /// Run a benchmark scenario (starts its own server and simulated devices).
    Bench(bench::BenchArgs),
    /// One load process of `openpush bench` (started by it).
    #[command(hide = true)]
    BenchWorker(bench::WorkerArgs),
}

#[derive(Debug, Subcommand)]
enum NotifierCommand {
    /// Add (or replace) a notifier. The credentials file is the JSON object of the vendor's
    /// fields (see docs/api.md); it is stored and never printed.
    Add {
        org: String,
        app: String,
        name: String,
        #[arg(long)]
        vendor: String,
        #[arg(long, value_name = "FILE")]
        credentials: PathBuf,
        #[arg(long, default_value = "production")]
        environment: String,
        #[arg(long)]
        base_url: Option<String>,
    },
    /// List an app's notifiers (never their credentials).
    List { org: String, app: String },
    /// Remove a notifier.
    Remove {
        org: String,
        app: String,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum AppCommand {
    /// Create an app; prints {"org","app","client_id","client_secret"} once.
    Create { org: String, app: String },
    /// List apps (never their secrets).
    List,
    /// Replace an app's client secret; prints {"org","app","client_id","client_secret"} once.
    /// Every app token issued before it is refused from then on: a running server reads the
    /// change at its next token grant for the app, and within `token.app_cache_secs` anyway.
    RotateSecret { org: String, app: String },
    /// Set how long the Easemob channel keeps an offline notification for an app: SECONDS,
    /// or `default` for the server's `gateway.offline_retention_secs`. A running server picks
    /// the change up within `token.app_cache_secs` (5 seconds by default).
    Retention {
        org: String,
        app: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Set an app's task limits: tasks running at once, and tasks per creation window.
    /// Each takes a number or `default` (the server's setting); a flag left out keeps its value.
    TaskLimits {
        org: String,
        app: String,
        #[arg(long, allow_hyphen_values = true)]
        running: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        per_window: Option<String>,
    },
}

/// Defaults, then the file, then `OPENPUSH_*` (nested keys split on `__`), then flags.
/// Unknown keys are reported, not fatal.
fn load_config(cli: &Cli, listen: Option<std::net::SocketAddr>) -> Result<Config> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &cli.config {
        anyhow::ensure!(
            path.exists(),
            "config file {} does not exist",
            path.display()
        );
        fig = fig.merge(Toml::file(path));
    }
    fig = fig.merge(Env::prefixed("OPENPUSH_").split("__"));
    if let Some(d) = &cli.data_dir {
        fig = fig.merge(Serialized::default("data_dir", d));
    }
    if let Some(l) = listen {
        fig = fig.merge(Serialized::default("listen", l.to_string()));
    }
    let value: figment::value::Value = fig.extract().context("reading configuration")?;
    let mut unknown = Vec::new();
    let config: Config = serde_ignored::deserialize(&value, |path| unknown.push(path.to_string()))
        .context("invalid configuration")?;
    for key in unknown {
        tracing::warn!(%key, "unknown configuration key ignored");
    }
    Ok(config)
}

/// Resolves at the first Ctrl-C or SIGTERM.
async fn shutdown_signal(mut stop: StopSignal) {
    stop.recv().await;
    tracing::info!("shutdown requested; draining in-flight requests");
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // A load process is one of several on a small machine: one thread each. Everything else
    // uses every core.
    let runtime = if matches!(cli.command, Command::BenchWorker(_)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .context("starting the async runtime")?;
    runtime.block_on(async_main(cli))
}

async fn async_main(cli: Cli) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match &cli.command {
        Command::Bench(args) => bench::run(args.clone()).await,
        Command::BenchWorker(args) => bench::run_worker(args.clone()).await,
        Command::DefaultConfig => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
        Command::Serve { listen } => {
            // One descriptor per device connection: take what the hard limit allows.
            if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
                tracing::warn!(error = %e, "could not raise the open-file limit");
            }
            let config = load_config(&cli, *listen)?;
            let data_dir = config.data_dir.clone();
            let stop = StopSignal::new().context("listening for Ctrl-C and SIGTERM")?;
            let server = Server::bind(config).await.context("starting the server")?;
            let addr = server.local_addr().context("reading the bound address")?;
            let max_connections = server.max_connections();
            tracing::info!(%addr, data_dir = %data_dir.display(), max_connections, "openpush listening");
            server.run(shutdown_signal(stop)).await.context("serving")?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Device(args) => device::run(args.clone()).await,
        Command::MockVendors(args) => {
            let config = load_config(&cli, None)?;
            mock_vendors::run(args, &config).await
        }
        Command::Notifier { command } => {
            let config = load_config(&cli, None)?;
            let store = SqliteStore::open(&config.data_dir)
                .await
                .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
            let policy = config.vendors.base_url_policy();
            let result = notifier_command(&store, command, policy).await;
            store.close().await;
            result
        }
        Command::App { command } => {
            let config = load_config(&cli, None)?;
            let store = SqliteStore::open(&config.data_dir)
                .await
                .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
            let store: Arc<dyn Store> = Arc::new(store);
            let result = app_command(&*store, command).await;
            store.close().await;
            result
        }
    }
}

async fn app_command(store: &dyn Store, command: &AppCommand) -> Result<()> {
    match command {
        AppCommand::Create { org, app } => {
            let created = openpush_api::admin::create_app(store, &SystemClock, org, app)
                .await
                .context("creating the app")?;
            let out = serde_json::json!({
                "org": created.app.org,
                "app": created.app.name,
                "client_id": created.app.client_id,
                "client_secret": created.client_secret,
            });
            println!("{out}");
        }
        AppCommand::RotateSecret { org, app } => {
            let rotated = openpush_api::admin::rotate_secret(store, &SystemClock, org, app)
                .await
                .context("rotating the client secret")?;
            let out = serde_json::json!({
                "org": rotated.app.org,
                "app": rotated.app.name,
                "client_id": rotated.app.client_id,
                "client_secret": rotated.client_secret,
            });
            println!("{out}");
        }
        AppCommand::Retention { org, app, value } => {
            let secs = match value.as_str() {
                "default" => None,
                v => {
                    let n: i64 = v
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| format!("retention must be a positive number of seconds or `default`, got {v:?}"))?;
                    Some(n)
                }
            };
            let found = store
                .app_by_name(org, app)
                .await
                .context("reading the app")?
                .with_context(|| format!("app {org}#{app} does not exist"))?;
            store
                .set_offline_retention(found.id, secs)
                .await
                .context("setting the retention")?;
            println!(
                "{}",
                serde_json::json!({"org": org, "app": app, "offline_retention_secs": secs})
            );
        }
        AppCommand::TaskLimits {
            org,
            app,
            running,
            per_window,
        } => {
            let found = store
                .app_by_name(org, app)
                .await
                .context("reading the app")?
                .with_context(|| format!("app {org}#{app} does not exist"))?;
            let parse = |flag: &str,
                         v: &Option<String>,
                         current: Option<u32>|
             -> Result<Option<u32>> {
                match v.as_deref() {
                    None => Ok(current),
                    Some("default") => Ok(None),
                    Some(s) => s
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .map(Some)
                        .with_context(|| {
                            format!("--{flag} must be a positive number or `default`, got {s:?}")
                        }),
                }
            };
            let running = parse("running", running, found.tasks_running_max)?;
            let per_window = parse("per-window", per_window, found.tasks_per_window)?;
            store
                .set_task_limits(found.id, running, per_window)
                .await
                .context("setting the task limits")?;
            println!(
                "{}",
                serde_json::json!({"org": org, "app": app, "tasks_running_max": running, "tasks_per_window": per_window})
            );
        }
        AppCommand::List => {
            for a in store.list_apps().await.context("listing apps")? {
                let out = serde_json::json!({
                    "org": a.org,
                    "app": a.name,
                    "client_id": a.client_id,
                    "uuid": a.uuid,
                    "offline_retention_secs": a.offline_retention_secs,
                    "tasks_running_max": a.tasks_running_max,
                    "tasks_per_window": a.tasks_per_window,
                    "created": a.created,
                });
                println!("{out}");
            }
        }
    }
    Ok(())
}

/// `policy`: which base URL hosts `notifier add` accepts (the `vendors` settings).
async fn notifier_command(
    store: &dyn Store,
    command: &NotifierCommand,
    policy: openpush_core::notifier::BaseUrlPolicy,
) -> Result<()> {
    let app_of = |org: &str, app: &str| format!("{org}#{app}");
    match command {
        NotifierCommand::Add {
            org,
            app,
            name,
            vendor,
            credentials,
            environment,
            base_url,
        } => {
            let found = store
                .app_by_name(org, app)
                .await?
                .with_context(|| format!("app {} does not exist", app_of(org, app)))?;
            let text = std::fs::read_to_string(credentials)
                .with_context(|| format!("reading {}", credentials.display()))?;
            let creds: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", credentials.display()))?;
            let req = openpush_api::notifiers::NotifierRequest {
                name: Some(name.clone()),
                vendor: Some(vendor.clone()),
                environment: Some(environment.clone()),
                credentials: Some(creds),
                base_url: base_url.clone(),
            };
            let n = openpush_api::notifiers::build_notifier(
                found.id,
                req,
                SystemClock.now_ms(),
                policy,
            )
            .map_err(|e| anyhow::anyhow!(e.description))?;
            let replaced = store
                .put_notifier(&n)
                .await
                .context("saving the notifier")?;
            println!(
                "{}",
                serde_json::json!({"name": n.name, "vendor": n.vendor, "environment": n.environment, "base_url": n.base_url, "replaced": replaced})
            );
        }
        NotifierCommand::List { org, app } => {
            let found = store
                .app_by_name(org, app)
                .await?
                .with_context(|| format!("app {} does not exist", app_of(org, app)))?;
            for n in store.notifiers(found.id).await? {
                println!(
                    "{}",
                    serde_json::json!({"name": n.name, "vendor": n.vendor, "environment": n.environment, "base_url": n.base_url, "created": n.created})
                );
            }
        }
        NotifierCommand::Remove { org, app, name } => {
            let found = store
                .app_by_name(org, app)
                .await?
                .with_context(|| format!("app {} does not exist", app_of(org, app)))?;
            anyhow::ensure!(
                store.delete_notifier(found.id, name).await?,
                "notifier {name} does not exist in {}",
                app_of(org, app)
            );
            println!("{}", serde_json::json!({"removed": name}));
        }
    }
    Ok(())
}
