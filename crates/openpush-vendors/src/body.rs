//! What a vendor's answer may cost us. A vendor (or whatever answers at a notifier's base URL)
//! could send an endless body, or an auth answer whose `expires_in` overflows the clock:
//! bodies are read up to [`MAX_BODY_BYTES`], reasons quoting them are clipped to
//! [`MAX_REASON_CHARS`], and a token is trusted for at most [`MAX_TOKEN_LIFE`].

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

/// The most bytes read of any vendor answer; the rest is dropped (with the connection).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most characters of a reason (which may quote a vendor's answer) a result carries.
pub const MAX_REASON_CHARS: usize = 512;

/// The longest a vendor's access token is cached, whatever its `expires_in` says.
pub const MAX_TOKEN_LIFE: Duration = Duration::from_secs(24 * 3600);

/// The body of `resp`, at most [`MAX_BODY_BYTES`] of it.
pub(crate) async fn read_capped(resp: reqwest::Response) -> Result<Bytes, reqwest::Error> {
    read_capped_to(resp, MAX_BODY_BYTES).await
}

async fn read_capped_to(mut resp: reqwest::Response, cap: usize) -> Result<Bytes, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// The body as JSON (read capped): what `resp.json()` did, without reading without end.
pub(crate) async fn json_capped(resp: reqwest::Response) -> Result<Value, String> {
    let bytes = read_capped(resp).await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The body as text (read capped, invalid UTF-8 replaced); empty if it cannot be read.
pub(crate) async fn text_capped(resp: reqwest::Response) -> String {
    match read_capped(resp).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

/// `reason` cut to [`MAX_REASON_CHARS`] characters, with an ellipsis when cut.
pub(crate) fn clip_reason(reason: String) -> String {
    if reason.len() <= MAX_REASON_CHARS || reason.chars().count() <= MAX_REASON_CHARS {
        return reason;
    }
    let mut out: String = reason.chars().take(MAX_REASON_CHARS).collect();
    out.push('…');
    out
}

/// When a token fetched at `now` and living `life` must be replaced: never later than
/// [`MAX_TOKEN_LIFE`] from now, and never an overflow (which would panic the task).
pub(crate) fn refresh_deadline(now: Instant, life: Duration) -> Instant {
    now.checked_add(life.min(MAX_TOKEN_LIFE)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A "vendor" that answers every connection with `status` and a body of `len` bytes.
    async fn endless_vendor(status: u16, len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut req = [0u8; 4096];
                    let _ = s.read(&mut req).await;
                    let head = format!(
                        "HTTP/1.1 {status} Oops\r\ncontent-type: text/plain\r\ncontent-length: {len}\r\n\r\n"
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                    let chunk = vec![b'e'; 16 * 1024];
                    let mut left = len;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if s.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                });
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn a_huge_answer_is_read_only_up_to_the_cap() {
        let url = endless_vendor(500, 8 * 1024 * 1024).await;
        let resp = reqwest::get(&url).await.unwrap();
        let body = read_capped(resp).await.unwrap();
        assert_eq!(body.len(), MAX_BODY_BYTES);
        let text = text_capped(reqwest::get(&url).await.unwrap()).await;
        assert_eq!(text.len(), MAX_BODY_BYTES);
        // Not JSON, and cut: an error, not a 8 MiB allocation.
        assert!(json_capped(reqwest::get(&url).await.unwrap())
            .await
            .is_err());
        // A small answer is read whole.
        let small = endless_vendor(200, 10).await;
        let body = read_capped(reqwest::get(&small).await.unwrap())
            .await
            .unwrap();
        assert_eq!(&body[..], b"eeeeeeeeee");
    }

    #[test]
    fn reasons_are_clipped() {
        let long = format!("Huawei refused: {}", "x".repeat(100_000));
        let clipped = clip_reason(long);
        assert_eq!(clipped.chars().count(), MAX_REASON_CHARS + 1);
        assert!(clipped.starts_with("Huawei refused: xxx") && clipped.ends_with('…'));
        assert_eq!(clip_reason("short".into()), "short");
    }

    #[test]
    fn a_huge_expires_in_neither_panics_nor_lives_forever() {
        let now = Instant::now();
        for secs in [u64::MAX, i64::MAX as u64, 10u64.pow(15)] {
            let at = refresh_deadline(now, Duration::from_secs(secs));
            assert_eq!(at, now + MAX_TOKEN_LIFE, "{secs}");
        }
        let hour = Duration::from_secs(3600);
        assert_eq!(refresh_deadline(now, hour), now + hour);
    }
}
