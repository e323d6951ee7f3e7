//! The benchmark harness: `openpush bench SCENARIO`.
//!
//! It starts a server (this same binary, `openpush serve`, on a temporary data directory) and
//! the simulated devices itself, spread over several worker processes (`openpush
//! bench-worker`) and several source addresses in 127.0.0.0/8, runs for a set time, and prints
//! and writes a JSON report: throughput, latency p50/p99/p999, server RSS and CPU.
//!
//! Scenarios:
//! - `online`: N connected devices; pushes through `/push/single` (100 users per request) or
//!   `/push/async/{user}`; latency is measured from the HTTP request to the device's receipt.
//! - `idle`: N connected devices held; RSS and CPU per connection.
//!
//! Seeding is direct: users are written into the store and user tokens are signed with the
//! store's key before the server starts, because logging 10,000 users in through the
//! password grant would benchmark Argon2, not the push path.

mod coordinator;
mod fleet;
mod proc_stats;
mod worker;

pub use coordinator::{run, BenchArgs};
pub use worker::{run as run_worker, WorkerArgs};

/// Microseconds since the epoch; the load side and the devices share the machine's clock.
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
