//! Scenarios that push through the vendor stand-ins: `broadcast`, `vendors`, `rate` and
//! `schedule`. The harness runs the eight mocks in its own process (`MockVendors`), seeds an
//! app with many users, each bound to one vendor's mock (round robin over `--vendors`), starts
//! the server, and drives push tasks through the REST API.
//!
//! Seeding is direct SQL into the fresh SQLite file (one statement for a million users, one for
//! their bindings): creating them through the REST API would benchmark the seeding.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use openpush_api::auth::{Claims, Subject, TokenSigner};
use openpush_core::{Clock, SystemClock};
use openpush_store::sqlite::SqliteStore;
use openpush_store::{Notifier, Store};
use openpush_vendor_mock::{MockVendors, MockVendorsOptions};
use serde_json::{json, Value};

use super::coordinator::{BenchArgs, Scenario, ServerProc, APP, ORG};
use super::proc_stats::Sampler;

const ALL_VENDORS: [&str; 8] = [
    "apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo", "meizu",
];

/// The seeded app: its token, the online devices' (user, token) pairs, and the data directory.
pub(crate) struct Fleet {
    pub dir: tempfile::TempDir,
    pub app_token: String,
    pub devices: Vec<(String, String)>,
}

/// A device token the vendor's stand-in accepts, derived from the user's row id.
fn token_sql(vendor: &str) -> String {
    match vendor {
        "apns" => "printf('%064x', id)".into(),
        v => format!("printf('{v}Token%010dabcdefghijklmnopqrstuvwxyz0123456789', id)"),
    }
}

pub(crate) fn vendors_of(args: &BenchArgs) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for v in args
        .vendors
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        let known = ALL_VENDORS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(v))
            .with_context(|| format!("unknown vendor {v:?}; known: {}", ALL_VENDORS.join(",")))?;
        out.push(*known);
    }
    if out.is_empty() {
        bail!("--vendors names no vendor");
    }
    Ok(out)
}

/// Seeds `users` users, each bound to one of `vendors` (round robin), the mocks as notifiers,
/// and signs user tokens for the first `devices` of them.
pub(crate) async fn seed(args: &BenchArgs, mocks: &MockVendors, vendors: &[&str]) -> Result<Fleet> {
    let dir = tempfile::tempdir().context("temporary data directory")?;
    let data = dir.path().join("data");
    let store = SqliteStore::open(&data).await?;
    let created = openpush_api::admin::create_app(&store, &SystemClock, ORG, APP).await?;
    let app_id = created.app.id;
    // Tasks back to back: the creation window must not stop the harness.
    store.set_task_limits(app_id, Some(3), Some(10_000)).await?;
    let key: [u8; 32] = store
        .meta_get_or_insert("token_signing_key", &TokenSigner::random_key())
        .await?
        .try_into()
        .map_err(|_| anyhow::anyhow!("bad signing key"))?;
    let now = SystemClock.now_ms();
    for n in mocks.notifiers() {
        if vendors.contains(&n.vendor) {
            store
                .put_notifier(&Notifier {
                    app_id,
                    name: format!("mock-{}", n.vendor),
                    vendor: n.vendor.to_owned(),
                    environment: "production".into(),
                    credentials: n.credentials,
                    base_url: Some(n.base_url),
                    created: now,
                })
                .await?;
        }
    }
    store.close().await;

    let t0 = Instant::now();
    let db = data.join("openpush.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) \
         INSERT INTO users (app_id, username, uuid, password_hash, nickname, created, modified) \
         SELECT ?, printf('u%07d', i), printf('00000000-0000-4000-8000-%012d', i), 'seeded', '', ?, ? FROM n",
    )
    .bind(args.users as i64)
    .bind(app_id)
    .bind(now)
    .bind(now)
    .execute(&mut conn)
    .await
    .context("seeding users")?;
    let k = vendors.len();
    let notifier_case: String = vendors
        .iter()
        .enumerate()
        .map(|(i, v)| format!("WHEN {i} THEN 'mock-{v}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let token_case: String = vendors
        .iter()
        .enumerate()
        .map(|(i, v)| format!("WHEN {i} THEN {}", token_sql(v)))
        .collect::<Vec<_>>()
        .join(" ");
    sqlx::query(&format!(
        "INSERT INTO bindings (app_id, username, device_id, notifier_name, device_token, updated) \
         SELECT app_id, username, 'phone', CASE id % {k} {notifier_case} END, \
         CASE id % {k} {token_case} END, ? FROM users WHERE app_id = ?"
    ))
    .bind(now)
    .bind(app_id)
    .execute(&mut conn)
    .await
    .context("seeding bindings")?;
    sqlx::Connection::close(conn).await?;
    eprintln!(
        "seeded {} users with bindings over {} in {:.1} s",
        args.users,
        vendors.join(","),
        t0.elapsed().as_secs_f64()
    );

    let signer = TokenSigner::new(key);
    let sign = |subject| {
        signer.sign(&Claims {
            app_id,
            issued_ms: now,
            expires_ms: 0,
            subject,
        })
    };
    let devices = (0..args.devices.min(args.users as usize))
        .map(|i| {
            let uuid = uuid::Uuid::parse_str(&format!("00000000-0000-4000-8000-{i:012}"))
                .expect("a valid uuid");
            let username = format!("u{i:07}");
            let token = sign(Subject::User {
                uuid: *uuid.as_bytes(),
                username: username.clone(),
            });
            (username, token)
        })
        .collect();
    Ok(Fleet {
        dir,
        app_token: sign(Subject::App),
        devices,
    })
}

/// A notification of about `size` bytes at the vendor (the APNs payload, say): `ext` holds up
/// to 1 KiB of padding, the `apns` block's `ext` the rest.
pub(crate) fn message(size: usize) -> Value {
    let pad = |n: usize| "x".repeat(n);
    let base = 200usize;
    let first = size.saturating_sub(base).min(1000);
    let second = size.saturating_sub(base + first).min(1000);
    let mut m = json!({"title": "OpenPush bench", "content": "A notification of the benchmark.",
        "ext": {"pad": pad(first)}});
    if second > 0 {
        m["apns"] = json!({"ext": {"pad2": pad(second)}});
    }
    m
}

pub(crate) struct Driver {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Driver {
    pub fn new(server: &str, token: &str) -> Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base: format!("http://{server}/{ORG}/{APP}"),
            token: token.to_owned(),
        })
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {v}");
        }
        Ok(v)
    }

    pub async fn task(&self, id: i64) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}/push/task/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let v: Value = r.json().await?;
        Ok(v["data"].clone())
    }

    /// Creates a broadcast (`rate` notifications per second if given); returns the task id.
    pub async fn broadcast(&self, strategy: u8, msg: &Value, rate: Option<u64>) -> Result<i64> {
        let mut body = json!({"strategy": strategy, "pushMessage": msg});
        if let Some(r) = rate {
            body["rate"] = json!(r);
        }
        let v = self.post("/push/task", body).await?;
        v["data"]
            .as_i64()
            .or_else(|| v["data"]["taskId"].as_i64())
            .with_context(|| format!("no task id in {v}"))
    }
}

fn total(mocks: &MockVendors) -> u64 {
    mocks.push_counts().iter().map(|(_, n)| n).sum()
}

fn counts(mocks: &MockVendors) -> Value {
    mocks
        .push_counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| (v.to_owned(), json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Per-second samples of the mocks' accepted total → pushes per full minute.
fn per_minute(samples: &[(f64, u64)]) -> Vec<u64> {
    let Some(&(t0, n0)) = samples.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut mark = (t0, n0);
    for &(t, n) in samples {
        if t - mark.0 >= 60.0 {
            // Scale the sample to exactly 60 s (samples are about a second apart).
            out.push(((n - mark.1) as f64 * 60.0 / (t - mark.0)).round() as u64);
            mark = (t, n);
        }
    }
    out
}

/// Starts the mocks with small recorders (a long run keeps only counts), latency and faults.
pub(crate) async fn start_mocks(args: &BenchArgs) -> Result<Arc<MockVendors>> {
    let m = MockVendors::start_with(MockVendorsOptions {
        max_recorded: Some(64),
        ..MockVendorsOptions::default()
    })
    .await
    .context("starting the vendor mocks")?;
    if args.vendor_latency_ms > 0 {
        m.set_latency(Duration::from_millis(args.vendor_latency_ms));
    }
    Ok(Arc::new(m))
}

/// How a vendor's stand-in throttles: its next `n` requests, or every request until lifted.
#[derive(Debug, Clone, Copy)]
enum Throttle {
    Next(usize),
    All(bool),
}

/// Makes `vendor`'s stand-in answer with its own throttle (`Retry-After: 1` where the vendor
/// sends one): APNs 503, FCM 429 QUOTA_EXCEEDED, Huawei 503, Honor 503, Xiaomi 503, OPPO 429,
/// vivo 503, Meizu's 110010.
fn throttle(m: &MockVendors, vendor: &str, how: Throttle) {
    use openpush_vendor_mock::{honor, huawei, meizu, oppo, vivo, xiaomi, ApnsOutcome, FcmOutcome};
    macro_rules! apply {
        ($mock:expr, $outcome:expr) => {
            match how {
                Throttle::Next(n) => $mock.fail_next(n, $outcome),
                Throttle::All(on) => $mock.fail_all(on.then_some($outcome)),
            }
        };
    }
    let ra = Some(1);
    match vendor {
        "apns" => apply!(
            m.apns(),
            ApnsOutcome::ServiceUnavailable {
                retry_after_secs: ra
            }
        ),
        "fcm" => apply!(
            m.fcm(),
            FcmOutcome::QuotaExceeded {
                retry_after_secs: 1
            }
        ),
        "huawei" => apply!(
            m.huawei(),
            huawei::HuaweiOutcome::TrafficControl {
                retry_after_secs: ra
            }
        ),
        "honor" => apply!(
            m.honor(),
            honor::HonorOutcome::ServiceUnavailable {
                retry_after_secs: ra
            }
        ),
        "xiaomi" => apply!(
            m.xiaomi(),
            xiaomi::XiaomiOutcome::Http {
                status: 503,
                retry_after_secs: ra
            }
        ),
        "oppo" => apply!(
            m.oppo(),
            oppo::OppoOutcome::Http {
                status: 429,
                retry_after_secs: ra
            }
        ),
        "vivo" => apply!(
            m.vivo(),
            vivo::VivoOutcome::Http {
                status: 503,
                retry_after_secs: ra
            }
        ),
        "meizu" => apply!(m.meizu(), meizu::MeizuOutcome::RateTooFast),
        _ => {}
    }
}

/// Every 10 s, the next `n` requests of each vendor in use fail once with its throttle;
/// returns how many faults were scripted.
fn inject_faults(m: &MockVendors, vendors: &[&str], n: usize) -> u64 {
    for v in vendors {
        throttle(m, v, Throttle::Next(n));
    }
    (n * vendors.len()) as u64
}

/// Waits until task `id` has ended; samples the server's RSS and the mocks every `tick`.
async fn wait_task(d: &Driver, id: i64, sampler: &mut Sampler, limit: Duration) -> Result<Value> {
    let deadline = Instant::now() + limit;
    loop {
        sampler.sample();
        let t = d.task(id).await?;
        if matches!(t["status"].as_str(), Some("finished" | "cancelled")) {
            return Ok(t);
        }
        if Instant::now() > deadline {
            bail!("task {id} did not end within {limit:?}: {t}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs one of the fleet scenarios; returns the report's `load` and `results`.
pub(crate) async fn run(
    args: &BenchArgs,
    mocks: &MockVendors,
    vendors: &[&str],
    fleet: &Fleet,
    server: &ServerProc,
) -> Result<(Value, Value)> {
    let d = Driver::new(&server.addr, &fleet.app_token)?;
    let pid = server.child.id();
    let msg = message(args.payload);
    let mut sampler = Sampler::start(pid);
    match args.scenario {
        Scenario::Broadcast => {
            // Online users on the Easemob channel, the others through their vendor.
            let strategy = 3;
            let t0 = Instant::now();
            let id = d.broadcast(strategy, &msg, None).await?;
            let t = wait_task(&d, id, &mut sampler, Duration::from_secs(1800)).await?;
            let wall = t0.elapsed().as_secs_f64();
            let run_secs = (t["finishedAt"].as_i64().unwrap_or(0)
                - t["startedAt"].as_i64().unwrap_or(0)) as f64
                / 1000.0;
            let (cpu, cpu_wall) = sampler.cpu();
            let at_vendors = total(mocks);
            Ok((
                json!({"strategy": strategy, "users": args.users, "online_devices": args.devices,
                       "vendors": vendors, "message_bytes": msg.to_string().len(),
                       "vendor_latency_ms": args.vendor_latency_ms}),
                json!({
                    "task": t,
                    "dispatch_secs": run_secs,
                    "create_to_finished_secs": wall,
                    "dispatched_per_s": args.users as f64 / run_secs.max(0.001),
                    "accepted_by_vendor_mocks": at_vendors,
                    "per_vendor": counts(mocks),
                    "server_peak_rss_kib": sampler.peak_rss_kib,
                    "server_cpu_percent": cpu / cpu_wall * 100.0,
                }),
            ))
        }
        Scenario::Vendors => {
            let strategy = 2;
            let parallel = args.parallel_tasks.max(1);
            let until = Instant::now() + Duration::from_secs(args.duration);
            let t0 = Instant::now();
            let mut samples: Vec<(f64, u64)> = vec![(0.0, total(mocks))];
            let mut running: Vec<i64> = Vec::new();
            let mut done: Vec<Value> = Vec::new();
            let mut faults = 0u64;
            let mut next_fault = Instant::now() + Duration::from_secs(10);
            let mut created = 0u64;
            if let Some(v) = &args.throttle {
                anyhow::ensure!(
                    vendors.contains(&v.as_str()),
                    "--throttle {v}: not one of --vendors"
                );
                throttle(mocks, v, Throttle::All(true));
            }
            let mut window_end: Option<Vec<(&'static str, u64)>> = None;
            loop {
                let now = Instant::now();
                if now < until {
                    while running.len() < parallel {
                        running.push(d.broadcast(strategy, &msg, None).await?);
                        created += 1;
                    }
                    if args.faults && now >= next_fault {
                        faults += inject_faults(mocks, vendors, 20);
                        next_fault = now + Duration::from_secs(10);
                    }
                } else {
                    if window_end.is_none() {
                        // The window is over: what each vendor accepted in it, then the
                        // throttled vendor recovers and its backlog drains.
                        window_end = Some(mocks.push_counts());
                        if let Some(v) = &args.throttle {
                            throttle(mocks, v, Throttle::All(false));
                        }
                    }
                    if running.is_empty() {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(1000)).await;
                sampler.sample();
                if Instant::now() < until {
                    samples.push((t0.elapsed().as_secs_f64(), total(mocks)));
                }
                let mut still = Vec::new();
                for id in running {
                    let t = d.task(id).await?;
                    if matches!(t["status"].as_str(), Some("finished" | "cancelled")) {
                        done.push(t);
                    } else {
                        still.push(id);
                    }
                }
                running = still;
                if Instant::now() > until + Duration::from_secs(1800) {
                    bail!("tasks still running 30 minutes after the end");
                }
            }
            let (cpu, wall) = sampler.cpu();
            let minutes = per_minute(&samples);
            let window = samples.last().map_or(0.0, |s| s.0);
            let in_window = samples.last().map_or(0, |s| s.1) - samples[0].1;
            let sum = |k: &str| -> i64 {
                done.iter()
                    .map(|t| t["statistics"][k].as_i64().unwrap_or(0))
                    .sum()
            };
            let expected = created * args.users;
            let accepted = total(mocks);
            let per_vendor_per_s: serde_json::Map<String, Value> = window_end
                .unwrap_or_default()
                .into_iter()
                .filter(|(v, _)| vendors.contains(v))
                .map(|(v, n)| (v.to_owned(), json!(n as f64 / window.max(0.001))))
                .collect();
            Ok((
                json!({"strategy": strategy, "users": args.users, "vendors": vendors,
                       "parallel_tasks": parallel, "message_bytes": msg.to_string().len(),
                       "vendor_latency_ms": args.vendor_latency_ms, "faults": args.faults,
                       "throttled_vendor": args.throttle,
                       "duration_secs": args.duration}),
                json!({
                    "tasks": created,
                    "pushes_expected": expected,
                    "accepted_by_vendor_mocks": accepted,
                    "lost": expected as i64 - accepted as i64,
                    "task_success": sum("success"),
                    "task_fail": sum("fail"),
                    "task_unknown": sum("unknown"),
                    "faults_injected": faults,
                    "accepted_per_s_in_window": in_window as f64 / window.max(0.001),
                    "per_minute": minutes,
                    "per_minute_min": minutes.iter().min(),
                    "per_minute_max": minutes.iter().max(),
                    "per_vendor": counts(mocks),
                    "per_vendor_per_s_in_window": per_vendor_per_s,
                    "apns_payload_bytes": mocks.apns().pushes().first().map(|p| p.payload_len),
                    "server_peak_rss_kib": sampler.peak_rss_kib,
                    "server_cpu_percent": cpu / wall * 100.0,
                }),
            ))
        }
        Scenario::Rate => {
            let strategy = 2;
            let rate = args.task_rate;
            let t0 = Instant::now();
            let id = d.broadcast(strategy, &msg, Some(rate)).await?;
            let mut samples: Vec<(f64, u64)> = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(args.users / rate.max(1) + 600);
            let t = loop {
                sampler.sample();
                samples.push((t0.elapsed().as_secs_f64(), total(mocks)));
                let t = d.task(id).await?;
                if matches!(t["status"].as_str(), Some("finished" | "cancelled")) {
                    break t;
                }
                if Instant::now() > deadline {
                    bail!("the rate task did not end: {t}");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            };
            // The first delivery starts the minutes; the last partial minute is left out.
            let first = samples.iter().position(|s| s.1 > 0).unwrap_or(0);
            let minutes = per_minute(&samples[first.saturating_sub(1)..]);
            let target = rate * 60;
            let worst = minutes
                .iter()
                .map(|m| (*m as f64 - target as f64).abs() / target as f64 * 100.0)
                .fold(0.0, f64::max);
            Ok((
                json!({"strategy": strategy, "users": args.users, "rate_per_s": rate, "vendors": vendors}),
                json!({
                    "task": t,
                    "per_minute": minutes,
                    "target_per_minute": target,
                    "worst_minute_deviation_percent": worst,
                    "accepted_by_vendor_mocks": total(mocks),
                    "server_peak_rss_kib": sampler.peak_rss_kib,
                }),
            ))
        }
        Scenario::Schedule => {
            // `startDate` has second resolution in the server's time zone; the server runs
            // with a short minimum lead (see `start_server`).
            use chrono::TimeZone;
            let mut ids = Vec::new();
            let now = chrono::Local::now();
            let first = now.timestamp() + 8;
            for i in 0..args.tasks {
                let at = chrono::Local
                    .timestamp_opt(first + 2 * i as i64, 0)
                    .single()
                    .context("a local time")?;
                let users: Vec<String> = (0..10).map(|k| format!("u{:07}", i * 10 + k)).collect();
                let v = d
                    .post(
                        "/push/list",
                        json!({"targets": users, "strategy": 2, "pushMessage": msg,
                               "startDate": at.format("%Y-%m-%d %H:%M:%S").to_string()}),
                    )
                    .await?;
                ids.push(
                    v["data"]["taskId"]
                        .as_i64()
                        .with_context(|| format!("no task id in {v}"))?,
                );
            }
            let mut lags = Vec::new();
            let mut tasks = Vec::new();
            for id in ids {
                let t = wait_task(&d, id, &mut sampler, Duration::from_secs(120)).await?;
                let lag = t["startedAt"].as_i64().unwrap_or(0) - t["startAt"].as_i64().unwrap_or(0);
                lags.push(lag);
                tasks.push(json!({"taskId": id, "startAt": t["startAt"], "startedAt": t["startedAt"], "finishedAt": t["finishedAt"], "lag_ms": lag}));
            }
            Ok((
                json!({"tasks": args.tasks, "users_per_task": 10, "vendors": vendors}),
                json!({
                    "tasks": tasks,
                    "max_start_lag_ms": lags.iter().max(),
                    "min_start_lag_ms": lags.iter().min(),
                    "accepted_by_vendor_mocks": total(mocks),
                }),
            ))
        }
        Scenario::Accept => {
            let mut a = args.clone();
            a.strategy = 2;
            a.endpoint = super::coordinator::Endpoint::Single;
            let users: Arc<Vec<String>> =
                Arc::new((0..args.users).map(|i| format!("u{i:07}")).collect());
            let before = total(mocks);
            let stop = Arc::new(AtomicBool::new(false));
            let measuring = Arc::new(AtomicBool::new(false));
            let handle = {
                let (stop, measuring, users) = (stop.clone(), measuring.clone(), users.clone());
                let (addr, token) = (server.addr.clone(), fleet.app_token.clone());
                tokio::spawn(async move {
                    super::coordinator::drive(&a, &addr, &token, users, stop, measuring).await
                })
            };
            tokio::time::sleep(Duration::from_secs(args.warmup)).await;
            measuring.store(true, Ordering::Relaxed);
            let t0 = Instant::now();
            let mut window = Sampler::start(pid);
            while t0.elapsed() < Duration::from_secs(args.duration) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                window.sample();
                sampler.sample();
            }
            measuring.store(false, Ordering::Relaxed);
            let secs = t0.elapsed().as_secs_f64();
            let (cpu, wall) = window.cpu();
            stop.store(true, Ordering::Relaxed);
            let (in_window, latency, errors, answered) = handle.await??;
            // Every accepted user's push must reach its stand-in as the queue drains.
            let drain_from = Instant::now();
            let deadline = drain_from + Duration::from_secs(1800);
            while total(mocks) - before < answered {
                if Instant::now() > deadline {
                    break;
                }
                sampler.sample();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let at_vendors = total(mocks) - before;
            Ok((
                json!({"strategy": 2, "endpoint": "single", "users_per_request": 100,
                       "concurrency": args.concurrency, "users": args.users, "vendors": vendors,
                       "message_bytes": msg.to_string().len(), "duration_secs": args.duration,
                       "vendor_latency_ms": args.vendor_latency_ms}),
                json!({
                    "accepted_users_per_s": in_window as f64 / secs,
                    "request_latency": super::coordinator::percentiles(&latency),
                    "failed_requests": errors,
                    "users_accepted_in_all": answered,
                    "accepted_by_vendor_mocks": at_vendors,
                    "lost": answered as i64 - at_vendors as i64,
                    "drain_secs_after_load": drain_from.elapsed().as_secs_f64(),
                    "per_vendor": counts(mocks),
                    "server_peak_rss_kib": sampler.peak_rss_kib,
                    "server_cpu_percent_in_window": cpu / wall * 100.0,
                }),
            ))
        }
        Scenario::Online | Scenario::Idle => bail!("not a fleet scenario"),
    }
}
