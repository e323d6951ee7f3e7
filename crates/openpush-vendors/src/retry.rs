//! Retry policy shared by the vendor clients: exponential backoff with full jitter (the delay
//! doubles per attempt, up to a cap), honouring a vendor's `Retry-After`.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How often and how long a client retries a retryable answer (429, 500, 503, network errors).
///
/// A vendor that says when to come back (`Retry-After`, or its documented throttle pause) is
/// throttling, not failing: such answers are retried up to `max_throttled_attempts`, each after
/// the pause it asked for, so a throttled push is delayed rather than lost. Failures without a
/// pause get `max_attempts` with exponential backoff.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1), when the vendor names no pause.
    pub max_attempts: u32,
    /// Attempts in all while the vendor keeps answering with a pause (`Retry-After`).
    pub max_throttled_attempts: u32,
    /// Backoff before the second attempt; doubles for each further one.
    pub base_delay: Duration,
    /// Longest computed backoff.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the send fails at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            // At least a pause of a second each: ten minutes of throttling before a push fails.
            max_throttled_attempts: 600,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempts counted from 1), or `None` when no attempt
    /// is left or the vendor asks for a longer pause than `max_retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(ra) = retry_after {
            if ra > self.max_retry_after
                || attempt >= self.max_throttled_attempts.max(self.max_attempts).max(1)
            {
                return None;
            }
            // Honour the vendor's pause; add a little jitter so a burst does not return at once.
            return Some(ra + jitter(ra / 10 + Duration::from_millis(10)));
        }
        if attempt >= self.max_attempts.max(1) {
            return None;
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.max_delay);
        // "Equal jitter": half fixed, half random, so the delay never collapses to zero.
        Some(exp / 2 + jitter(exp / 2))
    }
}

fn jitter(max: Duration) -> Duration {
    use rand::Rng;
    let ms = max.as_millis() as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
}

/// `Retry-After` as delta-seconds (what APNs and Google send). An HTTP date is not parsed.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_bounded() {
        let p = RetryPolicy {
            max_attempts: 4,
            max_throttled_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(5),
        };
        let d1 = p.delay(1, None).unwrap();
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d3 = p.delay(3, None).unwrap();
        assert!(d3 >= Duration::from_millis(150) && d3 <= Duration::from_millis(300));
        assert_eq!(p.delay(4, None), None);
        let ra = p.delay(1, Some(Duration::from_secs(1))).unwrap();
        assert!(ra >= Duration::from_secs(1) && ra <= Duration::from_millis(1110));
        assert_eq!(p.delay(1, Some(Duration::from_secs(6))), None);
        // Throttled (a pause named): more attempts than failures get.
        assert!(p.delay(5, Some(Duration::from_secs(1))).is_some());
        assert_eq!(p.delay(6, Some(Duration::from_secs(1))), None);
    }
}
