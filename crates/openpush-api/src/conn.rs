//! The HTTP connection layer under the router: accepting, per-connection timeouts, connection
//! caps and graceful shutdown. (`axum::serve` has no header timeout and no caps.)
//!
//! * **Caps.** At most `max_connections` connections are open at once, and at most
//!   `max_connections_per_source` from one source (an IPv4 address, or an IPv6 /64). A device's
//!   WebSocket counts for as long as it is open. A connection over a cap is accepted and closed
//!   at once, so the listen queue never fills up behind it.
//! * **Header timeout.** A connection must deliver its first request's whole header within
//!   `header_read_timeout` of being accepted, and every later request's header within
//!   `header_read_timeout` of that request's first byte; otherwise it is closed. This stops
//!   clients that open connections and send half a header, or nothing, or a byte now and then.
//! * **Keep-alive timeout.** A connection with no request in flight for `keep_alive_timeout`
//!   is closed gracefully (HTTP/2: GOAWAY); if it still has not closed after as long again, it
//!   is dropped.
//!
//! A request in flight (its handler running) is never timed out here.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::source_limit::source_key;

/// The timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub header_read: Duration,
    pub keep_alive: Duration,
}

/// Open connections, in total and per source. A [`ConnPermit`] holds one place.
#[derive(Debug)]
pub(crate) struct ConnTable {
    max_total: usize,
    /// 0 = no cap per source.
    max_per_source: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

impl ConnTable {
    pub(crate) fn new(max_total: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_source,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for a connection from `peer`, or `None` when a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<ConnPermit> {
        let key = source_key(peer);
        let mut open = self.open.lock();
        let (total, per_source) = &mut *open;
        if *total >= self.max_total {
            return None;
        }
        let mine = per_source.entry(key).or_insert(0);
        if self.max_per_source != 0 && *mine >= self.max_per_source {
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(ConnPermit {
            table: self.clone(),
            key,
        })
    }

    pub(crate) fn max_total(&self) -> usize {
        self.max_total
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.lock().0
    }
}

/// One open connection's place in the [`ConnTable`], given back when dropped.
#[derive(Debug)]
pub(crate) struct ConnPermit {
    table: Arc<ConnTable>,
    key: IpAddr,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut open = self.table.open.lock();
        let (total, per_source) = &mut *open;
        *total -= 1;
        if let Some(n) = per_source.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                per_source.remove(&self.key);
            }
        }
    }
}

/// What the watcher of a connection knows of it. Times are milliseconds since `epoch`, plus
/// one (0 = never).
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    last_io: AtomicU64,
    /// When the first byte of a request header arrived while no request was in flight.
    head_started: AtomicU64,
    /// When the last request in flight finished (or the connection was accepted).
    idle_since: AtomicU64,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    /// HTTP/2 (its frames come at any time, so bytes do not start a header).
    h2: AtomicBool,
    first_read: AtomicBool,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_io: AtomicU64::new(1),
            head_started: AtomicU64::new(0),
            idle_since: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            first_read: AtomicBool::new(true),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn at(&self, stamp: u64) -> Instant {
        self.epoch + Duration::from_millis(stamp.saturating_sub(1))
    }

    fn on_read(&self, bytes: &[u8]) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.first_read.swap(false, Ordering::Relaxed) && bytes.starts_with(b"PRI") {
            self.h2.store(true, Ordering::Relaxed);
        }
        if !self.h2.load(Ordering::Relaxed)
            && self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started
                .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn on_write(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Release);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// What to do now, and else when to look again.
    fn verdict(&self, t: Timeouts, accepted: Instant, closing_since: Option<Instant>) -> Verdict {
        let now = Instant::now();
        if let Some(since) = closing_since {
            // Asked to close when idle: it gets as long again, then it is dropped.
            let deadline = since + t.keep_alive;
            return if now >= deadline {
                Verdict::Drop
            } else {
                Verdict::Wait(Some(deadline))
            };
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Wait(None);
        }
        if self.requests.load(Ordering::Relaxed) == 0 {
            let deadline = accepted + t.header_read;
            return if now >= deadline {
                Verdict::Drop
            } else {
                Verdict::Wait(Some(deadline))
            };
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != 0 {
            let deadline = self.at(head) + t.header_read;
            return if now >= deadline {
                Verdict::Drop
            } else {
                Verdict::Wait(Some(deadline))
            };
        }
        let deadline = self.at(self.idle_since.load(Ordering::Acquire)) + t.keep_alive;
        if now >= deadline {
            Verdict::Close
        } else {
            Verdict::Wait(Some(deadline))
        }
    }
}

enum Verdict {
    /// Nothing to do until this time (or until something changes).
    Wait(Option<Instant>),
    /// Idle too long: close gracefully.
    Close,
    /// A header too slow, or a close that did not happen: drop the connection.
    Drop,
}

/// A request in flight on a connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
        a.changed.notify_one();
    }
}

/// The socket, noting its reads and writes, and holding the connection's place in the table
/// for as long as it is open (also after an upgrade to WebSocket).
struct ConnIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    _permit: ConnPermit,
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_read(&buf.filled()[before..]);
        }
        res
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.on_write();
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.on_write();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves one accepted connection until it ends, times out, or the server stops: `stop` asks
/// it to finish what is in flight and close, `force` drops it.
pub(crate) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    permit: ConnPermit,
    router: Router,
    timeouts: Timeouts,
    stop: CancellationToken,
    force: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let accepted = Instant::now();
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ConnIo {
        stream,
        activity: activity.clone(),
        _permit: permit,
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let in_flight = activity.begin_request();
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let res = router.oneshot(req.map(axum::body::Body::new)).await;
                drop(in_flight);
                res
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // The timeouts are this module's, for HTTP/1 and HTTP/2 alike.
    builder.http1().header_read_timeout(None);
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let mut closing_since: Option<Instant> = None;
    let mut shutdown_asked = false;
    loop {
        let changed = activity.changed.notified();
        let wake = match activity.verdict(timeouts, accepted, closing_since) {
            Verdict::Drop => {
                tracing::debug!(%peer, "connection dropped: header or close too slow");
                return;
            }
            Verdict::Close => {
                if !shutdown_asked {
                    shutdown_asked = true;
                    conn.as_mut().graceful_shutdown();
                }
                closing_since = Some(Instant::now());
                continue;
            }
            Verdict::Wait(at) => at,
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // Ended, failed, or upgraded (the WebSocket now owns the socket and its place).
            _ = conn.as_mut() => return,
            // The server stops: what is in flight finishes (the server's grace period bounds
            // it), then the connection closes.
            () = stop.cancelled(), if !shutdown_asked => {
                shutdown_asked = true;
                conn.as_mut().graceful_shutdown();
            }
            () = force.cancelled() => return,
            () = changed => {}
            () = sleep => {}
        }
    }
}

/// The largest total of connections the open-file limit `nofile` allows: the limit less a
/// reserve for the store, the vendor clients and the process itself (an eighth of the limit,
/// at least 64 and at most 1024).
pub(crate) fn connections_allowed(nofile: u64) -> usize {
    let reserve = (nofile / 8).clamp(64, 1024);
    usize::try_from(nofile.saturating_sub(reserve)).unwrap_or(usize::MAX)
}

/// The total cap to use: `configured` (0 = as many as the open-file limit allows), lowered
/// with a warning to what the limit allows.
pub(crate) fn effective_max_connections(configured: usize, nofile: Option<u64>) -> usize {
    let Some(nofile) = nofile else {
        return if configured == 0 {
            usize::MAX
        } else {
            configured
        };
    };
    let allowed = connections_allowed(nofile);
    if configured == 0 {
        allowed
    } else if configured > allowed {
        tracing::warn!(
            configured,
            allowed,
            open_file_limit = nofile,
            "http.max_connections is more than the open-file limit allows; using {allowed} \
             (raise the limit, e.g. `ulimit -n`, to allow more)"
        );
        allowed
    } else {
        configured
    }
}

/// The per-source cap to use: `configured` (0 = none), lowered with a warning to half the
/// total, so that one source can never take every place.
pub(crate) fn effective_max_per_source(configured: usize, max_total: usize) -> usize {
    let half = (max_total / 2).max(1);
    if configured > half {
        tracing::warn!(
            configured,
            max_connections = max_total,
            "http.max_connections_per_source is more than half of the connections allowed; \
             using {half}"
        );
        half
    } else {
        configured
    }
}

/// The process's open-file limit (the soft one), if it can be read.
pub(crate) fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft)
            .filter(|n| *n != rlimit::INFINITY)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Errors of `accept` that concern one connection only (the next accept may well succeed).
pub(crate) fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_per_source_and_in_total() {
        let t = ConnTable::new(5, 2);
        let a1 = t.admit(ip("192.0.2.1")).unwrap();
        let _a2 = t.admit(ip("192.0.2.1")).unwrap();
        assert!(t.admit(ip("192.0.2.1")).is_none(), "third from one source");
        // An IPv6 /64 is one source.
        let _b1 = t.admit(ip("2001:db8::1")).unwrap();
        let _b2 = t.admit(ip("2001:db8::2")).unwrap();
        assert!(t.admit(ip("2001:db8::3")).is_none());
        let _c = t.admit(ip("192.0.2.9")).unwrap();
        assert_eq!(t.open(), 5);
        assert!(t.admit(ip("192.0.2.10")).is_none(), "over the total");
        drop(a1);
        assert_eq!(t.open(), 4);
        assert!(t.admit(ip("192.0.2.1")).is_some(), "a place was given back");
        let unlimited = ConnTable::new(100, 0);
        let held: Vec<_> = (0..50).map(|_| unlimited.admit(ip("192.0.2.1"))).collect();
        assert!(held.iter().all(Option::is_some));
    }

    #[test]
    fn the_total_is_clamped_to_the_open_file_limit() {
        assert_eq!(connections_allowed(1024), 1024 - 128);
        assert_eq!(connections_allowed(256), 256 - 64);
        assert_eq!(connections_allowed(1 << 20), (1 << 20) - 1024);
        assert_eq!(connections_allowed(10), 0);
        // 0 = what the limit allows; above it: clamped; below: as configured.
        assert_eq!(effective_max_connections(0, Some(1024)), 896);
        assert_eq!(effective_max_connections(1100, Some(1024)), 896);
        assert_eq!(effective_max_connections(500, Some(1024)), 500);
        assert_eq!(effective_max_connections(500, None), 500);
        assert_eq!(effective_max_connections(0, None), usize::MAX);
        assert!(open_file_limit().is_some_and(|n| n > 0));
    }

    #[test]
    fn one_source_never_takes_every_place() {
        assert_eq!(effective_max_per_source(1000, 896), 448);
        assert_eq!(effective_max_per_source(1000, 100_000), 1000);
        assert_eq!(
            effective_max_per_source(0, 896),
            0,
            "0 stays: no cap per source"
        );
        assert_eq!(effective_max_per_source(5, 1), 1);
    }
}
