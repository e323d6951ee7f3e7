//! The connection loop shared by the mocks: accept on a bound listener, serve each connection
//! with hyper (HTTP/2 only, or HTTP/1.1 + h2c), and drain on shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Protocol {
    /// HTTP/2 only (prior knowledge); an HTTP/1.1 request is a connection error, as at APNs.
    Http2Only { max_concurrent_streams: u32 },
    /// HTTP/1.1 and h2c prior knowledge on the same port.
    Auto,
}

/// A running server; dropping it does not stop it, [`ServerHandle::shutdown`] does.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    pub(crate) addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    accepted: Arc<AtomicU64>,
}

impl ServerHandle {
    /// Connections accepted since start.
    pub(crate) fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then returns.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// TLS in front of a protocol (feature `tls`); `None` = cleartext.
#[cfg(feature = "tls")]
pub(crate) type Tls = Option<tokio_rustls::TlsAcceptor>;
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = Option<std::convert::Infallible>;

pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    protocol: Protocol,
    tls: Tls,
) -> ServerHandle {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (stop, mut stop_rx) = watch::channel(false);
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop_rx.changed() => break,
                // Reap finished connections so the set does not grow without bound.
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => {
                    let Ok((stream, _peer)) = accepted else { continue };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    let router = router.clone();
                    let stop = stop_rx.clone();
                    #[allow(clippy::clone_on_copy)] // `Copy` only without the `tls` feature
                    let tls = tls.clone();
                    conns.spawn(async move {
                        match tls {
                            #[cfg(feature = "tls")]
                            Some(acceptor) => {
                                // A failed handshake (e.g. no `h2` in ALPN) just drops the connection.
                                let Ok(Ok(stream)) = tokio::time::timeout(
                                    Duration::from_secs(10),
                                    acceptor.accept(stream),
                                )
                                .await
                                else {
                                    return;
                                };
                                serve_conn(stream, router, protocol, stop).await;
                            }
                            #[cfg(not(feature = "tls"))]
                            Some(never) => match never {},
                            None => serve_conn(stream, router, protocol, stop).await,
                        }
                    });
                }
            }
        }
        drop(listener);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            conns.abort_all();
        }
    });
    ServerHandle {
        addr,
        stop,
        task,
        accepted,
    }
}

async fn serve_conn<I>(io: I, router: Router, protocol: Protocol, mut stop: watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let svc = TowerToHyperService::new(router);
    match protocol {
        Protocol::Http2Only {
            max_concurrent_streams,
        } => {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .max_concurrent_streams(max_concurrent_streams)
                .serve_connection(io, svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }
        Protocol::Auto => {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(io, svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }
    }
}
