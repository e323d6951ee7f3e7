//! Request extractors that answer in the Easemob error envelope.
//!
//! Bodies are read as JSON whatever `Content-Type` says, or when there is none: Easemob's own
//! SDKs label JSON as form-urlencoded or send no label at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use bytes::Bytes;
use openpush_store::App;
use serde::de::DeserializeOwned;

use crate::auth::Subject;
use crate::error::{ApiError, Unauthorized};
use crate::ratelimit::RateGroup;
use crate::state::AppState;

/// Turns JSON bytes into `T`, naming the offending field on a type error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::illegal_argument(
            "request body is empty; a JSON body is required",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::illegal_argument(format!("request body is not valid JSON: {inner}"))
        } else if path.is_empty() || path == "." {
            ApiError::illegal_argument(format!("invalid request body: {inner}"))
        } else {
            ApiError::illegal_argument(format!("invalid value for {path}: {inner}"))
        }
    })
}

/// Turns a JSON value into `T`; `what` names the value in the message (e.g. `users[2]`).
pub fn from_value<T: DeserializeOwned>(v: serde_json::Value, what: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::illegal_argument(format!("invalid {what}: {inner}"))
        } else {
            ApiError::illegal_argument(format!("invalid value for {what}.{path}: {inner}"))
        }
    })
}

async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.config.max_body_bytes)
        } else {
            ApiError::illegal_argument(format!("could not read the request body: {r}"))
        }
    })
}

/// A required body that must be a JSON object. (serde's derived structs would also take an
/// array of their fields in order, `["name", "desc"]`; Easemob bodies are objects, so
/// anything else is refused before it can change data.)
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            // Still report broken JSON as such.
            let v: serde_json::Value = parse_json(&bytes)?;
            return Err(ApiError::illegal_argument(format!(
                "invalid request body: expected a JSON object, got {}",
                json_kind(&v)
            )));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A required body of any JSON shape (for endpoints that take an object or an array).
#[derive(Debug)]
pub struct JsonValue(pub serde_json::Value);

impl FromRequest<AppState> for JsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonValue)
    }
}

/// The query string as a map; handlers parse the values they use, with clear errors.
#[derive(Debug, Default)]
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let map = serde_urlencoded_pairs(q);
        Ok(QueryMap(map))
    }
}

/// Splits a query string. A `+` stays a `+` and undecodable escapes stay as they are:
/// cursors arrive unencoded from some SDKs.
fn serde_urlencoded_pairs(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl QueryMap {
    /// A `limit`-style number in `1..=max`, or `default` when absent or empty.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.0.get("limit").map(String::as_str) {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::illegal_argument(format!(
                    "limit must be a number from 1 to {max}, got {v:?}"
                ))),
            },
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// An authenticated app-level call: the URL's app, and a valid app token of that app. Once the
/// token is checked, the call takes one token of the app's rate for its route's group (the
/// [`RateGroup`] the router put in the request's extensions): 429 when there is none.
#[derive(Debug, Clone)]
pub struct AppCtx {
    pub app: Arc<App>,
    pub started: Instant,
    /// The request URL as the client addressed it, for the IM envelope's `uri`.
    pub uri: String,
}

/// The `{org}` and `{app}` of a matched route.
pub fn org_app(params: &RawPathParams) -> (String, String) {
    let mut org = String::new();
    let mut app = String::new();
    for (k, v) in params {
        match k {
            "org" => org = v.to_owned(),
            "app" => app = v.to_owned(),
            _ => {}
        }
    }
    (org, app)
}

/// The token of an `Authorization: Bearer …` header, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for AppCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let started = Instant::now();
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::url_invalid())?;
        let (org, name) = org_app(&params);
        let token = bearer(&parts.headers).ok_or(ApiError::unauthorized(Unauthorized::Missing))?;
        let claims = state
            .signer
            .verify(token, state.now_ms())
            .map_err(ApiError::unauthorized)?;
        if claims.subject != Subject::App {
            return Err(ApiError::unauthorized(Unauthorized::Missing));
        }
        let app = state
            .app(&org, &name)
            .await?
            .filter(|a| a.id == claims.app_id)
            .ok_or(ApiError::unauthorized(Unauthorized::NotIssuedHere))?;
        if claims.issued_ms < app.app_tokens_valid_from {
            // Issued before the app's client secret was rotated.
            return Err(ApiError::unauthorized(Unauthorized::Revoked));
        }
        // Authenticated: from here on the request spends the app's budget, not its source's.
        crate::source_limit::attempt_of(parts).authenticated();
        if let Some(group) = parts.extensions.get::<RateGroup>() {
            state
                .rate
                .check(app.id, *group)
                .map_err(ApiError::rate_limited)?;
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let uri = format!("http://{host}{}", parts.uri.path());
        Ok(AppCtx { app, started, uri })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_raw_cursors_and_decodes_escapes() {
        let m = serde_urlencoded_pairs("cursor=ab_c-D&limit=5&x=%41%2&y");
        assert_eq!(m["cursor"], "ab_c-D");
        assert_eq!(m["limit"], "5");
        assert_eq!(m["x"], "A%2");
        assert_eq!(m["y"], "");
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            name: String,
        }
        let e = parse_json::<T>(br#"{"name": 5}"#).unwrap_err();
        assert!(e.description.contains("name"), "{}", e.description);
        let e = parse_json::<T>(b"{not json").unwrap_err();
        assert!(
            e.description.contains("not valid JSON"),
            "{}",
            e.description
        );
        let e = parse_json::<T>(b"  ").unwrap_err();
        assert!(e.description.contains("empty"), "{}", e.description);
    }
}
