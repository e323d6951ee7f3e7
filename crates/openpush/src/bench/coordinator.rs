//! `openpush bench`: seeds a store, starts the server and the device workers, drives the load,
//! and reports.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use openpush_api::auth::{Claims, Subject, TokenSigner};
use openpush_core::{Clock, SystemClock, Username};
use openpush_store::sqlite::SqliteStore;
use openpush_store::{NewUser, Store};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::proc_stats::{self, Sampler};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Connected devices receiving pushes: throughput and request→receipt latency.
    Online,
    /// Connected devices held idle: memory and CPU per connection.
    Idle,
    /// One broadcast task to `--users` users bound to the vendor stand-ins, `--devices` of them
    /// online (strategy 3: online on the Easemob channel, the rest through their vendor):
    /// dispatch time and server RSS.
    Broadcast,
    /// Broadcast tasks back to back for `--duration` seconds through the vendor stand-ins
    /// (strategy 2): sustained egress per minute, nothing lost (also with `--faults`).
    Vendors,
    /// One broadcast with `rate` = `--task-rate`: pushes per minute against the rate.
    Rate,
    /// `--tasks` list tasks scheduled a few seconds ahead: start lag after `startDate`.
    Schedule,
    /// `/push/single` with strategy 2 to users bound to the vendor stand-ins, 100 users per
    /// request, `--concurrency` requests in flight for `--duration` seconds: users accepted per
    /// second (every vendor leg committed to the send queue before the answer) and request
    /// latency; then every push must reach a stand-in.
    Accept,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Endpoint {
    /// `POST /push/single`, 100 users per request.
    Single,
    /// `POST /push/async/{user}`, one user per request.
    Async,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub(crate) scenario: Scenario,
    /// Simulated devices (one user each); `vendors`, `rate` and `schedule` use none.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) devices: usize,
    /// Seconds of measurement (after the warm-up).
    #[arg(long, default_value_t = 30)]
    pub(crate) duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 3)]
    pub(crate) warmup: u64,
    /// Notifications per second to offer; 0 pushes as fast as the server answers.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// HTTP requests in flight.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// Push strategy (1: stored until acked; 4: online only, never stored).
    #[arg(long, default_value_t = 1)]
    pub(crate) strategy: u8,
    #[arg(long, value_enum, default_value_t = Endpoint::Single)]
    pub(crate) endpoint: Endpoint,
    /// Device worker processes.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Source addresses 127.0.0.2, .3, … the workers connect from.
    #[arg(long, default_value_t = 4)]
    source_ips: u8,
    /// Size of the pushMessage JSON, in bytes (online: at most ~1100, `ext` holds at most
    /// 1024; fleet scenarios: up to ~2200, the rest in the `apns` block's `ext`).
    #[arg(long, default_value_t = 1024)]
    pub(crate) payload: usize,
    /// Where to write the JSON report (default bench-results/SCENARIO-UNIXTIME.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Users with a vendor binding (broadcast, vendors, rate, schedule).
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) users: u64,
    /// Vendors the users are bound to, round robin.
    #[arg(long, default_value = "apns,fcm,huawei,honor,xiaomi,oppo,vivo,meizu")]
    pub(crate) vendors: String,
    /// Added to every vendor stand-in's answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub(crate) vendor_latency_ms: u64,
    /// Every 10 s, the next 20 requests to each vendor get its 429/503 with `Retry-After: 1`.
    #[arg(long)]
    pub(crate) faults: bool,
    /// The `vendors` scenario: this vendor throttles every request (its own 429/503 with
    /// `Retry-After: 1`) for the whole measured window, then recovers; the others are measured
    /// beside it, and nothing sent to it may be lost.
    #[arg(long, value_name = "VENDOR")]
    pub(crate) throttle: Option<String>,
    /// The `rate` scenario's task rate, notifications per second.
    #[arg(long, default_value_t = 1000)]
    pub(crate) task_rate: u64,
    /// The `schedule` scenario's number of tasks.
    #[arg(long, default_value_t = 5)]
    pub(crate) tasks: usize,
    /// The `vendors` scenario's tasks running at once (the app limit is 3).
    #[arg(long, default_value_t = 3)]
    pub(crate) parallel_tasks: usize,
    /// Overrides the server's `limits.task_page_size`.
    #[arg(long)]
    page_size: Option<u32>,
}

pub(crate) const ORG: &str = "bench";
pub(crate) const APP: &str = "bench";

struct Seeded {
    dir: tempfile::TempDir,
    app_token: String,
    users: Vec<(String, String)>,
}

/// Users and tokens written straight into a fresh store (see the module doc for why).
async fn seed(devices: usize) -> Result<Seeded> {
    let dir = tempfile::tempdir().context("temporary data directory")?;
    let store = SqliteStore::open(&dir.path().join("data")).await?;
    let created = openpush_api::admin::create_app(&store, &SystemClock, ORG, APP).await?;
    let key: [u8; 32] = store
        .meta_get_or_insert("token_signing_key", &TokenSigner::random_key())
        .await?
        .try_into()
        .map_err(|_| anyhow::anyhow!("bad signing key"))?;
    let signer = TokenSigner::new(key);
    let hash = openpush_api::auth::hash_password("bench");
    let now = SystemClock.now_ms();
    let mut users = Vec::with_capacity(devices);
    for chunk_start in (0..devices).step_by(1000) {
        let batch: Vec<NewUser> = (chunk_start..(chunk_start + 1000).min(devices))
            .map(|i| NewUser {
                username: Username::parse(&format!("u{i:07}")).expect("valid"),
                uuid: uuid::Uuid::new_v4().to_string(),
                password_hash: hash.clone(),
                nickname: String::new(),
                created: now,
            })
            .collect();
        let out = store.create_users(created.app.id, batch).await?;
        for u in out.created {
            let uuid = uuid::Uuid::parse_str(&u.uuid)?;
            let token = signer.sign(&Claims {
                app_id: created.app.id,
                issued_ms: now,
                expires_ms: 0,
                subject: Subject::User {
                    uuid: *uuid.as_bytes(),
                    username: u.username.as_str().to_owned(),
                },
            });
            users.push((u.username.into_string(), token));
        }
    }
    let app_token = signer.sign(&Claims {
        app_id: created.app.id,
        issued_ms: now,
        expires_ms: 0,
        subject: Subject::App,
    });
    store.close().await;
    Ok(Seeded {
        dir,
        app_token,
        users,
    })
}

pub(crate) struct ServerProc {
    pub(crate) child: Child,
    pub(crate) addr: String,
    ready_ms: u128,
}

fn start_server(data: &std::path::Path, env: &[(&str, String)]) -> Result<ServerProc> {
    let exe = std::env::current_exe()?;
    let t0 = Instant::now();
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("OPENPUSH_RATE_LIMITS__ENABLED", "false")
        // Thousands of simulated devices share each of the few source addresses.
        .env("OPENPUSH_HTTP__MAX_CONNECTIONS_PER_SOURCE", "0")
        .env(
            "RUST_LOG",
            std::env::var("OPENPUSH_BENCH_SERVER_LOG")
                .unwrap_or_else(|_| "warn,openpush=info".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the server")?;
    let stderr = child.stderr.take().context("server stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let Some(line) = lines.next() else {
            bail!("the server exited before listening")
        };
        let line = line?;
        if let Some(i) = line.find("addr=") {
            break line[i + 5..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[server] {l}");
        }
    });
    // Ready = answering HTTP.
    loop {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            bail!("the server did not answer within 30 s");
        }
        std::thread::yield_now();
    }
    Ok(ServerProc {
        child,
        addr,
        ready_ms: t0.elapsed().as_millis(),
    })
}

struct WorkerProc {
    child: Child,
    stdin: Option<ChildStdin>,
    events: std::sync::mpsc::Receiver<Value>,
}

fn start_workers(
    args: &BenchArgs,
    dir: &std::path::Path,
    users: &[(String, String)],
    server: &str,
) -> Result<Vec<WorkerProc>> {
    let exe = std::env::current_exe()?;
    let n = args.workers.max(1);
    let mut out = Vec::new();
    for w in 0..n {
        let file = dir.join(format!("tokens-{w}.txt"));
        let mut f = std::fs::File::create(&file)?;
        for (u, t) in users.iter().skip(w).step_by(n) {
            writeln!(f, "{u} {t}")?;
        }
        let ip = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            2 + (w as u8 % args.source_ips.max(1)),
        ));
        let mut child = Command::new(&exe)
            .args([
                "bench-worker",
                "--server",
                &format!("http://{server}"),
                "--org",
                ORG,
                "--app",
                APP,
                "--tokens",
            ])
            .arg(&file)
            .args(["--source-ip", &ip.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting a bench worker")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        out.push(WorkerProc {
            stdin: child.stdin.take(),
            child,
            events: rx,
        });
    }
    Ok(out)
}

fn wait_event(w: &WorkerProc, kind: &str, timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = w
            .events
            .recv_timeout(left)
            .with_context(|| format!("waiting for a worker's {kind}"))?;
        if v["event"] == kind {
            return Ok(v);
        }
    }
}

fn send_line(w: &mut WorkerProc, line: &str) {
    if let Some(s) = w.stdin.as_mut() {
        let _ = writeln!(s, "{line}");
        let _ = s.flush();
    }
}

pub(crate) fn percentiles(h: &Histogram<u64>) -> Value {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    json!({"count": h.len(), "p50_ms": ms(0.50), "p99_ms": ms(0.99), "p999_ms": ms(0.999), "max_ms": h.max() as f64 / 1000.0})
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": kernel.trim(),
        "note": "server, devices and load generator on the same machine",
    })
}

fn message(payload: usize, ts: u64) -> Value {
    let base = json!({"title": "OpenPush bench", "content": "A notification of the benchmark.", "ext": {"ts": ts, "pad": ""}});
    let pad = payload.saturating_sub(base.to_string().len()).min(1000);
    json!({"title": "OpenPush bench", "content": "A notification of the benchmark.", "ext": {"ts": ts, "pad": "x".repeat(pad)}})
}

/// Drives pushes until `stop`; returns (notifications accepted, request latency histogram).
/// Pushes to `users` until `stop`; returns the users accepted while `measuring`, the request
/// latencies then, the failed requests, and the users accepted in all.
pub(crate) async fn drive(
    args: &BenchArgs,
    server: &str,
    token: &str,
    users: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
) -> Result<(u64, Histogram<u64>, u64, u64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let accepted = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let per_req: u64 = match args.endpoint {
        Endpoint::Single => 100.min(users.len() as u64),
        Endpoint::Async => 1,
    };
    // With a rate, request k leaves at start + k * interval.
    let interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(per_req as f64 / args.rate as f64));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, accepted, answered, errors, next, hist, users, stop, measuring) = (
            client.clone(),
            accepted.clone(),
            answered.clone(),
            errors.clone(),
            next.clone(),
            hist.clone(),
            users.clone(),
            stop.clone(),
            measuring.clone(),
        );
        let base = format!("http://{server}/{ORG}/{APP}");
        let token = token.to_owned();
        let (strategy, endpoint, payload) = (args.strategy, args.endpoint, args.payload);
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if let Some(iv) = interval {
                    tokio::time::sleep_until(start + iv * (k as u32)).await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                let first = (k * per_req) as usize;
                let t0 = super::now_us();
                let msg = message(payload, t0);
                let req = match endpoint {
                    Endpoint::Single => {
                        let targets: Vec<&str> = (0..per_req as usize)
                            .map(|i| users[(first + i) % users.len()].as_str())
                            .collect();
                        client.post(format!("{base}/push/single")).json(
                            &json!({"targets": targets, "strategy": strategy, "pushMessage": msg}),
                        )
                    }
                    Endpoint::Async => client
                        .post(format!("{base}/push/async/{}", users[first % users.len()]))
                        .json(&json!({"strategy": strategy, "pushMessage": msg})),
                };
                match req.bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        answered.fetch_add(per_req, Ordering::Relaxed);
                        if measuring.load(Ordering::Relaxed) {
                            accepted.fetch_add(per_req, Ordering::Relaxed);
                            let _ = hist.lock().record((super::now_us() - t0).max(1));
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let h = hist.lock().clone();
    Ok((
        accepted.load(Ordering::Relaxed),
        h,
        errors.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    ))
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    if matches!(
        args.scenario,
        Scenario::Broadcast
            | Scenario::Vendors
            | Scenario::Rate
            | Scenario::Schedule
            | Scenario::Accept
    ) {
        return run_fleet(args).await;
    }
    eprintln!("seeding {} users…", args.devices);
    let seeded = seed(args.devices).await?;
    let mut server = start_server(&seeded.dir.path().join("data"), &[])?;
    let pid = server.child.id();
    eprintln!("server {} ready in {} ms", server.addr, server.ready_ms);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kib = proc_stats::rss_kib(pid).unwrap_or(0);

    let t_connect = Instant::now();
    let mut workers = start_workers(&args, seeded.dir.path(), &seeded.users, &server.addr)?;
    let mut connected = 0;
    let mut failed = 0;
    for w in &workers {
        let v = wait_event(w, "connected", Duration::from_secs(600))?;
        connected += v["count"].as_u64().unwrap_or(0);
        failed += v["failed"].as_u64().unwrap_or(0);
    }
    let connect_secs = t_connect.elapsed().as_secs_f64();
    eprintln!("{connected} devices connected ({failed} failed) in {connect_secs:.1} s");

    let mut report = json!({
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
        "devices": {"requested": args.devices, "connected": connected, "failed": failed, "connect_secs": connect_secs, "workers": args.workers, "source_ips": args.source_ips},
        "server": {"ready_ms": server.ready_ms, "idle_rss_kib": idle_rss_kib},
    });

    match args.scenario {
        Scenario::Idle => {
            // Let allocations settle, then measure a quiet hold.
            tokio::time::sleep(Duration::from_secs(5)).await;
            let mut s = Sampler::start(pid);
            let rss_connected = s.sample();
            let until = Instant::now() + Duration::from_secs(args.duration);
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_secs(1)).await;
                s.sample();
            }
            let (cpu, wall) = s.cpu();
            let per_conn_kib =
                (rss_connected.saturating_sub(idle_rss_kib)) as f64 / connected.max(1) as f64;
            report["results"] = json!({
                "rss_connected_kib": rss_connected,
                "rss_per_connection_kib": per_conn_kib,
                "cpu_secs": cpu,
                "wall_secs": wall,
                "cpu_percent": cpu / wall * 100.0,
                "cpu_us_per_connection_per_sec": cpu * 1e6 / wall / connected.max(1) as f64,
                "heartbeat_s": 30,
            });
        }
        Scenario::Online => {
            let users = Arc::new(
                seeded
                    .users
                    .iter()
                    .map(|(u, _)| u.clone())
                    .collect::<Vec<_>>(),
            );
            let stop = Arc::new(AtomicBool::new(false));
            let measuring = Arc::new(AtomicBool::new(false));
            let handle = {
                let (stop, measuring, users) = (stop.clone(), measuring.clone(), users.clone());
                let (a, addr, token) =
                    (args.clone(), server.addr.clone(), seeded.app_token.clone());
                tokio::spawn(async move { drive(&a, &addr, &token, users, stop, measuring).await })
            };
            tokio::time::sleep(Duration::from_secs(args.warmup)).await;
            for w in workers.iter_mut() {
                send_line(w, "reset");
            }
            measuring.store(true, Ordering::Relaxed);
            let mut s = Sampler::start(pid);
            let until = Instant::now() + Duration::from_secs(args.duration);
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_secs(1)).await;
                s.sample();
            }
            measuring.store(false, Ordering::Relaxed);
            let (cpu, wall) = s.cpu();
            // Stop offering load, let what is in flight arrive, then collect.
            stop.store(true, Ordering::Relaxed);
            let (accepted, req_hist, errors, _) = handle.await??;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut received = 0u64;
            let mut lat = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
            for w in workers.iter_mut() {
                w.stdin.take();
                let v = wait_event(w, "done", Duration::from_secs(60))?;
                received += v["received"].as_u64().unwrap_or(0);
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v["hist"].as_str().unwrap_or_default())?;
                let h: Histogram<u64> = Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| anyhow::anyhow!("worker histogram: {e:?}"))?;
                lat.add(&h)
                    .map_err(|e| anyhow::anyhow!("merging histograms: {e:?}"))?;
            }
            report["load"] = json!({
                "endpoint": format!("{:?}", args.endpoint).to_lowercase(),
                "strategy": args.strategy,
                "offered_rate_per_s": args.rate,
                "concurrency": args.concurrency,
                "payload_bytes": message(args.payload, super::now_us()).to_string().len(),
                "warmup_secs": args.warmup,
                "duration_secs": args.duration,
            });
            // Receipts include what arrived in the 2 s drain after the window, which belongs
            // to pushes accepted inside it; the rate is over the window.
            report["results"] = json!({
                "accepted_per_s": accepted as f64 / wall,
                "requests_per_s": req_hist.len() as f64 / wall,
                "received_per_s": received as f64 / wall,
                "received": received,
                "accepted": accepted,
                "request_errors": errors,
                "request_latency": percentiles(&req_hist),
                "delivery_latency": percentiles(&lat),
                "server_peak_rss_kib": s.peak_rss_kib,
                "server_cpu_percent": cpu / wall * 100.0,
            });
        }
        Scenario::Broadcast
        | Scenario::Vendors
        | Scenario::Rate
        | Scenario::Schedule
        | Scenario::Accept => {
            unreachable!("run_fleet handles the fleet scenarios")
        }
    }
    stop_all(&mut workers, &mut server);
    write_report(&args, &report)
}

fn stop_all(workers: &mut [WorkerProc], server: &mut ServerProc) {
    for w in workers.iter_mut() {
        w.stdin.take();
        let _ = w.child.kill();
        let _ = w.child.wait();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let _ = server.child.wait();
}

fn write_report(args: &BenchArgs, report: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    println!("{text}");
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "bench-results/{}-{}.json",
            report["scenario"].as_str().unwrap_or("bench"),
            SystemClock.now_ms() / 1000
        ))
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, text)?;
    eprintln!("report written to {}", out.display());
    Ok(())
}

/// The scenarios that push through the vendor stand-ins (see `fleet`).
async fn run_fleet(mut args: BenchArgs) -> Result<()> {
    if args.scenario != Scenario::Broadcast {
        args.devices = 0;
    }
    let vendors = super::fleet::vendors_of(&args)?;
    let mocks = super::fleet::start_mocks(&args).await?;
    eprintln!("seeding {} users…", args.users);
    let fleet = super::fleet::seed(&args, &mocks, &vendors).await?;
    let mut env = Vec::new();
    if let Some(n) = args.page_size {
        env.push(("OPENPUSH_LIMITS__TASK_PAGE_SIZE", n.to_string()));
    }
    if args.scenario == Scenario::Schedule {
        env.push(("OPENPUSH_LIMITS__SCHEDULE_MIN_LEAD_SECS", "2".to_owned()));
    }
    let mut server = start_server(&fleet.dir.path().join("data"), &env)?;
    eprintln!("server {} ready in {} ms", server.addr, server.ready_ms);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kib = proc_stats::rss_kib(server.child.id()).unwrap_or(0);
    let mut workers = Vec::new();
    let mut connected = 0;
    if !fleet.devices.is_empty() {
        workers = start_workers(&args, fleet.dir.path(), &fleet.devices, &server.addr)?;
        for w in &workers {
            let v = wait_event(w, "connected", Duration::from_secs(600))?;
            connected += v["count"].as_u64().unwrap_or(0);
        }
        eprintln!("{connected} devices connected");
        for w in workers.iter_mut() {
            send_line(w, "reset");
        }
    }
    let outcome = super::fleet::run(&args, &mocks, &vendors, &fleet, &server).await;
    let mut received = 0u64;
    for w in workers.iter_mut() {
        w.stdin.take();
        if let Ok(v) = wait_event(w, "done", Duration::from_secs(60)) {
            received += v["received"].as_u64().unwrap_or(0);
        }
    }
    stop_all(&mut workers, &mut server);
    let (load, mut results) = outcome?;
    if args.scenario == Scenario::Broadcast {
        let vendors_total = results["accepted_by_vendor_mocks"].as_u64().unwrap_or(0);
        results["received_on_devices"] = json!(received);
        results["delivered_total"] = json!(vendors_total + received);
    }
    let report = json!({
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
        "devices": {"online": connected},
        "server": {"ready_ms": server.ready_ms, "idle_rss_kib": idle_rss_kib},
        "load": load,
        "results": results,
    });
    write_report(&args, &report)
}
