//! `openpush device`: a command-line device on the Easemob channel (docs/device-protocol.md).
//!
//! It logs in as a user, connects as one device, and prints every notification as one JSON
//! line on stdout (`{"id","task_id","push_msg_id","message","sent_at","expires_at"}`), acking
//! each once the line is written. Logs go to stderr, so stdout can be piped into anything that
//! reads JSON lines.
//!
//! Lifecycle:
//! - an application `ping` every `welcome.heartbeat_s` seconds; a connection from which
//!   nothing (not even a pong) has arrived for three of them is treated as dead;
//! - the server closing with 1000 (idle), 1001 (shutting down) or 4008 (too slow), or the socket
//!   failing, means reconnect: capped exponential backoff with jitter, re-logging in when the
//!   token has expired;
//! - 4009 (another connection of the same device replaced this one), 4010 (the user has more
//!   devices connected than it may), 4001 (token refused), a refused login or an upgrade refused with a 4xx (a bad device id, say) end the process with
//!   an error: reconnecting would only fight the other connection or repeat the refusal;
//! - Ctrl-C (or SIGTERM) exits 0 after a last `ping`/`pong`, so every ack sent has been written
//!   by the server before the process leaves (the server answers a ping only after the acks
//!   that came before it are stored).

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use openpush_client::{login, ClientError, Device, Event, Notification};
use rand::Rng;
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

use crate::signal::StopSignal;

/// Close codes (docs/device-protocol.md) that this command treats specially.
const CLOSE_BAD_TOKEN: u16 = 4001;
const CLOSE_REPLACED: u16 = 4009;
const CLOSE_TOO_MANY_DEVICES: u16 = 4010;

/// First reconnect delay; it doubles per failed attempt up to [`BACKOFF_MAX`].
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff: the next drop reconnects quickly.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// How long Ctrl-C waits for the last pong before leaving anyway.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// Delivery ids remembered to skip a re-delivery (an ack lost with a dropped connection).
const SEEN_IDS: usize = 4096;

/// `Debug` never shows the password.
#[derive(Clone, Args)]
pub struct DeviceArgs {
    /// The app's org name.
    #[arg(long)]
    pub org: String,
    /// The app's name.
    #[arg(long)]
    pub app: String,
    /// The user to log in as.
    #[arg(long)]
    pub user: String,
    /// The user's password.
    #[arg(long, env = "OPENPUSH_DEVICE_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// This device's id: 1–64 of [A-Za-z0-9_.:-], the same on every run.
    #[arg(long)]
    pub device_id: String,
    /// The OpenPush server.
    #[arg(long, default_value = "http://127.0.0.1:8099", value_name = "URL")]
    pub server: String,
}

impl std::fmt::Debug for DeviceArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceArgs")
            .field("org", &self.org)
            .field("app", &self.app)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("device_id", &self.device_id)
            .field("server", &self.server)
            .finish()
    }
}

/// Runs until Ctrl-C (`Ok`) or a reason not to reconnect (`Err`).
pub async fn run(args: DeviceArgs) -> Result<()> {
    // Listen for signals first: from here on Ctrl-C means a clean exit, never the default kill.
    let mut stop = StopSignal::new().context("listening for Ctrl-C")?;
    let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_MAX);
    let mut seen = SeenIds::new(SEEN_IDS);
    let mut token: Option<String> = None;
    loop {
        // A token: the one we have, or a fresh login.
        let fresh = token.is_none();
        let tok = match token.clone() {
            Some(t) => t,
            None => {
                let attempt = tokio::select! {
                    r = login(&args.server, &args.org, &args.app, &args.user, &args.password) => r,
                    () = stop.recv() => return Ok(()),
                };
                match attempt {
                    Ok(t) => {
                        token = Some(t.clone());
                        t
                    }
                    Err(ClientError::Login { status, body }) if !retryable_status(status) => {
                        bail!("login refused for user {:?} ({status}): {body}", args.user)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "login failed; retrying");
                        if backoff_or_stop(&mut backoff, &mut stop).await {
                            return Ok(());
                        }
                        continue;
                    }
                }
            }
        };

        let connected = tokio::select! {
            r = Device::connect(&args.server, &args.org, &args.app, &tok, &args.device_id) => r,
            () = stop.recv() => return Ok(()),
        };
        let mut dev = match connected {
            Ok(d) => d,
            Err(ClientError::Ws(e)) => match refusal(&e) {
                Some((401, _)) if !fresh => {
                    // The token we kept has expired: log in again, at once.
                    tracing::info!("token refused; logging in again");
                    token = None;
                    continue;
                }
                Some((status, body)) if !retryable_status(status) => bail!(
                    "the server refused the connection of device {:?} ({status}): {body}; \
                     not reconnecting",
                    args.device_id
                ),
                _ => {
                    tracing::warn!(error = %e, "connecting failed; retrying");
                    if backoff_or_stop(&mut backoff, &mut stop).await {
                        return Ok(());
                    }
                    continue;
                }
            },
            Err(ClientError::Url(why)) => bail!("cannot connect to {:?}: {why}", args.server),
            Err(e) => {
                tracing::warn!(error = %e, "connecting failed; retrying");
                if backoff_or_stop(&mut backoff, &mut stop).await {
                    return Ok(());
                }
                continue;
            }
        };
        tracing::info!(
            device_id = %dev.welcome.device_id,
            heartbeat_s = dev.welcome.heartbeat_s,
            "connected"
        );
        let started = Instant::now();
        let end = session(&mut dev, &mut stop, &mut seen).await;
        if started.elapsed() >= STABLE_AFTER {
            backoff.reset();
        }
        match end {
            SessionEnd::Stopped => {
                flush_and_close(dev).await;
                tracing::info!("stopped");
                return Ok(());
            }
            SessionEnd::Fatal(e) => return Err(e),
            SessionEnd::Closed { code, reason } => match code {
                CLOSE_REPLACED => bail!(
                    "device {:?} was replaced by a newer connection of the same device \
                     (close 4009: {reason}); not reconnecting",
                    args.device_id
                ),
                CLOSE_TOO_MANY_DEVICES => bail!(
                    "user {:?} has more devices connected than the server allows, and this one \
                     was heard from least recently (close 4010: {reason}); not reconnecting",
                    args.user
                ),
                CLOSE_BAD_TOKEN => bail!(
                    "the server refused the token of user {:?} (close 4001: {reason}); \
                     not reconnecting",
                    args.user
                ),
                _ => tracing::warn!(code, %reason, "connection closed; reconnecting"),
            },
            SessionEnd::Lost(why) => tracing::warn!(%why, "connection lost; reconnecting"),
        }
        if backoff_or_stop(&mut backoff, &mut stop).await {
            return Ok(());
        }
    }
}

/// Statuses (of a login or an upgrade) worth retrying: the server is overloaded or failing,
/// not refusing us.
fn retryable_status(status: u16) -> bool {
    status == 429 || status >= 500
}

enum SessionEnd {
    /// Ctrl-C or SIGTERM.
    Stopped,
    /// The server closed the connection with this code (0: none given).
    Closed { code: u16, reason: String },
    /// The socket failed or went silent.
    Lost(String),
    /// Something that reconnecting will not fix (stdout is gone, say).
    Fatal(anyhow::Error),
}

/// One connection: notifications out to stdout and acked, pings on the heartbeat.
async fn session(dev: &mut Device, stop: &mut StopSignal, seen: &mut SeenIds) -> SessionEnd {
    let period = Duration::from_secs(dev.welcome.heartbeat_s.max(1));
    // The first ping one period after the welcome, not at once.
    let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            () = stop.recv() => return SessionEnd::Stopped,
            ev = dev.next() => {
                last_heard = Instant::now();
                match ev {
                    Ok(Event::Push(n)) => {
                        if seen.insert(&n.id) {
                            if let Err(e) = print_line(&n) {
                                // Not acked: the notification stays queued for the next run.
                                return SessionEnd::Fatal(e);
                            }
                        } else {
                            tracing::debug!(id = %n.id, "duplicate delivery skipped");
                        }
                        if let Err(e) = dev.ack(&[&n.id]).await {
                            return SessionEnd::Lost(format!("sending an ack: {e}"));
                        }
                    }
                    Ok(Event::Pong) => {}
                    Ok(Event::Closed { code, reason }) => return SessionEnd::Closed { code, reason },
                    Err(e) => return SessionEnd::Lost(e.to_string()),
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() >= period * 3 {
                    return SessionEnd::Lost(format!(
                        "nothing from the server for {} s", period.as_secs() * 3
                    ));
                }
                if let Err(e) = dev.ping().await {
                    return SessionEnd::Lost(format!("sending a ping: {e}"));
                }
            }
        }
    }
}

/// Writes one notification as a JSON line and flushes it, so a reader sees it at once.
fn print_line(n: &Notification) -> Result<()> {
    let line = json!({
        "id": n.id,
        "task_id": n.task_id,
        "push_msg_id": n.push_msg_id,
        "message": n.message,
        "sent_at": n.sent_at,
        "expires_at": n.expires_at,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// Ping and wait for the pong (acks sent before it are then stored), then close. Best effort:
/// a dead connection just ends.
async fn flush_and_close(mut dev: Device) {
    let flushed = tokio::time::timeout(FLUSH_TIMEOUT, async {
        dev.ping().await?;
        loop {
            match dev.next().await? {
                Event::Pong => return Ok(true),
                // Not printed: the process is leaving, and unacked it will come again next run.
                Event::Push(_) => continue,
                Event::Closed { .. } => return Ok(false),
            }
        }
    })
    .await;
    match flushed {
        Ok(Ok(true)) => {
            let _ = dev.close().await;
        }
        Ok(Ok(false)) => {}
        Ok(Err::<bool, ClientError>(e)) => tracing::debug!(error = %e, "flushing acks failed"),
        Err(_) => tracing::warn!("no pong within {FLUSH_TIMEOUT:?}; the last acks may replay"),
    }
}

/// Sleeps for the next backoff delay; `true` if Ctrl-C came first.
async fn backoff_or_stop(backoff: &mut Backoff, stop: &mut StopSignal) -> bool {
    let delay = backoff.next_delay(&mut rand::thread_rng());
    tracing::info!(
        delay_ms = delay.as_millis() as u64,
        "waiting before reconnecting"
    );
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = stop.recv() => true,
    }
}

/// Capped exponential backoff with "equal jitter": the n-th delay is uniformly drawn from
/// [d/2, d] where d = min(max, base · 2ⁿ), so a fleet of devices dropped together does not
/// come back in lockstep, yet none retries faster than half the schedule.
#[derive(Debug, Clone)]
struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(30)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(rng.gen::<f64>())
    }
}

/// The last `cap` delivery ids printed, to skip a copy that comes again after a reconnect (its
/// ack was lost with the connection). Older ids are forgotten, so memory stays bounded.
#[derive(Debug)]
struct SeenIds {
    cap: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl SeenIds {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            order: VecDeque::with_capacity(cap),
            set: HashSet::with_capacity(cap),
        }
    }

    /// `true` if `id` is new.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

/// The status and body of an upgrade the server answered with an HTTP error (401: a bad or
/// expired token; 400: a bad device id), if that is what happened.
fn refusal(e: &tungstenite::Error) -> Option<(u16, String)> {
    match e {
        tungstenite::Error::Http(res) if res.status().as_u16() >= 400 => Some((
            res.status().as_u16(),
            res.body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn debug_never_shows_the_password() {
        let args = DeviceArgs {
            org: "o".into(),
            app: "a".into(),
            user: "bob".into(),
            password: "pw-of-bob-1234".into(),
            device_id: "phone".into(),
            server: "http://127.0.0.1:8099".into(),
        };
        let shown = format!("{args:?}");
        assert!(!shown.contains("pw-of-bob"), "{shown}");
        assert!(
            shown.contains("bob") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
        for c in ceilings {
            let d = b.next_delay(&mut rng);
            let c = Duration::from_millis(c);
            assert!(d >= c / 2 && d <= c, "{d:?} outside [{:?}, {c:?}]", c / 2);
        }
        // Many attempts never overflow and stay capped.
        for _ in 0..100 {
            assert!(b.next_delay(&mut rng) <= Duration::from_secs(1));
        }
        b.reset();
        assert!(b.next_delay(&mut rng) <= Duration::from_millis(100));
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut rng = StdRng::seed_from_u64(1);
        let delays: HashSet<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(1)))
            .map(|mut b| b.next_delay(&mut rng))
            .collect();
        assert!(delays.len() > 10, "{delays:?}");
    }

    #[test]
    fn seen_ids_skip_repeats_and_forget_the_oldest() {
        let mut s = SeenIds::new(2);
        assert!(s.insert("a"));
        assert!(!s.insert("a"));
        assert!(s.insert("b"));
        assert!(s.insert("c")); // forgets "a"
        assert!(s.insert("a"));
        assert!(!s.insert("c"));
    }

    #[test]
    fn an_upgrade_answered_with_an_http_error_is_a_refusal() {
        let res = tungstenite::http::Response::builder()
            .status(400)
            .body(Some(br#"{"error":"illegal_argument"}"#.to_vec()))
            .unwrap();
        let refused = refusal(&tungstenite::Error::Http(Box::new(res)));
        assert_eq!(
            refused,
            Some((400, r#"{"error":"illegal_argument"}"#.to_owned()))
        );
        assert_eq!(refusal(&tungstenite::Error::ConnectionClosed), None);
    }

    #[test]
    fn only_overload_and_server_errors_retry_a_login() {
        assert!(retryable_status(503));
        assert!(retryable_status(429));
        assert!(!retryable_status(400));
        assert!(!retryable_status(401));
        assert!(!retryable_status(404));
    }
}
