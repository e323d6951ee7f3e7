//! One device connection: welcome, replay of the offline queue (oldest first, before anything
//! live), then live pushes, acks, clicks and heartbeats, until the device leaves or the hub
//! asks the session to close (replaced 4009, too slow 4008, idle 1000, shutdown 1001).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use openpush_core::{DeviceId, Username};
use openpush_store::Ack;

use crate::acks::Report;
use crate::frames::{self, DeliveryRef, Incoming, PushFrame};
use crate::hub::ConnShared;
use crate::Gateway;

/// Who is on the other end, as established by the upgrade's authentication.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub app_id: i64,
    pub username: Username,
    pub device: DeviceId,
}

/// Notifications written per flush at most.
const WRITE_BATCH: usize = 64;

/// How long a closing connection gets to take its close frame.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes everything queued, flushing every [`WRITE_BATCH`] frames: one syscall for a burst
/// instead of one per notification. Deliveries the replay already sent are skipped. `false`
/// if the socket failed.
async fn write_queued(
    socket: &mut WebSocket,
    shared: &ConnShared,
    replayed: &mut HashSet<i64>,
) -> bool {
    let mut pending = 0;
    while let Some((id, frame)) = shared.pop() {
        let duplicate = !replayed.is_empty() && replayed.remove(&id);
        if duplicate {
            continue;
        }
        if socket.feed(Message::Text(frame)).await.is_err() {
            return false;
        }
        pending += 1;
        if pending == WRITE_BATCH {
            if socket.flush().await.is_err() {
                return false;
            }
            pending = 0;
        }
    }
    pending == 0 || socket.flush().await.is_ok()
}

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
        _ => "closed",
    }
}

impl Gateway {
    /// Serves one upgraded connection until it ends. Tracked, so shutdown waits for it.
    pub async fn serve(self: Arc<Self>, socket: WebSocket, info: SessionInfo) {
        let gw = self.clone();
        self.sessions.track_future(gw.run(socket, info)).await;
    }

    async fn run(self: Arc<Self>, mut socket: WebSocket, info: SessionInfo) {
        let now = self.clock.now_ms();
        if let Err(e) = self
            .store
            .touch_device(info.app_id, &info.username, &info.device, now)
            .await
        {
            tracing::error!(error = %e, "recording a device failed; closing its connection");
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(close(1011, "internal error")))
                .await;
            return;
        }
        let shared = Arc::new(ConnShared::new(now, self.config.send_queue));
        let user = info.username.as_str();
        let conn_id = self
            .hub
            .register(info.app_id, user, info.device.as_str(), shared.clone());
        let end = self.session(&mut socket, &info, &shared).await;
        shared.mark_gone();
        self.hub.unregister(info.app_id, user, conn_id);
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
        );
        if socket.send(Message::Text(welcome.into())).await.is_err() {
            return End::Gone;
        }
        // The replay and the handling of device frames are boxed: they are rare next to the
        // idle wait, and keeping their state out of this future keeps every idle connection
        // small.
        let mut replayed = match Box::pin(self.replay(socket, info, shared)).await {
            Ok(r) => r,
            Err(end) => return end,
        };
        loop {
            tokio::select! {
                biased;
                () = shared.closed() => {
                    let code = shared.close_code();
                    return End::Close(code, reason(code));
                }
                incoming = socket.recv() => {
                    let Some(Ok(msg)) = incoming else { return End::Gone };
                    shared.last_seen.store(self.clock.now_ms(), Ordering::Relaxed);
                    match msg {
                        Message::Text(t) => {
                            if let Err(end) = Box::pin(self.incoming(socket, info, t.as_str())).await {
                                return end;
                            }
                        }
                        Message::Close(_) => return End::Gone,
                        // Pings are answered by the WebSocket layer; pongs only count as life.
                        Message::Ping(_) | Message::Pong(_) | Message::Binary(_) => {}
                    }
                }
                () = shared.queued() => {
                    // A device that stops reading must not hold the session in a write: the
                    // write races the close request (4008, 1001, 4009).
                    let wrote = tokio::select! {
                        ok = write_queued(socket, shared, &mut replayed) => ok,
                        () = shared.closed() => {
                            let code = shared.close_code();
                            return End::Close(code, reason(code));
                        }
                    };
                    if !wrote {
                        return End::Gone;
                    }
                }
            }
        }
    }

    /// Sends the device's queued deliveries, oldest first, page by page. Live pushes queue up
    /// meanwhile; the ids replayed are returned so that a live copy of one of them (stored
    /// before the replay read it) is not sent twice.
    async fn replay(
        &self,
        socket: &mut WebSocket,
        info: &SessionInfo,
        shared: &ConnShared,
    ) -> Result<HashSet<i64>, End> {
        let mut replayed: HashSet<i64> = HashSet::new();
        let mut after = None;
        loop {
            if shared.close_code() != 0 {
                let code = shared.close_code();
                return Err(End::Close(code, reason(code)));
            }
            let page = self
                .store
                .pending_for(
                    info.app_id,
                    &info.username,
                    &info.device,
                    after,
                    self.clock.now_ms(),
                    self.config.replay_page,
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "reading the offline queue failed");
                    End::Close(1011, "internal error")
                })?;
            let last = page.len() < self.config.replay_page as usize;
            for p in &page {
                let frame = PushFrame {
                    id: p.id,
                    stored: true,
                    task_id: p.message.task_id,
                    push_msg_id: p.message.push_msg_id,
                    message_json: &p.message.body,
                    sent_at: p.message.sent_at,
                    expires_at: p.message.expires_at,
                };
                let sent = tokio::select! {
                    r = socket.send(Message::Text(frame.to_json().into())) => r.is_ok(),
                    () = shared.closed() => {
                        let code = shared.close_code();
                        return Err(End::Close(code, reason(code)));
                    }
                };
                if !sent {
                    return Err(End::Gone);
                }
                replayed.insert(p.id);
                after = Some(p.id);
            }
            if last {
                return Ok(replayed);
            }
        }
    }

    async fn incoming(
        &self,
        socket: &mut WebSocket,
        info: &SessionInfo,
        text: &str,
    ) -> Result<(), End> {
        let frame: Incoming = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring an unknown frame");
                return Ok(());
            }
        };
        match frame {
            Incoming::Ping => socket
                .send(Message::Text(frames::PONG.into()))
                .await
                .map_err(|_| End::Gone),
            Incoming::Ack { ids } => {
                let mut report = Report {
                    app_id: info.app_id,
                    ..Report::default()
                };
                // Anything that is not one of our delivery ids is ignored.
                for r in ids.iter().filter_map(|s| DeliveryRef::parse(s)) {
                    if r.stored {
                        let ack = Ack {
                            app_id: info.app_id,
                            username: info.username.clone(),
                            device_id: info.device.as_str().to_owned(),
                            id: r.id,
                        };
                        report.acks.push((ack, r.task_id));
                    } else {
                        report.arrived.push(r.task_id);
                    }
                }
                self.acks.report(report).await;
                Ok(())
            }
            Incoming::Click { id } => {
                if let Some(r) = DeliveryRef::parse(&id) {
                    self.acks
                        .report(Report {
                            app_id: info.app_id,
                            clicked: vec![r.task_id],
                            ..Report::default()
                        })
                        .await;
                }
                Ok(())
            }
        }
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}
