//! Per-app-key rate limits, Easemob's defaults per endpoint group: a token bucket per (app,
//! endpoint group), refilled continuously at the group's rate, holding at most one second's worth.
//!
//! The limiter is per node. In a cluster each node enforces the configured rate on the
//! requests it receives; a limiter shared by all nodes is left for clustering to add.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::RateLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateGroup {
    Token,
    Users,
    Binding,
    UserSettings,
    Label,
    LabelUser,
    PushSync,
    PushAsync,
    PushSingle,
    PushTask,
    PushTaskBroadcast,
    PushMessage,
    PushMessageQuery,
    PushList,
    PushListLabel,
    Tasks,
    Notifiers,
    Stats,
    /// Routes with no per-app rate (the device connection).
    Unlimited,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimits,
    buckets: Mutex<HashMap<(i64, RateGroup), Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimits) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn rate(&self, group: RateGroup) -> u32 {
        let c = &self.config;
        match group {
            RateGroup::Token => c.token,
            RateGroup::Users => c.users,
            RateGroup::Binding => c.binding,
            RateGroup::UserSettings => c.user_settings,
            RateGroup::Label => c.label,
            RateGroup::LabelUser => c.label_user,
            RateGroup::PushSync => c.push_sync,
            RateGroup::PushAsync => c.push_async,
            RateGroup::PushSingle => c.push_single,
            RateGroup::PushTask
            | RateGroup::PushTaskBroadcast
            | RateGroup::PushMessage
            | RateGroup::PushMessageQuery => c.push_task,
            RateGroup::PushList => c.push_list,
            RateGroup::PushListLabel => c.push_list_label,
            RateGroup::Tasks => c.tasks,
            RateGroup::Notifiers => c.notifiers,
            RateGroup::Stats => c.stats,
            RateGroup::Unlimited => 0,
        }
    }

    /// Takes one token for `app_id` in `group`; `Err` (how long until the next token) means
    /// over the limit. A rate of 0 means the group is not limited.
    pub fn check(&self, app_id: i64, group: RateGroup) -> Result<(), Duration> {
        self.check_at(app_id, group, Instant::now())
    }

    fn check_at(&self, app_id: i64, group: RateGroup, now: Instant) -> Result<(), Duration> {
        let rate = self.rate(group);
        if !self.config.enabled || rate == 0 {
            return Ok(());
        }
        let rate = f64::from(rate);
        let mut buckets = self.buckets.lock();
        let b = buckets.entry((app_id, group)).or_insert(Bucket {
            tokens: rate,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }

    #[cfg(test)]
    fn allow_at(&self, app_id: i64, group: RateGroup, now: Instant) -> bool {
        self.check_at(app_id, group, now).is_ok()
    }

    #[cfg(test)]
    fn allow(&self, app_id: i64, group: RateGroup) -> bool {
        self.check(app_id, group).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(label: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            label,
            ..RateLimits::default()
        })
    }

    #[test]
    fn burst_then_refill() {
        let l = limiter(3);
        let t0 = Instant::now();
        let got: Vec<bool> = (0..5)
            .map(|_| l.allow_at(1, RateGroup::Label, t0))
            .collect();
        assert_eq!(got, [true, true, true, false, false]);
        // A third of a second refills one token at 3/s.
        let t1 = t0 + Duration::from_millis(340);
        assert!(l.allow_at(1, RateGroup::Label, t1));
        assert!(!l.allow_at(1, RateGroup::Label, t1));
        // Empty: the wait is until the next whole token, a third of a second at most.
        let wait = l.check_at(1, RateGroup::Label, t1).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
    }

    #[test]
    fn apps_and_groups_are_separate() {
        let l = limiter(1);
        let t = Instant::now();
        assert!(l.allow_at(1, RateGroup::Label, t));
        assert!(!l.allow_at(1, RateGroup::Label, t));
        assert!(l.allow_at(2, RateGroup::Label, t));
        assert!(l.allow_at(1, RateGroup::LabelUser, t));
    }

    #[test]
    fn zero_or_disabled_means_unlimited() {
        let l = limiter(0);
        assert!((0..1000).all(|_| l.allow(1, RateGroup::Label)));
        let off = RateLimiter::new(RateLimits {
            enabled: false,
            label: 1,
            ..RateLimits::default()
        });
        assert!((0..1000).all(|_| off.allow(1, RateGroup::Label)));
    }
}
