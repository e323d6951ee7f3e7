//! Runs the vendor mocks until stdin closes (or Ctrl-C) and prints, as one JSON line, their URLs
//! and the test credentials a client needs: `cargo run -p openpush-vendor-mock --example
//! mock_vendors`. Pass `--apns-tls` to serve APNs over TLS.

use openpush_vendor_mock::{MockVendors, MockVendorsOptions};
use serde_json::json;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    #[allow(unused_mut)]
    let mut opts = MockVendorsOptions::default();
    #[cfg(feature = "tls")]
    if std::env::args().any(|a| a == "--apns-tls") {
        opts.apns_tls = Some(openpush_vendor_mock::tls::TlsIdentity::self_signed());
    }
    let m = MockVendors::start_with(opts).await?;
    let apns = m.apns_credentials();
    let info = json!({
        "apns_url": m.apns_url(),
        "apns_cert_pem": m.apns_cert_pem(),
        "apns_team_id": apns.team_id,
        "apns_key_id": apns.key_id,
        "apns_bundle_id": apns.bundle_id,
        "apns_p8": apns.p8_pem(),
        "fcm_url": m.fcm_url(),
        "fcm_service_account": m.fcm_service_account_json(),
    });
    println!("{info}");
    let mut sink = Vec::new();
    let mut stdin = tokio::io::stdin();
    tokio::select! {
        _ = stdin.read_to_end(&mut sink) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!(
        "apns accepted {} pushes, fcm accepted {} messages",
        m.apns().push_count(),
        m.fcm().message_count()
    );
    m.shutdown().await;
    Ok(())
}
