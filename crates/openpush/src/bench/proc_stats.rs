//! Resident memory and CPU time of a process, from /proc (Linux).

use std::time::Instant;

/// Clock ticks per second of /proc/PID/stat times; 100 on every Linux configuration this runs on
/// (USER_HZ is fixed at 100 for the /proc interface).
const TICKS_PER_SEC: f64 = 100.0;

pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// User + system CPU seconds the process has used.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after the closing parenthesis are fixed.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// Samples a process once a second: peak RSS and CPU over a window.
pub struct Sampler {
    pid: u32,
    pub peak_rss_kib: u64,
    cpu_start: f64,
    t_start: Instant,
}

impl Sampler {
    pub fn start(pid: u32) -> Self {
        Self {
            pid,
            peak_rss_kib: rss_kib(pid).unwrap_or(0),
            cpu_start: cpu_secs(pid).unwrap_or(0.0),
            t_start: Instant::now(),
        }
    }

    pub fn sample(&mut self) -> u64 {
        let r = rss_kib(self.pid).unwrap_or(0);
        self.peak_rss_kib = self.peak_rss_kib.max(r);
        r
    }

    /// (CPU seconds used, wall seconds) since `start`.
    pub fn cpu(&self) -> (f64, f64) {
        let used = cpu_secs(self.pid).unwrap_or(self.cpu_start) - self.cpu_start;
        (used, self.t_start.elapsed().as_secs_f64())
    }
}
