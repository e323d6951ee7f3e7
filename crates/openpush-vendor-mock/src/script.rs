//! Scripted behaviour shared by the mocks: per-token outcomes, "the next N requests" and "every
//! request" faults, and added latency. Outcomes are applied only to requests that passed the
//! vendor's own checks (auth, headers, body), so a scripted fault never hides a malformed request.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use parking_lot::Mutex;

#[derive(Debug)]
pub(crate) struct Script<O> {
    inner: Mutex<Inner<O>>,
}

#[derive(Debug)]
struct Inner<O> {
    per_token: HashMap<String, O>,
    next: VecDeque<O>,
    all: Option<O>,
    latency: Duration,
    token_latency: HashMap<String, Duration>,
}

impl<O: Clone> Script<O> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                per_token: HashMap::new(),
                next: VecDeque::new(),
                all: None,
                latency: Duration::ZERO,
                token_latency: HashMap::new(),
            }),
        }
    }

    pub(crate) fn set_token(&self, token: &str, outcome: Option<O>) {
        let mut g = self.inner.lock();
        match outcome {
            Some(o) => g.per_token.insert(token.to_owned(), o),
            None => g.per_token.remove(token),
        };
    }

    pub(crate) fn fail_next(&self, n: usize, outcome: O) {
        let mut g = self.inner.lock();
        g.next.extend(std::iter::repeat_n(outcome, n));
    }

    pub(crate) fn fail_all(&self, outcome: Option<O>) {
        self.inner.lock().all = outcome;
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        self.inner.lock().latency = d;
    }

    pub(crate) fn set_token_latency(&self, token: &str, d: Option<Duration>) {
        let mut g = self.inner.lock();
        match d {
            Some(d) => g.token_latency.insert(token.to_owned(), d),
            None => g.token_latency.remove(token),
        };
    }

    pub(crate) fn reset(&self) {
        let mut g = self.inner.lock();
        g.per_token.clear();
        g.next.clear();
        g.all = None;
        g.latency = Duration::ZERO;
        g.token_latency.clear();
    }

    /// The latency to add for this token (global + per-token).
    pub(crate) fn latency(&self, token: Option<&str>) -> Duration {
        let g = self.inner.lock();
        g.latency
            + token
                .and_then(|t| g.token_latency.get(t).copied())
                .unwrap_or_default()
    }

    /// The outcome for a request that passed validation: a queued "next" fault first, then the
    /// global fault, then the token's own outcome. `None` = deliver normally.
    pub(crate) fn outcome(&self, token: Option<&str>) -> Option<O> {
        let mut g = self.inner.lock();
        if let Some(o) = g.next.pop_front() {
            return Some(o);
        }
        if let Some(o) = &g.all {
            return Some(o.clone());
        }
        token.and_then(|t| g.per_token.get(t).cloned())
    }
}

/// What a mock accepted: a count of everything, and the newest `limit` items kept for
/// assertions (so a long benchmark does not grow memory without bound).
#[derive(Debug)]
pub(crate) struct Recorder<T> {
    items: Mutex<VecDeque<T>>,
    accepted: std::sync::atomic::AtomicU64,
    limit: usize,
}

impl<T: Clone> Recorder<T> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
            accepted: std::sync::atomic::AtomicU64::new(0),
            limit,
        }
    }

    pub(crate) fn record(&self, item: T) {
        self.accepted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.limit == 0 {
            return;
        }
        let mut g = self.items.lock();
        if g.len() >= self.limit {
            g.pop_front();
        }
        g.push_back(item);
    }

    pub(crate) fn snapshot(&self) -> Vec<T> {
        self.items.lock().iter().cloned().collect()
    }

    pub(crate) fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.items.lock()).into()
    }

    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.items.lock().clear();
        self.accepted.store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_keeps_the_newest_and_counts_all() {
        let r = Recorder::new(2);
        for i in 0..5 {
            r.record(i);
        }
        assert_eq!(r.snapshot(), vec![3, 4]);
        assert_eq!(r.accepted(), 5);
        assert_eq!(r.take(), vec![3, 4]);
        assert_eq!((r.snapshot(), r.accepted()), (vec![], 5));
        r.clear();
        assert_eq!(r.accepted(), 0);
    }

    #[test]
    fn script_order_is_next_then_all_then_token() {
        let s = Script::new();
        s.set_token("t", Some(1));
        s.fail_all(Some(2));
        s.fail_next(1, 3);
        assert_eq!(s.outcome(Some("t")), Some(3));
        assert_eq!(s.outcome(Some("t")), Some(2));
        s.fail_all(None);
        assert_eq!(s.outcome(Some("t")), Some(1));
        assert_eq!(s.outcome(Some("u")), None);
        s.set_latency(Duration::from_millis(5));
        s.set_token_latency("t", Some(Duration::from_millis(7)));
        assert_eq!(s.latency(Some("t")), Duration::from_millis(12));
        s.reset();
        assert_eq!(
            (s.outcome(Some("t")), s.latency(Some("t"))),
            (None, Duration::ZERO)
        );
    }
}
