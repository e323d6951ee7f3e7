//! 64-bit, unique, time-ordered ids (task ids, notification ids), serialised as JSON numbers
//! as Easemob does.
//!
//! Layout (snowflake-like, always positive in an `i64`):
//! `41 bits ms since 2020-01-01 | 10 bits node | 12 bits sequence`.
//! One generator per node; the node number comes from configuration in cluster mode.

use parking_lot::Mutex;

use crate::Clock;

const EPOCH_MS: i64 = 1_577_836_800_000; // 2020-01-01T00:00:00Z
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const MAX_SEQ: i64 = (1 << SEQ_BITS) - 1;

#[derive(Debug)]
pub struct IdGenerator {
    node: i64,
    state: Mutex<(i64, i64)>, // (last ms, sequence)
}

impl IdGenerator {
    /// `node` is taken modulo 1024.
    pub fn new(node: u16) -> Self {
        Self {
            node: i64::from(node) & ((1 << NODE_BITS) - 1),
            state: Mutex::new((0, 0)),
        }
    }

    /// The next id. Never repeats and never goes backwards, even if the clock does: a clock
    /// step backwards keeps using the last millisecond and its sequence.
    pub fn next(&self, clock: &dyn Clock) -> i64 {
        let now = clock.now_ms().max(EPOCH_MS) - EPOCH_MS;
        let mut st = self.state.lock();
        let (mut ms, mut seq) = *st;
        if now > ms {
            ms = now;
            seq = 0;
        } else {
            seq += 1;
            if seq > MAX_SEQ {
                // Sequence exhausted in this millisecond: borrow the next one.
                ms += 1;
                seq = 0;
            }
        }
        *st = (ms, seq);
        (ms << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | seq
    }

    /// The creation time (epoch ms) encoded in an id.
    pub fn timestamp_of(id: i64) -> i64 {
        (id >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    #[test]
    fn ids_are_unique_and_increasing_even_in_one_millisecond() {
        let clock = ManualClock::new(1_700_000_000_000);
        let g = IdGenerator::new(3);
        let mut last = 0;
        for _ in 0..10_000 {
            let id = g.next(&clock);
            assert!(id > last);
            last = id;
        }
        clock.advance_ms(-5_000); // clock goes backwards
        assert!(g.next(&clock) > last);
    }

    #[test]
    fn timestamp_round_trips() {
        let clock = ManualClock::new(1_700_000_000_123);
        let g = IdGenerator::new(1);
        let id = g.next(&clock);
        assert_eq!(IdGenerator::timestamp_of(id), 1_700_000_000_123);
        assert!(id > 0);
    }
}
