//! The device side of the Easemob channel (docs/device-protocol.md): get a user token, connect,
//! receive notifications, ack and click them. Used by tests, the benchmark harness and
//! `openpush device`; any WebSocket library in any language can do the same.

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("login refused ({status}): {body}")]
    Login { status: u16, body: String },
    #[error("WebSocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("bad server URL: {0}")]
    Url(String),
    #[error("unexpected frame: {0}")]
    Protocol(String),
}

/// The server's `welcome`.
#[derive(Debug, Clone, Deserialize)]
pub struct Welcome {
    pub device_id: String,
    pub server_time: i64,
    pub heartbeat_s: u64,
    /// The most ids one ack frame may carry ([`Device::ack`] splits longer lists).
    #[serde(default = "default_max_ids")]
    pub max_ids: usize,
}

/// What a server that does not say allows.
fn default_max_ids() -> usize {
    256
}

/// One `push` frame.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Notification {
    pub id: String,
    pub task_id: Option<i64>,
    pub push_msg_id: Option<i64>,
    pub message: Value,
    pub sent_at: i64,
    pub expires_at: i64,
}

/// What the server sent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Push(Notification),
    Pong,
    /// The server closed the connection (code 0 if it gave none).
    Closed {
        code: u16,
        reason: String,
    },
}

/// Logs a user in (`grant_type: password`) and returns the user token.
pub async fn login(
    server: &str,
    org: &str,
    app: &str,
    username: &str,
    password: &str,
) -> Result<String, ClientError> {
    let res = reqwest::Client::new()
        .post(format!(
            "{}/{org}/{app}/token",
            server.trim_end_matches('/')
        ))
        .json(&json!({"grant_type": "password", "username": username, "password": password}))
        .send()
        .await?;
    let status = res.status().as_u16();
    let body: Value = res.json().await?;
    match body.get("access_token").and_then(Value::as_str) {
        Some(t) if status == 200 => Ok(t.to_owned()),
        _ => Err(ClientError::Login {
            status,
            body: body.to_string(),
        }),
    }
}

pub struct Device {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Welcome,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("welcome", &self.welcome)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Connects as `device_id` with a user token and waits for `welcome`.
    pub async fn connect(
        server: &str,
        org: &str,
        app: &str,
        token: &str,
        device_id: &str,
    ) -> Result<Self, ClientError> {
        Self::connect_from(server, org, app, token, device_id, None).await
    }

    /// As [`Device::connect`], from a chosen local address (the benchmark spreads many
    /// devices over several addresses of 127.0.0.0/8, beyond one address's port range).
    /// Plain `ws://` only when a source address is given.
    pub async fn connect_from(
        server: &str,
        org: &str,
        app: &str,
        token: &str,
        device_id: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Self, ClientError> {
        let base = server.trim_end_matches('/');
        let ws_base = if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            base.to_owned()
        };
        let url = format!("{ws_base}/{org}/{app}/push/connect?device_id={device_id}");
        let mut req = url
            .into_client_request()
            .map_err(|e| ClientError::Url(e.to_string()))?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| ClientError::Url(e.to_string()))?;
        req.headers_mut().insert("Authorization", auth);
        // Small buffers: a device's frames are small, and load generators hold thousands.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0);
        let mut ws = match source {
            None => {
                tokio_tungstenite::connect_async_with_config(req, Some(config), false)
                    .await?
                    .0
            }
            Some(ip) => {
                let host = req.uri().host().unwrap_or("127.0.0.1").to_owned();
                let port = req.uri().port_u16().unwrap_or(80);
                let addr = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|e| ClientError::Url(e.to_string()))?
                    .next()
                    .ok_or_else(|| ClientError::Url(format!("cannot resolve {host}")))?;
                let socket = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(tokio_tungstenite::tungstenite::Error::Io)?;
                socket
                    .bind(std::net::SocketAddr::new(ip, 0))
                    .map_err(tokio_tungstenite::tungstenite::Error::Io)?;
                let stream = socket
                    .connect(addr)
                    .await
                    .map_err(tokio_tungstenite::tungstenite::Error::Io)?;
                stream
                    .set_nodelay(true)
                    .map_err(tokio_tungstenite::tungstenite::Error::Io)?;
                tokio_tungstenite::client_async_with_config(
                    req,
                    MaybeTlsStream::Plain(stream),
                    Some(config),
                )
                .await?
                .0
            }
        };
        let first = loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => break t,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => return Err(ClientError::Protocol(format!("{other:?}"))),
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ClientError::Protocol("closed before welcome".into())),
            }
        };
        let welcome: Welcome = serde_json::from_str(first.as_str())
            .map_err(|e| ClientError::Protocol(format!("{e}: {first}")))?;
        Ok(Self { ws, welcome })
    }

    /// The next event. WebSocket pings are answered on the way.
    pub async fn next(&mut self) -> Result<Event, ClientError> {
        loop {
            let Some(msg) = self.ws.next().await else {
                return Ok(Event::Closed {
                    code: 0,
                    reason: String::new(),
                });
            };
            match msg {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str())
                        .map_err(|e| ClientError::Protocol(format!("{e}: {t}")))?;
                    match v.get("type").and_then(Value::as_str) {
                        Some("push") => {
                            let n: Notification = serde_json::from_value(v)
                                .map_err(|e| ClientError::Protocol(e.to_string()))?;
                            return Ok(Event::Push(n));
                        }
                        Some("pong") => return Ok(Event::Pong),
                        _ => continue,
                    }
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame
                        .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()))
                        .unwrap_or((0, String::new()));
                    return Ok(Event::Closed { code, reason });
                }
                Ok(_) => continue,
                Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed) => {
                    return Ok(Event::Closed {
                        code: 0,
                        reason: String::new(),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next text frame as sent, without parsing it (for load generators that only need
    /// a field or two). `None` when the connection closed.
    pub async fn next_text(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            match self.ws.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(t))) => return Ok(Some(t.as_str().to_owned())),
                Some(Ok(_)) => continue,
                Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed)) => {
                    return Ok(None)
                }
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    async fn send_json(&mut self, v: Value) -> Result<(), ClientError> {
        self.ws.send(Message::Text(v.to_string().into())).await?;
        Ok(())
    }

    /// Acks deliveries, in as many frames as the server's `max_ids` needs.
    pub async fn ack(&mut self, ids: &[&str]) -> Result<(), ClientError> {
        for chunk in ids.chunks(self.welcome.max_ids.max(1)) {
            self.send_json(json!({"type": "ack", "ids": chunk})).await?;
        }
        Ok(())
    }

    pub async fn click(&mut self, id: &str) -> Result<(), ClientError> {
        self.send_json(json!({"type": "click", "id": id})).await
    }

    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.send_json(json!({"type": "ping"})).await
    }

    /// Closes the connection and waits (up to 5 s) for the server's answering close, so that
    /// when this returns the server has let the connection go.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.ws.close(None).await?;
        let drain = async {
            while let Some(msg) = self.ws.next().await {
                if msg.is_err() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
        Ok(())
    }
}
