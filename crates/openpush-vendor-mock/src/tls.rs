//! A self-signed TLS identity for the APNs mock (feature `tls`), for clients that only speak
//! HTTP/2 over TLS. ALPN offers `h2` only, as APNs does.

use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The mock's certificate (trust it as a CA in the client) and the server configuration.
#[derive(Clone)]
pub struct TlsIdentity {
    /// PEM of the self-signed certificate for `localhost` and `127.0.0.1`.
    pub cert_pem: String,
    /// The same certificate in DER.
    pub cert_der: Vec<u8>,
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// A fresh self-signed P-256 certificate; ALPN `h2` only.
    pub fn self_signed() -> Self {
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("self-signed certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .expect("a matching certificate and key");
        config.alpn_protocols = vec![b"h2".to_vec()];
        Self {
            cert_pem: ck.cert.pem(),
            cert_der: ck.cert.der().to_vec(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }
}
