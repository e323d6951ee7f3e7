//! `openpush bench-worker`: one load process holding many simulated devices.
//!
//! Reads `username token` lines from `--tokens`, connects every device from `--source-ip`,
//! records request→receipt latency of each push (the pusher puts its send time, in µs, in
//! `ext.ts`), acks it, and reports JSON lines on stdout:
//! `{"event":"connected",…}` once, `{"event":"stats",…}` every second, and
//! `{"event":"done",…,"hist":…}` when stdin closes.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use openpush_client::Device;
use parking_lot::Mutex;
use tokio::io::AsyncBufReadExt;
use tokio::sync::Semaphore;

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    server: String,
    #[arg(long)]
    org: String,
    #[arg(long)]
    app: String,
    /// File of `username token` lines.
    #[arg(long)]
    tokens: std::path::PathBuf,
    /// Local address to connect from.
    #[arg(long)]
    source_ip: Option<IpAddr>,
    /// Connections opened at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Send an application ping this often (seconds; 0 = never).
    #[arg(long, default_value_t = 30)]
    ping_secs: u64,
}

/// How long a device gathers acks before sending them.
const ACK_EVERY: Duration = Duration::from_millis(50);

/// The fields of a `push` frame the worker reads; serde skips the rest without building it.
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    id: Option<&'a str>,
    #[serde(default)]
    message: FrameMessage,
}

#[derive(serde::Deserialize, Default)]
struct FrameMessage {
    ext: Option<FrameExt>,
}

#[derive(serde::Deserialize)]
struct FrameExt {
    ts: Option<u64>,
}

struct Shared {
    received: AtomicU64,
    hist: Mutex<Histogram<u64>>,
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

pub async fn run(args: WorkerArgs) -> Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let text = std::fs::read_to_string(&args.tokens)
        .with_context(|| format!("reading {}", args.tokens.display()))?;
    let devices: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(u, t)| (u.to_owned(), t.to_owned()))
        .collect();
    let shared = Arc::new(Shared {
        received: AtomicU64::new(0),
        hist: Mutex::new(Histogram::new_with_bounds(1, 120_000_000, 3).context("histogram")?),
    });
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let failed = Arc::new(AtomicU64::new(0));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let args = Arc::new(args);
    for (i, (user, token)) in devices.into_iter().enumerate() {
        let (gate, shared, ready, args, failed) = (
            gate.clone(),
            shared.clone(),
            ready_tx.clone(),
            args.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let connected = Device::connect_from(
                &args.server,
                &args.org,
                &args.app,
                &token,
                &format!("bench-{user}"),
                args.source_ip,
            )
            .await;
            drop(permit);
            let mut dev = match connected {
                Ok(d) => {
                    let _ = ready.send(true);
                    d
                }
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("connect failed: {e}");
                    }
                    let _ = ready.send(false);
                    return;
                }
            };
            drop(ready);
            // Spread pings over the interval so they do not arrive all at once.
            let ping_every = Duration::from_secs(args.ping_secs.max(1));
            let offset =
                Duration::from_millis((i as u64 * 7919) % (ping_every.as_millis() as u64).max(1));
            let mut ping =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, ping_every);
            // Acks go out in small batches, as a mobile SDK would send them.
            let mut pending_acks: Vec<String> = Vec::new();
            let mut ack_tick = tokio::time::interval(ACK_EVERY);
            loop {
                tokio::select! {
                    frame = dev.next_text() => match frame {
                        Ok(Some(text)) => {
                            let Ok(f) = serde_json::from_str::<Frame<'_>>(&text) else { continue };
                            if f.kind != "push" {
                                continue;
                            }
                            if let Some(ts) = f.message.ext.and_then(|e| e.ts) {
                                let lat = super::now_us().saturating_sub(ts).max(1);
                                let _ = shared.hist.lock().record(lat);
                            }
                            shared.received.fetch_add(1, Ordering::Relaxed);
                            if let Some(id) = f.id {
                                pending_acks.push(id.to_owned());
                            }
                        }
                        Ok(None) | Err(_) => return,
                    },
                    _ = ack_tick.tick(), if !pending_acks.is_empty() => {
                        let ids: Vec<&str> = pending_acks.iter().map(String::as_str).collect();
                        if dev.ack(&ids).await.is_err() {
                            return;
                        }
                        pending_acks.clear();
                    }
                    _ = ping.tick(), if args.ping_secs > 0 => {
                        if dev.ping().await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    drop(ready_tx);
    let (mut ok, mut bad) = (0u64, 0u64);
    while let Some(r) = ready_rx.recv().await {
        if r {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    emit(serde_json::json!({"event": "connected", "count": ok, "failed": bad}));

    // Report every second until stdin closes; a `reset` line starts the measurement over
    // (the coordinator sends it when its warm-up ends).
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => emit(serde_json::json!({"event": "stats", "received": shared.received.load(Ordering::Relaxed)})),
            line = lines.next_line() => match line {
                Ok(Some(l)) if l.trim() == "reset" => {
                    shared.hist.lock().reset();
                    shared.received.store(0, Ordering::Relaxed);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            },
        }
    }
    let hist = shared.hist.lock().clone();
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(&hist, &mut bytes)
        .map_err(|e| anyhow::anyhow!("serialising the histogram: {e:?}"))?;
    emit(serde_json::json!({
        "event": "done",
        "received": shared.received.load(Ordering::Relaxed),
        "hist": base64::engine::general_purpose::STANDARD.encode(bytes),
    }));
    Ok(())
}
