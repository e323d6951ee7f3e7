//! The connection hub: who is connected, sharded by (app, user) so that lookups on the push
//! path contend only within a shard. No lock is held across an await: every operation here is
//! synchronous.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

pub use crate::frames::Outbound;

/// What a session and the hub share about one connection: its send queue, its close request
/// and when it was last heard from.
///
/// The queue is a plain deque that allocates on first use and gives its memory back once it
/// drains: an idle connection holds no queue memory at all (a channel would hold a block).
#[derive(Debug)]
pub(crate) struct ConnShared {
    /// The close code asked for, 0 while the connection may stay.
    close_code: AtomicU16,
    wake: Notify,
    queue: Mutex<VecDeque<Outbound>>,
    queue_cap: usize,
    queued: Notify,
    /// Set when the session has ended: sends find the device offline.
    gone: AtomicBool,
    /// Last time (clock ms) the device sent anything.
    pub(crate) last_seen: AtomicI64,
}

/// What became of one push into a connection's queue.
enum Queued {
    Yes,
    Full,
    Gone,
}

impl ConnShared {
    pub(crate) fn new(now_ms: i64, queue_cap: usize) -> Self {
        Self {
            close_code: AtomicU16::new(0),
            wake: Notify::new(),
            queue: Mutex::new(VecDeque::new()),
            queue_cap: queue_cap.max(1),
            queued: Notify::new(),
            gone: AtomicBool::new(false),
            last_seen: AtomicI64::new(now_ms),
        }
    }

    fn push(&self, item: Outbound) -> Queued {
        if self.gone.load(Ordering::Acquire) {
            return Queued::Gone;
        }
        let mut q = self.queue.lock();
        if q.len() >= self.queue_cap {
            return Queued::Full;
        }
        q.push_back(item);
        drop(q);
        self.queued.notify_one();
        Queued::Yes
    }

    /// The next queued item, left in the queue (it counts against the queue's size until it is
    /// taken).
    pub(crate) fn front(&self) -> Option<Outbound> {
        self.queue.lock().front().cloned()
    }

    /// Takes the next queued item, if any.
    pub(crate) fn pop(&self) -> Option<Outbound> {
        let mut q = self.queue.lock();
        let item = q.pop_front();
        if q.is_empty() && q.capacity() > 16 {
            *q = VecDeque::new();
        }
        item
    }

    /// Resolves when something may have been queued.
    pub(crate) async fn queued(&self) {
        self.queued.notified().await;
    }

    pub(crate) fn mark_gone(&self) {
        self.gone.store(true, Ordering::Release);
        self.queue.lock().clear();
    }

    /// Asks the session to close with `code`. The first request wins.
    pub(crate) fn close(&self, code: u16) {
        if self
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // notify_one keeps a permit if the session is not waiting right now.
            self.wake.notify_one();
        }
    }

    pub(crate) fn close_code(&self) -> u16 {
        self.close_code.load(Ordering::Acquire)
    }

    pub(crate) async fn closed(&self) {
        self.wake.notified().await;
    }
}

#[derive(Debug, Clone)]
struct Conn {
    id: u64,
    device_id: Arc<str>,
    shared: Arc<ConnShared>,
}

type Shard = HashMap<i64, HashMap<Box<str>, Vec<Conn>>>;

/// Where a send went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Queued,
    /// No connection of that device on this node.
    Offline,
    /// Its queue was full: the connection is being closed with 4008.
    TooSlow,
}

#[derive(Debug)]
pub struct Hub {
    shards: Box<[RwLock<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    next_id: AtomicU64,
    /// Connections one user may have at once.
    max_per_user: usize,
}

impl Hub {
    /// A hub of `shards` shards where a user has at most `max_per_user` connections.
    pub fn new(shards: usize, max_per_user: u32) -> Self {
        let n = shards.max(1);
        Self {
            shards: (0..n).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            next_id: AtomicU64::new(1),
            max_per_user: usize::try_from(max_per_user.max(1)).unwrap_or(usize::MAX),
        }
    }

    fn shard(&self, app_id: i64, user: &str) -> &RwLock<Shard> {
        let mut h = self.hasher.build_hasher();
        app_id.hash(&mut h);
        user.hash(&mut h);
        &self.shards[(h.finish() as usize) % self.shards.len()]
    }

    /// Adds a connection; an older connection of the same device is told to close (4009). A
    /// user already at the cap loses the connection heard from least recently (4010), so the
    /// work of a push to one user stays bounded.
    pub(crate) fn register(
        &self,
        app_id: i64,
        user: &str,
        device_id: &str,
        shared: Arc<ConnShared>,
    ) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Conn {
            id,
            device_id: Arc::from(device_id),
            shared,
        };
        let mut shard = self.shard(app_id, user).write();
        let conns = shard
            .entry(app_id)
            .or_default()
            .entry(user.into())
            .or_default();
        if let Some(i) = conns.iter().position(|c| &*c.device_id == device_id) {
            let old = conns.swap_remove(i);
            old.shared.close(crate::frames::CLOSE_REPLACED);
        }
        while conns.len() >= self.max_per_user {
            let Some(i) = conns
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.shared.last_seen.load(Ordering::Relaxed))
                .map(|(i, _)| i)
            else {
                break;
            };
            let old = conns.swap_remove(i);
            old.shared.close(crate::frames::CLOSE_TOO_MANY_DEVICES);
        }
        conns.push(conn);
        id
    }

    /// Removes a connection (if it is still the registered one).
    pub(crate) fn unregister(&self, app_id: i64, user: &str, conn_id: u64) {
        let mut shard = self.shard(app_id, user).write();
        if let Some(users) = shard.get_mut(&app_id) {
            if let Some(conns) = users.get_mut(user) {
                conns.retain(|c| c.id != conn_id);
                if conns.is_empty() {
                    users.remove(user);
                }
            }
            if users.is_empty() {
                shard.remove(&app_id);
            }
        }
    }

    /// The devices of `user` connected to this node.
    pub fn online_devices(&self, app_id: i64, user: &str) -> Vec<Arc<str>> {
        let shard = self.shard(app_id, user).read();
        shard
            .get(&app_id)
            .and_then(|u| u.get(user))
            .map(|c| c.iter().map(|c| c.device_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Queues a frame for one device without waiting. A full queue closes the connection
    /// (4008): a device that cannot keep up reconnects and replays what it has not acked.
    pub fn send(&self, app_id: i64, user: &str, device_id: &str, item: Outbound) -> Delivered {
        let shard = self.shard(app_id, user).read();
        let Some(conn) = shard
            .get(&app_id)
            .and_then(|u| u.get(user))
            .and_then(|c| c.iter().find(|c| &*c.device_id == device_id))
        else {
            return Delivered::Offline;
        };
        match conn.shared.push(item) {
            Queued::Yes => Delivered::Queued,
            Queued::Full => {
                conn.shared.close(crate::frames::CLOSE_TOO_SLOW);
                Delivered::TooSlow
            }
            Queued::Gone => Delivered::Offline,
        }
    }

    /// Connections on this node.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .values()
                    .flat_map(|u| u.values())
                    .map(Vec::len)
                    .sum::<usize>()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks every connection of one user on this node to close with `code` (its tokens were
    /// revoked, say); returns how many were asked.
    pub fn close_user(&self, app_id: i64, user: &str, code: u16) -> usize {
        let shard = self.shard(app_id, user).read();
        let conns = shard.get(&app_id).and_then(|u| u.get(user));
        for c in conns.into_iter().flatten() {
            c.shared.close(code);
        }
        conns.map_or(0, Vec::len)
    }

    /// Asks every connection on this node to close with `code`.
    pub fn close_all(&self, code: u16) {
        for s in self.shards.iter() {
            for conns in s.read().values().flat_map(|u| u.values()) {
                for c in conns {
                    c.shared.close(code);
                }
            }
        }
    }

    /// Closes connections last heard from before `cutoff_ms`; returns how many.
    pub(crate) fn close_idle(&self, cutoff_ms: i64) -> usize {
        let mut n = 0;
        for s in self.shards.iter() {
            for conns in s.read().values().flat_map(|u| u.values()) {
                for c in conns {
                    if c.shared.last_seen.load(Ordering::Relaxed) < cutoff_ms {
                        c.shared.close(crate::frames::CLOSE_NORMAL);
                        n += 1;
                    }
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64) -> Outbound {
        Outbound {
            id,
            stored: true,
            task_id: None,
            frame: "x".into(),
        }
    }

    fn conn(
        hub: &Hub,
        user: &str,
        dev: &str,
        cap: usize,
    ) -> (u64, Arc<ConnShared>, Arc<ConnShared>) {
        let shared = Arc::new(ConnShared::new(0, cap));
        let id = hub.register(1, user, dev, shared.clone());
        (id, shared.clone(), shared)
    }

    #[test]
    fn register_replace_send_unregister() {
        let hub = Hub::new(4, 20);
        let (id1, _rx1, s1) = conn(&hub, "u", "d", 4);
        let (_id2, rx2, s2) = conn(&hub, "u", "d", 4);
        assert_eq!(s1.close_code(), crate::frames::CLOSE_REPLACED);
        assert_eq!(s2.close_code(), 0);
        assert_eq!(hub.len(), 1);
        assert_eq!(hub.send(1, "u", "d", item(7)), Delivered::Queued);
        assert_eq!(rx2.pop().unwrap().id, 7);
        assert!(rx2.pop().is_none());
        // A session that has ended takes nothing more.
        rx2.mark_gone();
        assert_eq!(hub.send(1, "u", "d", item(9)), Delivered::Offline);
        s2.gone.store(false, Ordering::Release);
        assert_eq!(hub.send(1, "u", "other", item(8)), Delivered::Offline);
        // The replaced connection unregistering does not remove the new one.
        hub.unregister(1, "u", id1);
        assert_eq!(hub.online_devices(1, "u").len(), 1);
    }

    #[test]
    fn a_user_over_the_cap_loses_the_connection_heard_from_least_recently() {
        let hub = Hub::new(4, 3);
        let conns: Vec<_> = (0..3)
            .map(|i| conn(&hub, "u", &format!("d{i}"), 4))
            .collect();
        for (i, (_, _, s)) in conns.iter().enumerate() {
            s.last_seen.store(10 + i as i64, Ordering::Relaxed);
        }
        // d0 is heard from again: d1 is now the least recent.
        conns[0].2.last_seen.store(50, Ordering::Relaxed);
        let (_, _, d3) = conn(&hub, "u", "d3", 4);
        let closed: Vec<u16> = conns.iter().map(|(_, _, s)| s.close_code()).collect();
        assert_eq!(closed, [0, crate::frames::CLOSE_TOO_MANY_DEVICES, 0]);
        assert_eq!(d3.close_code(), 0);
        assert_eq!(hub.online_devices(1, "u").len(), 3);
        // Other users are not affected.
        let (_, _, other) = conn(&hub, "v", "d0", 4);
        assert_eq!(other.close_code(), 0);
        assert_eq!(hub.len(), 4);
    }

    #[test]
    fn a_full_queue_closes_with_4008() {
        let hub = Hub::new(1, 20);
        let (_id, _rx, shared) = conn(&hub, "u", "d", 1);
        assert_eq!(hub.send(1, "u", "d", item(1)), Delivered::Queued);
        assert_eq!(hub.send(1, "u", "d", item(2)), Delivered::TooSlow);
        assert_eq!(shared.close_code(), crate::frames::CLOSE_TOO_SLOW);
    }

    #[test]
    fn idle_and_shutdown_close() {
        let hub = Hub::new(2, 20);
        let (_a, _ra, sa) = conn(&hub, "a", "d", 1);
        let (_b, _rb, sb) = conn(&hub, "b", "d", 1);
        sb.last_seen.store(100, Ordering::Relaxed);
        assert_eq!(hub.close_idle(50), 1);
        assert_eq!(sa.close_code(), crate::frames::CLOSE_NORMAL);
        hub.close_all(crate::frames::CLOSE_GOING_AWAY);
        assert_eq!(sb.close_code(), crate::frames::CLOSE_GOING_AWAY);
    }

    #[test]
    fn close_user_closes_only_that_users_devices() {
        let hub = Hub::new(2, 20);
        let (_a1, _r1, a1) = conn(&hub, "a", "d1", 1);
        let (_a2, _r2, a2) = conn(&hub, "a", "d2", 1);
        let (_b, _rb, b) = conn(&hub, "b", "d1", 1);
        assert_eq!(hub.close_user(1, "a", crate::frames::CLOSE_BAD_TOKEN), 2);
        assert_eq!(a1.close_code(), crate::frames::CLOSE_BAD_TOKEN);
        assert_eq!(a2.close_code(), crate::frames::CLOSE_BAD_TOKEN);
        assert_eq!(b.close_code(), 0);
        assert_eq!(
            hub.close_user(1, "nobody", crate::frames::CLOSE_BAD_TOKEN),
            0
        );
        assert_eq!(hub.close_user(2, "b", crate::frames::CLOSE_BAD_TOKEN), 0);
    }
}
