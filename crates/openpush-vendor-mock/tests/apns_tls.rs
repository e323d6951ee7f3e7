//! The APNs mock over TLS (feature `tls`): ALPN `h2` only, self-signed certificate.
#![cfg(feature = "tls")]

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use openpush_core::{Clock, SystemClock};
use openpush_vendor_mock::tls::TlsIdentity;
use openpush_vendor_mock::{MockVendors, MockVendorsOptions};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn client_config(cert_der: &[u8], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert_der.to_vec())).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

async fn start() -> (MockVendors, Vec<u8>) {
    let id = TlsIdentity::self_signed();
    let der = id.cert_der.clone();
    let m = MockVendors::start_with(MockVendorsOptions {
        apns_tls: Some(id),
        ..Default::default()
    })
    .await
    .unwrap();
    (m, der)
}

#[tokio::test]
async fn h2_over_tls_with_the_mock_certificate() {
    let (m, der) = start().await;
    assert!(m.apns_url().starts_with("https://127.0.0.1:"));
    assert!(m.apns_cert_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let addr = m.apns_url().trim_start_matches("https://").to_owned();

    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(client_config(&der, &[b"h2"]))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);

    let creds = m.apns_credentials();
    let jwt = creds.provider_token(SystemClock.now_ms() / 1000);
    let mut statuses = Vec::new();
    m.apns().unregister(&"b".repeat(64));
    for token in [TOKEN.to_owned(), "b".repeat(64)] {
        let req = hyper::Request::post(format!("{}/3/device/{token}", m.apns_url()))
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &creds.bundle_id)
            .body(Full::new(Bytes::from_static(br#"{"aps":{"alert":"tls"}}"#)))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let reason = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned));
        statuses.push((status, reason));
    }
    assert_eq!(
        statuses,
        vec![(200, None), (410, Some("Unregistered".to_owned()))]
    );
    assert_eq!(m.apns().push_count(), 1);
    m.shutdown().await;
}

#[tokio::test]
async fn http1_only_alpn_is_refused() {
    let (m, der) = start().await;
    let addr = m.apns_url().trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let res = tokio_rustls::TlsConnector::from(client_config(&der, &[b"http/1.1"]))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await;
    assert!(res.is_err(), "APNs offers h2 only");
    m.shutdown().await;
}
