//! The per-source limiter: what failed and unauthenticated requests may cost the server.
//!
//! The per-app rate limits ([`crate::ratelimit`]) are a tenant's budget, spent only by requests
//! that authenticated (a valid app or user token of the app, or a `/token` grant with correct
//! credentials), so nobody without the app's credentials can exhaust it. What everyone else
//! sends is bounded here instead: a token bucket per source address (an IPv4 address, or the
//! /64 an IPv6 address belongs to), refilled at `rate_limits.failed_per_source` per second and
//! holding at most `rate_limits.failed_burst_per_source`.
//!
//! Only requests that did **not** authenticate take from a source's bucket, and only those are
//! refused when it is empty. An app server, or devices with valid tokens, behind the same
//! address as an attacker (a NAT, a shared proxy, the tests' 127.0.0.1) keep working while the
//! attacker is answered 429. So:
//!
//! * a request that carries no token that verifies (signature and expiry), except a `/token`
//!   grant, is refused up front when its source's bucket is empty, before any work is done;
//! * a `password` grant checks the bucket before it hashes (the costly part), so a flood of
//!   wrong passwords is refused without Argon2 work; correct logins from the flooding address
//!   are refused too until the bucket refills (they cannot be told apart before hashing);
//! * a `client_credentials` grant is always checked (one SHA-256), so the app server's own
//!   token requests go through whatever else its address sends;
//! * afterwards, every request that did not authenticate takes one token; if there was none,
//!   its answer becomes the 429.
//!
//! Behind a reverse proxy every request has the proxy's address; trusting a forwarded-for
//! header is left for later (docs/security.md).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::error::ApiError;
use crate::extract::bearer;
use crate::state::AppState;

/// Sources tracked at most. A source whose bucket is full again carries no information and is
/// forgotten when room is needed; when every tracked source is still limited, a new source's
/// failed requests are refused until room is made (at most one sweep a second).
const MAX_SOURCES: usize = 100_000;

/// The key of a source: an IPv4 address (also when written as IPv4-mapped IPv6), or the /64
/// of an IPv6 address (one host usually holds a whole /64).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
struct Sources {
    buckets: HashMap<IpAddr, Bucket>,
    last_sweep: Option<Instant>,
}

/// Token buckets of failed requests, per source.
#[derive(Debug)]
pub struct SourceLimiter {
    /// Tokens per second; 0 turns the limiter off.
    rate: f64,
    burst: f64,
    sources: Mutex<Sources>,
}

impl SourceLimiter {
    /// `rate` per second, at most `burst` at once; off when `enabled` is false or `rate` is 0.
    pub fn new(enabled: bool, rate: u32, burst: u32) -> Self {
        let rate = if enabled { f64::from(rate) } else { 0.0 };
        Self {
            rate,
            burst: f64::from(burst.max(1)),
            sources: Mutex::new(Sources {
                buckets: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Whether `ip` has a token left (nothing is taken); `Err` says how long until it has.
    pub fn peek(&self, ip: IpAddr) -> Result<(), Duration> {
        self.take_at(ip, Instant::now(), 0.0)
    }

    /// Takes one token for a failed request from `ip`; `Err` (how long until the next token)
    /// when there was none.
    pub fn spend(&self, ip: IpAddr) -> Result<(), Duration> {
        self.take_at(ip, Instant::now(), 1.0)
    }

    fn take_at(&self, ip: IpAddr, now: Instant, cost: f64) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let key = source_key(ip);
        let mut s = self.sources.lock();
        if !s.buckets.contains_key(&key) {
            if cost == 0.0 {
                // Unknown sources have a full bucket; nothing to remember yet.
                return Ok(());
            }
            if s.buckets.len() >= MAX_SOURCES && !self.sweep(&mut s, now) {
                return Err(Duration::from_secs(1));
            }
            s.buckets.insert(
                key,
                Bucket {
                    tokens: self.burst,
                    last: now,
                },
            );
        }
        let b = s.buckets.get_mut(&key).expect("inserted above");
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }

    /// Forgets sources whose bucket is full again; at most once a second. `true` if there is
    /// room now.
    fn sweep(&self, s: &mut Sources, now: Instant) -> bool {
        if s.last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return false;
        }
        s.last_sweep = Some(now);
        let (rate, burst) = (self.rate, self.burst);
        s.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens + elapsed * rate < burst
        });
        s.buckets.len() < MAX_SOURCES
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.sources.lock().buckets.len()
    }
}

/// One request as the per-source limiter sees it: where it came from, and whether it has
/// authenticated. The middleware puts it in the request's extensions; whatever authenticates
/// the request marks it.
#[derive(Debug, Clone)]
pub struct SourceAttempt(Arc<AttemptInner>);

#[derive(Debug)]
struct AttemptInner {
    source: Option<IpAddr>,
    authenticated: AtomicBool,
    limiter: Option<Arc<SourceLimiter>>,
}

impl SourceAttempt {
    fn new(source: Option<IpAddr>, limiter: Option<Arc<SourceLimiter>>) -> Self {
        Self(Arc::new(AttemptInner {
            source,
            authenticated: AtomicBool::new(false),
            limiter,
        }))
    }

    /// The request proved who it speaks for: it takes nothing from its source's bucket.
    pub fn authenticated(&self) {
        self.0.authenticated.store(true, Ordering::Release);
    }

    pub fn is_authenticated(&self) -> bool {
        self.0.authenticated.load(Ordering::Acquire)
    }

    /// 429 when the source has no failed requests left (for work that is costly before it
    /// can tell whether the request authenticates, such as a password check).
    pub fn check_budget(&self) -> Result<(), ApiError> {
        match (&self.0.limiter, self.0.source) {
            (Some(l), Some(ip)) => l.peek(ip).map_err(ApiError::source_limited),
            _ => Ok(()),
        }
    }
}

/// The request's [`SourceAttempt`] (a detached one when the middleware did not run).
#[derive(Debug, Clone)]
pub struct Attempt(pub SourceAttempt);

impl<S: Send + Sync> FromRequestParts<S> for Attempt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Attempt(attempt_of(parts)))
    }
}

/// The [`SourceAttempt`] of a request's parts (a detached one when the middleware did not run).
pub fn attempt_of(parts: &Parts) -> SourceAttempt {
    parts
        .extensions
        .get::<SourceAttempt>()
        .cloned()
        .unwrap_or_else(|| SourceAttempt::new(None, None))
}

/// `POST /{org}/{app}/token`: checked by the grant itself.
fn is_token_grant(req: &Request) -> bool {
    let path = req.uri().path().trim_matches('/');
    req.method() == Method::POST && path.split('/').count() == 3 && path.ends_with("/token")
}

/// Whether the request carries a token this server signed and that has not expired (for which
/// app and whom is checked later, by the handler).
fn carries_valid_token(state: &AppState, req: &Request) -> bool {
    let from_query = || {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|p| p.strip_prefix("access_token="))
                .filter(|t| !t.is_empty())
        })
    };
    let Some(token) = bearer(req.headers()).or_else(from_query) else {
        return false;
    };
    state.signer.verify(token, state.now_ms()).is_ok()
}

/// The middleware (see the module documentation).
pub async fn limit_failures(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let source = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let limiter = state.sources.clone();
    let attempt = SourceAttempt::new(source, Some(limiter.clone()));
    req.extensions_mut().insert(attempt.clone());
    let Some(ip) = source.filter(|_| limiter.enabled()) else {
        return next.run(req).await;
    };
    if !is_token_grant(&req) && !carries_valid_token(&state, &req) {
        if let Err(wait) = limiter.peek(ip) {
            return ApiError::source_limited(wait).into_response();
        }
    }
    let res = next.run(req).await;
    if attempt.is_authenticated() {
        return res;
    }
    match limiter.spend(ip) {
        Ok(()) => res,
        Err(wait) => ApiError::source_limited(wait).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_then_the_rate_and_each_source_on_its_own() {
        let l = SourceLimiter::new(true, 2, 3);
        let t0 = Instant::now();
        let a = ip("203.0.113.7");
        // Peeking takes nothing.
        for _ in 0..10 {
            assert!(l.take_at(a, t0, 0.0).is_ok());
        }
        let got: Vec<bool> = (0..5).map(|_| l.take_at(a, t0, 1.0).is_ok()).collect();
        assert_eq!(got, [true, true, true, false, false]);
        let wait = l.take_at(a, t0, 0.0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        // Another source is not affected.
        assert!(l.take_at(ip("203.0.113.8"), t0, 1.0).is_ok());
        // Half a second refills one at 2/s.
        let t1 = t0 + Duration::from_millis(510);
        assert!(l.take_at(a, t1, 1.0).is_ok());
        assert!(l.take_at(a, t1, 1.0).is_err());
    }

    #[test]
    fn ipv6_sources_are_their_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            source_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(source_key(ip("::ffff:198.51.100.1")), ip("198.51.100.1"));
        let l = SourceLimiter::new(true, 1, 1);
        let t = Instant::now();
        assert!(l.take_at(ip("2001:db8:1:2::1"), t, 1.0).is_ok());
        assert!(l.take_at(ip("2001:db8:1:2::2"), t, 1.0).is_err());
        assert!(l.take_at(ip("2001:db8:1:3::1"), t, 1.0).is_ok());
    }

    #[test]
    fn off_when_disabled_or_zero() {
        for l in [
            SourceLimiter::new(false, 5, 5),
            SourceLimiter::new(true, 0, 5),
        ] {
            assert!((0..100).all(|_| l.spend(ip("192.0.2.1")).is_ok()));
            assert_eq!(l.tracked(), 0);
        }
    }

    #[test]
    fn refilled_sources_are_forgotten_when_room_is_needed() {
        let l = SourceLimiter::new(true, 1000, 2);
        let t0 = Instant::now();
        for i in 0..MAX_SOURCES as u32 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.take_at(a, t0, 1.0).is_ok());
        }
        assert_eq!(l.tracked(), MAX_SOURCES);
        // Full, and nobody has refilled yet: a new source is refused.
        assert!(l.take_at(ip("192.0.2.1"), t0, 1.0).is_err());
        // Later every bucket is full again: they are forgotten and the new source fits.
        let t1 = t0 + Duration::from_secs(2);
        assert!(l.take_at(ip("192.0.2.1"), t1, 1.0).is_ok());
        assert_eq!(l.tracked(), 1);
    }
}
