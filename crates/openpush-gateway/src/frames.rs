//! The JSON frames of the Easemob channel and the close codes the server sends
//! (docs/device-protocol.md).

use axum::extract::ws::Utf8Bytes;
use serde::Deserialize;

pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// A frame broke a limit of the protocol (more ids than `max_ids`).
pub const CLOSE_POLICY: u16 = 1008;
/// A frame larger than the server reads.
pub const CLOSE_TOO_BIG: u16 = 1009;
pub const CLOSE_BAD_TOKEN: u16 = 4001;
pub const CLOSE_TOO_SLOW: u16 = 4008;
pub const CLOSE_REPLACED: u16 = 4009;
/// The user connected more devices than it may have at once; this one was the least recently
/// heard from.
pub const CLOSE_TOO_MANY_DEVICES: u16 = 4010;

/// A notification for one device. The message body is the stored pushMessage JSON, spliced
/// in as is (it was validated and serialised when the push was accepted).
#[derive(Debug, Clone, Copy)]
pub struct PushFrame<'a> {
    pub id: i64,
    /// Whether the delivery is in the offline queue. Deliveries that are not (online-only
    /// pushes) get ids prefixed with `o`: a device acks them like any other, and the server
    /// knows without a lookup that there is nothing to remove.
    pub stored: bool,
    pub task_id: Option<i64>,
    pub push_msg_id: Option<i64>,
    pub message_json: &'a str,
    pub sent_at: i64,
    pub expires_at: i64,
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "null".to_owned(), |n| n.to_string())
}

/// A notification queued for a connection: its frame, and what the session must know of it
/// without parsing the frame (to skip a copy the replay sent, and to count the device's ack
/// and click of it only if it was sent on this connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub id: i64,
    pub stored: bool,
    pub task_id: Option<i64>,
    pub frame: Utf8Bytes,
}

impl PushFrame<'_> {
    /// The frame as queued for a connection.
    pub fn outbound(&self) -> Outbound {
        Outbound {
            id: self.id,
            stored: self.stored,
            task_id: self.task_id,
            frame: self.to_json().into(),
        }
    }

    pub fn to_json(&self) -> String {
        format!(
            r#"{{"type":"push","id":"{}","task_id":{},"push_msg_id":{},"message":{},"sent_at":{},"expires_at":{}}}"#,
            DeliveryRef {
                id: self.id,
                stored: self.stored,
                task_id: self.task_id
            },
            opt(self.task_id),
            opt(self.push_msg_id),
            self.message_json,
            self.sent_at,
            self.expires_at
        )
    }
}

/// What a delivery id says: `[o]ID[tTASK]`. `o` marks an online-only delivery (nothing stored
/// to remove on ack); `tTASK` names the task it belongs to. Devices treat the whole string as
/// opaque, and the server trusts no part of an id a device sends back: an ack or click counts
/// only for a delivery the server made to that device, and for the task the server knows it
/// belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRef {
    pub id: i64,
    pub stored: bool,
    pub task_id: Option<i64>,
}

impl DeliveryRef {
    pub fn parse(s: &str) -> Option<Self> {
        let (stored, rest) = match s.strip_prefix('o') {
            Some(r) => (false, r),
            None => (true, s),
        };
        let (id, task_id) = match rest.split_once('t') {
            Some((id, task)) => (id, Some(task.parse().ok()?)),
            None => (rest, None),
        };
        Some(Self {
            id: id.parse().ok()?,
            stored,
            task_id,
        })
    }
}

impl std::fmt::Display for DeliveryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.stored {
            f.write_str("o")?;
        }
        write!(f, "{}", self.id)?;
        if let Some(t) = self.task_id {
            write!(f, "t{t}")?;
        }
        Ok(())
    }
}

/// The first frame of a connection: who it is, the server's clock, the heartbeat, and the most
/// ids an ack frame may carry.
pub fn welcome(device_id: &str, server_time: i64, heartbeat_s: u64, max_ids: usize) -> String {
    serde_json::json!({
        "type": "welcome",
        "device_id": device_id,
        "server_time": server_time,
        "heartbeat_s": heartbeat_s,
        "max_ids": max_ids,
    })
    .to_string()
}

pub const PONG: &str = r#"{"type":"pong"}"#;

/// What a device may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Incoming {
    Ack { ids: Vec<String> },
    Click { id: String },
    Ping,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_frame_is_valid_json() {
        let f = PushFrame {
            id: 42,
            stored: true,
            task_id: Some(7),
            push_msg_id: None,
            message_json: r#"{"title":"t","content":"c\"q"}"#,
            sent_at: 1,
            expires_at: 2,
        };
        let v: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
        assert_eq!(v["id"], "42t7");
        assert_eq!(v["task_id"], 7);
        assert!(v["push_msg_id"].is_null());
        assert_eq!(v["message"]["content"], "c\"q");
        let online = PushFrame { stored: false, ..f };
        let v: serde_json::Value = serde_json::from_str(&online.to_json()).unwrap();
        assert_eq!(v["id"], "o42t7");
    }

    #[test]
    fn delivery_ids_round_trip() {
        for r in [
            DeliveryRef {
                id: 1,
                stored: true,
                task_id: None,
            },
            DeliveryRef {
                id: 913593041267195905,
                stored: false,
                task_id: Some(5),
            },
            DeliveryRef {
                id: 9,
                stored: true,
                task_id: Some(913593041267195906),
            },
        ] {
            assert_eq!(DeliveryRef::parse(&r.to_string()), Some(r));
        }
        for bad in ["", "o", "x1", "1t", "1tx", "o-", "12 "] {
            assert_eq!(DeliveryRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn incoming_frames_parse() {
        let a: Incoming = serde_json::from_str(r#"{"type":"ack","ids":["1","2"]}"#).unwrap();
        assert!(matches!(a, Incoming::Ack { ids } if ids == ["1", "2"]));
        assert!(matches!(
            serde_json::from_str(r#"{"type":"ping"}"#).unwrap(),
            Incoming::Ping
        ));
        assert!(serde_json::from_str::<Incoming>(r#"{"type":"nope"}"#).is_err());
    }
}
