//! HTTP/2 connections to one vendor host, opened as the load needs them.
//!
//! One HTTP/2 connection carries at most the server's `SETTINGS_MAX_CONCURRENT_STREAMS`
//! requests at once (APNs: 1,000), so at a 150 ms round trip one connection tops out near
//! 6,700 requests per second. The pool holds up to `max` connections (each a client of its
//! own, so each is its own TCP connection, opened on first use): a request goes to the first
//! connection with a free stream, and the next connection is opened only when every one before
//! it is full. A light load stays on one connection, as vendors prefer.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The connections of one vendor client.
#[derive(Debug)]
pub struct H2Pool {
    conns: Vec<Conn>,
    streams: usize,
}

#[derive(Debug)]
struct Conn {
    http: reqwest::Client,
    in_flight: AtomicUsize,
    used: std::sync::atomic::AtomicBool,
}

/// A stream taken on one connection; dropping it frees the stream.
#[derive(Debug)]
pub struct Stream<'a> {
    conn: &'a Conn,
}

impl Stream<'_> {
    pub fn http(&self) -> &reqwest::Client {
        &self.conn.http
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl H2Pool {
    /// Up to `max` connections (at least 1), each carrying up to `streams` requests at once,
    /// built by `build`.
    pub fn new<E>(
        max: usize,
        streams: usize,
        build: impl Fn() -> Result<reqwest::Client, E>,
    ) -> Result<Self, E> {
        let conns = (0..max.max(1))
            .map(|_| {
                Ok(Conn {
                    http: build()?,
                    in_flight: AtomicUsize::new(0),
                    used: std::sync::atomic::AtomicBool::new(false),
                })
            })
            .collect::<Result<Vec<_>, E>>()?;
        Ok(Self {
            conns,
            streams: streams.max(1),
        })
    }

    /// A stream on the first connection with one free, else on the least busy connection.
    pub fn stream(&self) -> Stream<'_> {
        let conn = self
            .conns
            .iter()
            .find(|c| c.in_flight.load(Ordering::Acquire) < self.streams)
            .unwrap_or_else(|| {
                self.conns
                    .iter()
                    .min_by_key(|c| c.in_flight.load(Ordering::Acquire))
                    .expect("a pool has at least one connection")
            });
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.used.store(true, Ordering::Relaxed);
        Stream { conn }
    }

    /// How many of the connections have carried a request.
    pub fn connections_used(&self) -> usize {
        self.conns
            .iter()
            .filter(|c| c.used.load(Ordering::Relaxed))
            .count()
    }

    /// Requests that may be in flight at once: every connection full.
    pub fn capacity(&self) -> usize {
        self.conns.len() * self.streams
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_one_connection_before_opening_the_next() {
        let pool = H2Pool::new(3, 2, || Ok::<_, ()>(reqwest::Client::new())).unwrap();
        let a = pool.stream();
        let b = pool.stream();
        assert_eq!(pool.connections_used(), 1, "two streams fit on the first");
        let c = pool.stream();
        assert_eq!(pool.connections_used(), 2);
        drop(a);
        // A freed stream on the first connection is used before the second's.
        let d = pool.stream();
        assert!(std::ptr::eq(d.conn, b.conn));
        let _more: Vec<_> = (0..4).map(|_| pool.stream()).collect();
        assert_eq!(pool.connections_used(), 3);
        assert_eq!(pool.capacity(), 6);
        drop((c, d));
    }
}
