//! Success envelopes, Easemob's two styles: the push-service style
//! `{timestamp, data, duration}` and the IM (usergrid) style with `action`, `path`, `uri`,
//! `entities`… Always HTTP 200 with a JSON body, which SDKs expect.

use std::time::Instant;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use crate::extract::AppCtx;

fn duration_ms(started: Instant) -> i64 {
    started.elapsed().as_millis() as i64
}

/// `{timestamp, data, duration}` plus any extra top-level fields (e.g. `cursor`).
pub fn push(ctx: &AppCtx, now_ms: i64, data: Value, extra: &[(&str, Value)]) -> Response {
    let mut m = Map::new();
    m.insert("timestamp".into(), now_ms.into());
    m.insert("data".into(), data);
    for (k, v) in extra {
        m.insert((*k).into(), v.clone());
    }
    m.insert("duration".into(), duration_ms(ctx.started).into());
    Json(Value::Object(m)).into_response()
}

/// The IM envelope.
pub struct Im<'a> {
    pub ctx: &'a AppCtx,
    pub now_ms: i64,
    pub action: &'static str,
    pub path: &'a str,
}

impl Im<'_> {
    fn base(&self) -> Map<String, Value> {
        let app = &self.ctx.app;
        let mut m = Map::new();
        m.insert("action".into(), self.action.into());
        m.insert("application".into(), app.uuid.clone().into());
        m.insert("path".into(), self.path.into());
        m.insert("uri".into(), self.ctx.uri.clone().into());
        m.insert("timestamp".into(), self.now_ms.into());
        m.insert("organization".into(), app.org.clone().into());
        m.insert("applicationName".into(), app.name.clone().into());
        m
    }

    fn finish(&self, mut m: Map<String, Value>) -> Response {
        m.insert("duration".into(), duration_ms(self.ctx.started).into());
        Json(Value::Object(m)).into_response()
    }

    /// `entities` plus extra fields such as `count` or `cursor`.
    pub fn entities(&self, entities: Vec<Value>, extra: &[(&str, Value)]) -> Response {
        let mut m = self.base();
        m.insert("entities".into(), Value::Array(entities));
        for (k, v) in extra {
            m.insert((*k).into(), v.clone());
        }
        self.finish(m)
    }

    /// `data` for the settings endpoints.
    pub fn data(&self, data: Value) -> Response {
        let mut m = self.base();
        m.insert("data".into(), data);
        self.finish(m)
    }
}
