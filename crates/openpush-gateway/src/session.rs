//! One device connection: welcome, replay of the offline queue (oldest first, before anything
//! live), then live pushes, acks, clicks and heartbeats, until the device leaves or the hub
//! asks the session to close (replaced 4009, too slow 4008, idle 1000, shutdown 1001).
//!
//! The session reads and writes at once: one loop polls the socket for the device's next frame
//! and, when it has something to send, for room to send it. So a device's acks and pings are
//! read (and count as signs of life) during a long replay, and a device that stops reading
//! never holds the session in a write: every wait for the socket also waits for the close
//! request, and writing never loses a frame to a read (a frame is handed to the socket only
//! once the socket has room for it).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{Sink, Stream};
use openpush_core::{DeviceId, Username};
use openpush_store::{Ack, PendingDelivery};

use crate::acks::Report;
use crate::frames::{self, DeliveryRef, Incoming, Outbound, PushFrame};
use crate::hub::ConnShared;
use crate::Gateway;

/// Who is on the other end, as established by the upgrade's authentication.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub app_id: i64,
    pub username: Username,
    pub device: DeviceId,
}

/// Frames handed to the socket between two flushes at most: a burst goes out in few syscalls,
/// and a long one is still flushed as it goes.
const WRITE_BATCH: usize = 64;

/// How long a closing connection gets to take its close frame.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

enum End {
    /// The device closed or the socket failed.
    Gone,
    /// We close with this code.
    Close(u16, &'static str),
}

fn reason(code: u16) -> &'static str {
    match code {
        frames::CLOSE_REPLACED => "replaced by a newer connection",
        frames::CLOSE_TOO_SLOW => "too slow",
        frames::CLOSE_GOING_AWAY => "server shutting down",
        frames::CLOSE_NORMAL => "heartbeat timeout",
        frames::CLOSE_TOO_MANY_DEVICES => "too many devices",
        _ => "closed",
    }
}

fn close_requested(shared: &ConnShared) -> End {
    let code = shared.close_code();
    End::Close(code, reason(code))
}

/// What the socket did while the session waited on it.
enum Io {
    /// A frame from the device (or the end of its stream).
    Read(Option<Result<Message, axum::Error>>),
    /// Room for the next frame.
    Writable(Result<(), axum::Error>),
    /// Everything handed to the socket went out.
    Flushed(Result<(), axum::Error>),
}

/// Waits for the device's next frame and, at the same time, for room for `next` (if there is
/// one) or for the socket to take what it was given (if `flush`). Nothing is lost when the
/// wait ends one way: a frame is only handed over once there is room for it.
///
/// `read_first` says which is looked at first when both are ready; the session alternates it,
/// so a device that sends without pause still gets its frames, and one that is sent much still
/// has its frames read.
async fn wait_io(socket: &mut WebSocket, write: bool, flush: bool, read_first: bool) -> Io {
    poll_fn(|cx| {
        if read_first {
            if let Poll::Ready(m) = std::pin::Pin::new(&mut *socket).poll_next(cx) {
                return Poll::Ready(Io::Read(m));
            }
        }
        if flush {
            if let Poll::Ready(r) = std::pin::Pin::new(&mut *socket).poll_flush(cx) {
                return Poll::Ready(Io::Flushed(r));
            }
        } else if write {
            if let Poll::Ready(r) = std::pin::Pin::new(&mut *socket).poll_ready(cx) {
                return Poll::Ready(Io::Writable(r));
            }
        }
        if !read_first {
            if let Poll::Ready(m) = std::pin::Pin::new(&mut *socket).poll_next(cx) {
                return Poll::Ready(Io::Read(m));
            }
        }
        Poll::Pending
    })
    .await
}

/// The offline queue as the session reads it: page by page, oldest first.
struct Replay {
    page: VecDeque<PendingDelivery>,
    after: Option<i64>,
    /// The last page has been read.
    read_all: bool,
}

/// The frame a session writes next.
enum Next {
    /// A frame of the session's own: welcome, pong.
    Own(Utf8Bytes),
    /// A copy the replay read.
    Replayed(Outbound),
    /// The front of the connection's send queue: it stays there, counting against the queue's
    /// size, until the socket takes it.
    Live(Outbound),
}

/// What a connection remembers of a delivery it sent.
#[derive(Debug, Clone, Copy)]
struct SentDelivery {
    stored: bool,
    task_id: Option<i64>,
    /// An ack of it was counted (online-only deliveries; a stored one counts when the store
    /// removes it).
    arrived: bool,
    clicked: bool,
}

/// The deliveries a connection sent, the newest `cap` of them: the only ones whose acks (of
/// online-only deliveries) and clicks count, once each, for the task the server knows.
struct Sent {
    cap: usize,
    order: VecDeque<i64>,
    by_id: HashMap<i64, SentDelivery>,
}

impl Sent {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            order: VecDeque::new(),
            by_id: HashMap::new(),
        }
    }

    fn record(&mut self, o: &Outbound) {
        if self.cap == 0 || self.by_id.contains_key(&o.id) {
            return;
        }
        if self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
        self.order.push_back(o.id);
        self.by_id.insert(
            o.id,
            SentDelivery {
                stored: o.stored,
                task_id: o.task_id,
                arrived: false,
                clicked: false,
            },
        );
    }

    /// The delivery `r` names, if this connection sent it (stored or not, as the id says).
    fn get(&mut self, r: &DeliveryRef) -> Option<&mut SentDelivery> {
        self.by_id.get_mut(&r.id).filter(|d| d.stored == r.stored)
    }
}

/// A connection's state between the socket and the hub.
struct Conn<'a> {
    info: &'a SessionInfo,
    shared: &'a ConnShared,
    /// The frame to write next, once the socket has room.
    next: Option<Next>,
    /// Frames handed to the socket since the last flush.
    unflushed: usize,
    /// A ping has been handled and its pong not yet sent. Pings that arrive meanwhile are
    /// answered by that one pong: every ack sent before any of them is written by then.
    pong_due: bool,
    /// The replay, until it has sent the last queued copy.
    replay: Option<Replay>,
    /// Delivery ids the replay sent: a live copy of one of them (stored before the replay read
    /// it) is not sent twice.
    replayed: HashSet<i64>,
    sent: Sent,
}

impl Gateway {
    /// Serves one upgraded connection until it ends. Tracked, so shutdown waits for it; a
    /// session still running when shutdown's grace period is over is dropped.
    pub async fn serve(self: Arc<Self>, socket: WebSocket, info: SessionInfo) {
        let gw = self.clone();
        let abort = self.abort.clone();
        self.sessions
            .track_future(async move {
                tokio::select! {
                    () = gw.run(socket, info) => {}
                    () = abort.cancelled() => {}
                }
            })
            .await;
    }

    async fn run(self: Arc<Self>, mut socket: WebSocket, info: SessionInfo) {
        let now = self.clock.now_ms();
        // Registered before the device is recorded (and adopts copies kept for the user's
        // first device) and before its queue is read: a push that commits a copy for it after
        // that finds it connected and sends the copy on this connection.
        let shared = Arc::new(ConnShared::new(now, self.config.send_queue));
        let registration = Registration::new(&self, &info, shared.clone());
        if let Err(e) = self
            .store
            .touch_device(
                info.app_id,
                &info.username,
                &info.device,
                now,
                self.config.max_devices(),
            )
            .await
        {
            tracing::error!(error = %e, "recording a device failed; closing its connection");
            drop(registration);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(close(1011, "internal error")))
                .await;
            return;
        }
        let end = Box::pin(self.session(&mut socket, &info, &shared)).await;
        drop(registration);
        if let End::Close(code, why) = end {
            // A device that does not read gets no more than a moment to take the close frame.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(close(code, why))).await;
        }
    }

    async fn session(
        &self,
        socket: &mut WebSocket,
        info: &SessionInfo,
        shared: &ConnShared,
    ) -> End {
        let welcome = frames::welcome(
            info.device.as_str(),
            self.clock.now_ms(),
            self.config.heartbeat_secs,
            self.max_ids(),
        );
        let mut c = Conn {
            info,
            shared,
            next: Some(Next::Own(welcome.into())),
            unflushed: 0,
            pong_due: false,
            replay: Some(Replay {
                page: VecDeque::new(),
                after: None,
                read_all: false,
            }),
            replayed: HashSet::new(),
            sent: Sent::new(self.config.remembered_deliveries),
        };
        let mut read_first = false;
        loop {
            read_first = !read_first;
            if shared.close_code() != 0 {
                return close_requested(shared);
            }
            if c.next.is_none() {
                if let Err(end) = self.pick_next(&mut c).await {
                    return end;
                }
            }
            let flush = c.unflushed > 0 && (c.next.is_none() || c.unflushed >= WRITE_BATCH);
            let write = c.next.is_some();
            // Live pushes are taken once the replay is over and nothing else waits to go out.
            let idle = c.next.is_none() && c.replay.is_none();
            tokio::select! {
                biased;
                () = shared.closed() => return close_requested(shared),
                io = wait_io(socket, write, flush, read_first) => match io {
                    Io::Read(Some(Ok(msg))) => {
                        shared.last_seen.store(self.clock.now_ms(), Ordering::Relaxed);
                        match msg {
                            Message::Text(t) => {
                                if let Err(end) = Box::pin(self.incoming(&mut c, t.as_str())).await {
                                    return end;
                                }
                            }
                            Message::Close(_) => return End::Gone,
                            // Pings are answered by the WebSocket layer; pongs and binary frames
                            // only count as signs of life.
                            Message::Ping(_) | Message::Pong(_) | Message::Binary(_) => {}
                        }
                    }
                    Io::Read(Some(Err(e))) => return read_failed(e),
                    Io::Read(None) => return End::Gone,
                    Io::Writable(Ok(())) => {
                        let frame = match c.next.take() {
                            Some(Next::Own(f)) => f,
                            Some(Next::Replayed(o)) => {
                                c.sent.record(&o);
                                o.frame
                            }
                            Some(Next::Live(o)) => {
                                shared.pop();
                                c.sent.record(&o);
                                o.frame
                            }
                            None => continue,
                        };
                        if std::pin::Pin::new(&mut *socket)
                            .start_send(Message::Text(frame))
                            .is_err()
                        {
                            return End::Gone;
                        }
                        c.unflushed += 1;
                    }
                    Io::Flushed(Ok(())) => c.unflushed = 0,
                    Io::Writable(Err(_)) | Io::Flushed(Err(_)) => return End::Gone,
                },
                () = shared.queued(), if idle => {}
            }
        }
    }

    /// Chooses the frame to write next: a pong that is due, else the replay's next copy
    /// (reading the next page when one is used up), else the next live push.
    async fn pick_next(&self, c: &mut Conn<'_>) -> Result<(), End> {
        if c.pong_due {
            c.pong_due = false;
            c.next = Some(Next::Own(Utf8Bytes::from_static(frames::PONG)));
            return Ok(());
        }
        if let Some(r) = &mut c.replay {
            if r.page.is_empty() && !r.read_all {
                let page = self
                    .store
                    .pending_for(
                        c.info.app_id,
                        &c.info.username,
                        &c.info.device,
                        r.after,
                        self.clock.now_ms(),
                        self.config.replay_page,
                    )
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "reading the offline queue failed");
                        End::Close(1011, "internal error")
                    })?;
                r.read_all = page.len() < self.config.replay_page as usize;
                r.page = page.into();
            }
            match r.page.pop_front() {
                Some(p) => {
                    r.after = Some(p.id);
                    c.replayed.insert(p.id);
                    let frame = PushFrame {
                        id: p.id,
                        stored: true,
                        task_id: p.message.task_id,
                        push_msg_id: p.message.push_msg_id,
                        message_json: &p.message.body,
                        sent_at: p.message.sent_at,
                        expires_at: p.message.expires_at,
                    };
                    c.next = Some(Next::Replayed(frame.outbound()));
                    return Ok(());
                }
                None => c.replay = None,
            }
        }
        while let Some(o) = c.shared.front() {
            if !c.replayed.is_empty() && c.replayed.remove(&o.id) {
                c.shared.pop();
                continue;
            }
            c.next = Some(Next::Live(o));
            break;
        }
        Ok(())
    }

    /// The most ids one ack frame may carry.
    fn max_ids(&self) -> usize {
        self.config.max_ids_per_frame.max(1)
    }

    /// Handles one text frame of the device. Acks are written before the next frame is read,
    /// so the pong to a later ping means they are written. Acks and clicks count only for
    /// deliveries made to this device: stored copies the store still holds for it, and
    /// deliveries this connection remembers sending.
    async fn incoming(&self, c: &mut Conn<'_>, text: &str) -> Result<(), End> {
        let frame: Incoming = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring an unknown frame");
                return Ok(());
            }
        };
        let info = c.info;
        match frame {
            Incoming::Ping => c.pong_due = true,
            Incoming::Ack { ids } => {
                if ids.len() > self.max_ids() {
                    return Err(End::Close(frames::CLOSE_POLICY, "too many ids"));
                }
                let mut report = Report {
                    app_id: info.app_id,
                    ..Report::default()
                };
                // Anything that is not one of our delivery ids is ignored.
                for r in ids.iter().filter_map(|s| DeliveryRef::parse(s)) {
                    let sent = c.sent.get(&r);
                    if r.stored {
                        report.acks.push(Ack {
                            app_id: info.app_id,
                            username: info.username.clone(),
                            device_id: info.device.as_str().to_owned(),
                            id: r.id,
                        });
                    } else if let Some(d) = sent.filter(|d| !d.arrived) {
                        d.arrived = true;
                        report.arrived.push(d.task_id);
                    }
                }
                self.acks.report(report).await;
            }
            Incoming::Click { id } => {
                let sent = DeliveryRef::parse(&id).and_then(|r| c.sent.get(&r));
                if let Some(d) = sent.filter(|d| !d.clicked) {
                    d.clicked = true;
                    let clicked = vec![d.task_id];
                    self.acks
                        .report(Report {
                            app_id: info.app_id,
                            clicked,
                            ..Report::default()
                        })
                        .await;
                }
            }
        }
        Ok(())
    }
}

/// How a failed read ends the session: a frame over the size limit gets close 1009 (if the
/// device still reads), anything else means the device is gone.
fn read_failed(e: axum::Error) -> End {
    use tokio_tungstenite::tungstenite::Error;
    match e.into_inner().downcast::<Error>() {
        Ok(e) if matches!(*e, Error::Capacity(_)) => {
            End::Close(frames::CLOSE_TOO_BIG, "frame too large")
        }
        _ => End::Gone,
    }
}

/// A connection's place in the hub, given up when the session ends (or is dropped at
/// shutdown): sends find the device offline from then on.
struct Registration<'a> {
    gw: &'a Gateway,
    info: &'a SessionInfo,
    shared: Arc<ConnShared>,
    conn_id: u64,
}

impl<'a> Registration<'a> {
    fn new(gw: &'a Gateway, info: &'a SessionInfo, shared: Arc<ConnShared>) -> Self {
        let conn_id = gw.hub.register(
            info.app_id,
            info.username.as_str(),
            info.device.as_str(),
            shared.clone(),
        );
        Self {
            gw,
            info,
            shared,
            conn_id,
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shared.mark_gone();
        self.gw
            .hub
            .unregister(self.info.app_id, self.info.username.as_str(), self.conn_id);
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}
