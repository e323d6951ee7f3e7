//! `openpush mock-vendors`: runs the eight vendor stand-ins for local demos and load tests.
//!
//! Each mock listens on 127.0.0.1 (`--base-port` N gives APNs N, FCM N+1, Huawei N+2, Honor
//! N+3, Xiaomi N+4, OPPO N+5, vivo N+6, Meizu N+7). One JSON line per vendor on stdout names
//! its base URL and the test credentials it accepts; with `--register ORG APP` they are also
//! stored as that app's notifiers `mock-apns`, `mock-fcm`, … (pointing at the mocks), so a
//! binding to `mock-huawei` pushes through the Huawei stand-in. Runs until Ctrl-C or SIGTERM
//! (so it can run in the background or under a service manager), then prints what each mock
//! accepted and stops within a few seconds; a second signal stops it at once.

use std::time::Duration;

use anyhow::{Context, Result};
use openpush_core::{Clock, SystemClock};
use openpush_store::sqlite::SqliteStore;
use openpush_store::Store;
use openpush_vendor_mock::{MockVendors, MockVendorsOptions};
use serde_json::json;

use crate::signal::StopSignal;

#[derive(Debug, Clone, clap::Args)]
pub struct MockVendorsArgs {
    /// First of eight consecutive ports; default: ports chosen by the OS.
    #[arg(long)]
    base_port: Option<u16>,
    /// Added to every answer, in milliseconds (a slow network or vendor).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Serve APNs over TLS (self-signed, ALPN h2) instead of h2c.
    #[arg(long)]
    apns_tls: bool,
    /// Store the mocks as notifiers `mock-<vendor>` of this app (ORG APP), in the data directory
    /// of the configuration.
    #[arg(long, num_args = 2, value_names = ["ORG", "APP"])]
    register: Option<Vec<String>>,
}

pub async fn run(args: &MockVendorsArgs, config: &openpush_api::config::Config) -> Result<()> {
    let mut stop = StopSignal::new().context("listening for Ctrl-C and SIGTERM")?;
    let mut opts = MockVendorsOptions {
        base_port: args.base_port,
        // A demo can run for days: keep only the newest pushes for inspection.
        max_recorded: Some(1000),
        ..MockVendorsOptions::default()
    };
    if args.apns_tls {
        opts.apns_tls = Some(openpush_vendor_mock::tls::TlsIdentity::self_signed());
    }
    let m = MockVendors::start_with(opts)
        .await
        .context("starting the vendor mocks")?;
    if args.latency_ms > 0 {
        m.set_latency(Duration::from_millis(args.latency_ms));
    }
    let notifiers = m.notifiers();
    for n in &notifiers {
        println!(
            "{}",
            json!({"vendor": n.vendor, "base_url": n.base_url, "credentials": n.credentials})
        );
    }
    if let Some(pem) = m.apns_cert_pem() {
        println!("{}", json!({"vendor": "apns", "tls_cert_pem": pem}));
    }
    if let Some([org, app]) = args.register.as_deref() {
        let store = SqliteStore::open(&config.data_dir)
            .await
            .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
        let result = register(&store, org, app, &notifiers, &config.vendors).await;
        store.close().await;
        result?;
    }
    stop.recv().await;
    let accepted: serde_json::Map<String, serde_json::Value> = m
        .push_counts()
        .into_iter()
        .map(|(v, n)| (v.to_owned(), json!(n)))
        .collect();
    eprintln!("{}", json!({ "accepted": accepted }));
    // Open connections get a few seconds to finish; a second signal does not wait for them.
    tokio::select! {
        () = m.shutdown() => {}
        () = stop.recv() => eprintln!("stopped without waiting for open connections"),
    }
    Ok(())
}

async fn register(
    store: &dyn Store,
    org: &str,
    app: &str,
    notifiers: &[openpush_vendor_mock::MockNotifier],
    config: &openpush_api::config::VendorsConfig,
) -> Result<()> {
    let found = store
        .app_by_name(org, app)
        .await?
        .with_context(|| format!("app {org}#{app} does not exist"))?;
    for n in notifiers {
        let req = openpush_api::notifiers::NotifierRequest {
            name: Some(format!("mock-{}", n.vendor)),
            vendor: Some(n.vendor.to_owned()),
            environment: Some("production".into()),
            credentials: Some(n.credentials.clone()),
            base_url: Some(n.base_url.clone()),
        };
        // The stand-ins listen on loopback, and registering them is what was asked for: loopback
        // is accepted here whatever `vendors.allow_loopback_base_url` says.
        let policy = openpush_core::notifier::BaseUrlPolicy {
            allow_loopback: true,
            ..config.base_url_policy()
        };
        let notifier =
            openpush_api::notifiers::build_notifier(found.id, req, SystemClock.now_ms(), policy)
                .map_err(|e| anyhow::anyhow!(e.description))?;
        store.put_notifier(&notifier).await?;
        eprintln!("notifier mock-{} stored for {org}#{app}", n.vendor);
    }
    Ok(())
}
