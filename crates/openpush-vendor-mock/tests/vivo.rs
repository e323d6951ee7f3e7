//! The vivo mock accepts what vivo accepts and refuses the rest with vivo's result codes,
//! driven by hand-built JSON requests as a vivo SDK sends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::vivo::{
    VivoMock, VivoMockConfig, VivoOutcome, VivoSendKind, PUSH_TO_LIST_PATH, SAVE_LIST_PAYLOAD_PATH,
    SEND_PATH,
};
use openpush_vendor_mock::MockServer;
use serde_json::{json, Value};

struct Env {
    mock: VivoMock,
    server: MockServer,
    clock: ManualClock,
    http: reqwest::Client,
}

async fn env_with(config: VivoMockConfig) -> Env {
    let clock = ManualClock::new(SystemClock.now_ms());
    let mock = VivoMock::new(config, Arc::new(clock.clone()));
    let server = MockServer::start(mock.router()).await.unwrap();
    Env {
        mock,
        server,
        clock,
        http: reqwest::Client::new(),
    }
}

async fn env() -> Env {
    env_with(VivoMockConfig::for_tests()).await
}

fn sign(id: &str, key: &str, ts: i64, secret: &str) -> String {
    Md5::digest(format!("{id}{key}{ts}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Env {
    fn app(&self) -> (String, String, String) {
        let a = &self.mock.config().apps[0];
        (a.app_id.clone(), a.app_key.clone(), a.app_secret.clone())
    }

    async fn auth(&self, body: Value) -> Value {
        self.http
            .post(format!("{}/message/auth", self.server.url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn token(&self) -> String {
        let (id, key, secret) = self.app();
        let ts = self.clock.now_ms();
        let app_id: i64 = id.parse().unwrap();
        let v = self
            .auth(json!({"appId": app_id, "appKey": key, "timestamp": ts, "sign": sign(&id, &key, ts, &secret)}))
            .await;
        assert_eq!(v["result"], 0, "{v}");
        assert_eq!(v["desc"], "请求成功");
        v["authToken"].as_str().unwrap().to_owned()
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.server.url()))
            .json(body);
        if let Some(t) = token {
            req = req.header("authToken", t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn send(&self, token: &str, body: &Value) -> Value {
        self.post(SEND_PATH, Some(token), body).await.2
    }
}

fn single(reg_id: &str) -> Value {
    json!({"regId": reg_id, "title": "Hello", "content": "World", "notifyType": 4, "skipType": 1,
           "requestId": rid(), "classification": 1, "category": "IM",
           "clientCustomMap": {"k": "v"}})
}

#[tokio::test]
async fn auth_checks_fields_timestamp_and_sign() {
    let e = env().await;
    let (id, key, secret) = e.app();
    let ts = e.clock.now_ms();
    let r = |v: Value| v["result"].as_i64().unwrap();
    assert_eq!(
        r(e.auth(json!({"appId": id, "appKey": key, "timestamp": ts}))
            .await),
        10200
    );
    assert_eq!(r(e.auth(json!({"appId": "1", "appKey": key, "timestamp": ts, "sign": sign("1", &key, ts, &secret)})).await), 10200);
    assert_eq!(r(e.auth(json!({"appId": id, "appKey": "other", "timestamp": ts, "sign": sign(&id, "other", ts, &secret)})).await), 10200);
    assert_eq!(
        r(e.auth(
            json!({"appId": id, "appKey": key, "timestamp": ts, "sign": sign(&id, &key, ts, "bad")})
        )
        .await),
        10206
    );
    let old = ts - 11 * 60_000;
    assert_eq!(r(e.auth(json!({"appId": id, "appKey": key, "timestamp": old, "sign": sign(&id, &key, old, &secret)})).await), 10207);
    // appId as a string works as well as a number.
    assert_eq!(r(e.auth(json!({"appId": id, "appKey": key, "timestamp": ts, "sign": sign(&id, &key, ts, &secret)})).await), 0);
    assert_eq!(e.mock.tokens_issued(), 1);
    e.token().await;
    assert_eq!(e.mock.tokens_issued(), 2);
}

#[tokio::test]
async fn single_send_is_accepted_and_recorded() {
    let e = env().await;
    let t = e.token().await;
    let mut body = single("reg-1");
    body["appId"] = json!(e.app().0.parse::<i64>().unwrap());
    let v = e.send(&t, &body).await;
    assert_eq!(v["result"], 0, "{v}");
    assert!(v["taskId"].as_str().is_some());
    let p = e.mock.pushes();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].token.as_str(), p[0].title.as_str(), p[0].body.as_str()),
        ("reg-1", "Hello", "World")
    );
    assert_eq!(p[0].kind, VivoSendKind::Single);
    assert_eq!(p[0].payload["clientCustomMap"], json!({"k": "v"}));
    // The same requestId is answered again without sending twice.
    let again = e.send(&t, &body).await;
    assert_eq!(again["taskId"], v["taskId"]);
    assert_eq!(e.mock.push_count(), 1);
}

#[tokio::test]
async fn auth_token_header_app_id_and_expiry() {
    let e = env().await;
    assert_eq!(
        e.post(SEND_PATH, None, &single("r")).await.2["result"],
        10000
    );
    assert_eq!(e.send("made-up", &single("r")).await["result"], 10000);
    let t = e.token().await;
    let mut body = single("r");
    body["appId"] = json!(1);
    assert_eq!(e.send(&t, &body).await["result"], 10094);
    e.clock.advance_ms(23 * 3_600_000);
    assert_eq!(e.send(&t, &single("r")).await["result"], 0);
    e.clock.advance_ms(3_600_000);
    assert_eq!(e.send(&t, &single("r")).await["result"], 10000);
    let t = e.token().await;
    e.mock.expire_auth_tokens();
    assert_eq!(e.send(&t, &single("r")).await["result"], 10000);
}

#[tokio::test]
async fn payload_field_checks() {
    let e = env().await;
    let t = e.token().await;
    let check = |k: &str, v: Value, want: i64| {
        let mut b = single("r");
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        (b, want, k.to_owned())
    };
    let too_many: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    let too_long: serde_json::Map<String, Value> = (0..2)
        .map(|i| (format!("k{i}"), json!("v".repeat(600))))
        .collect();
    let cases = [
        check("requestId", Value::Null, 10050),
        check("requestId", json!("x".repeat(65)), 10051),
        check("title", json!("标".repeat(41)), 10051),
        check("title", json!("标".repeat(40)), 0),
        check("content", json!("x".repeat(101)), 10051),
        check("content", Value::Null, 10050),
        check("notifyType", json!(5), 10051),
        check("notifyType", Value::Null, 10050),
        check("skipType", json!(2), 10050),
        check("timeToLive", json!(59), 10051),
        check("networkType", json!(2), 10051),
        check("category", json!("MARKETING"), 10051),
        check("category", json!("WHATEVER"), 10051),
        check("clientCustomMap", Value::Object(too_many), 10051),
        check("clientCustomMap", Value::Object(too_long), 10051),
        check("clientCustomMap", json!({"k": 1}), 10051),
        check("extra", json!({"callback": "x".repeat(129)}), 10051),
        check("pushMode", json!(2), 10051),
        check("regId", Value::Null, 10050),
    ];
    for (body, want, k) in cases {
        assert_eq!(e.send(&t, &body).await["result"], want, "{k}");
    }
    let resp = e
        .http
        .post(format!("{}{SEND_PATH}", e.server.url()))
        .header("authToken", &t)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("regId=r")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["result"], 10050);
    assert_eq!(e.mock.push_count(), 1);
}

#[tokio::test]
async fn list_push_two_steps_with_invalid_users() {
    let e = env().await;
    let t = e.token().await;
    let mut payload = single("unused");
    payload.as_object_mut().unwrap().remove("regId");
    let (_, _, v) = e.post(SAVE_LIST_PAYLOAD_PATH, Some(&t), &payload).await;
    assert_eq!(v["result"], 0, "{v}");
    let task = v["taskId"].as_str().unwrap().to_owned();
    e.mock.unregister("b");
    e.mock
        .set_token_outcome("c", VivoOutcome::InvalidUser { status: 2 });
    let push =
        |ids: Value| json!({"regIds": ids, "taskId": task, "requestId": rid(), "pushMode": 0});
    let (_, _, v) = e
        .post(
            PUSH_TO_LIST_PATH,
            Some(&t),
            &push(json!(["a", "b", "c", "d"])),
        )
        .await;
    assert_eq!(v["result"], 0, "{v}");
    assert_eq!(
        v["invalidUsers"],
        json!([{"status": 1, "userid": "b"}, {"status": 2, "userid": "c"}])
    );
    let p = e.mock.pushes();
    assert_eq!(
        p.iter().map(|p| p.token.as_str()).collect::<Vec<_>>(),
        ["a", "d"]
    );
    assert_eq!(p[0].kind, VivoSendKind::List);
    assert_eq!(p[0].task_id, task);
    // 2..=1000 ids.
    let r = |ids: Value| {
        let body = push(ids);
        let e = &e;
        let t = t.clone();
        async move {
            e.post(PUSH_TO_LIST_PATH, Some(&t), &body).await.2["result"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(r(json!(["a"])).await, 10051);
    let many: Vec<String> = (0..1001).map(|i| format!("id{i}")).collect();
    assert_eq!(r(json!(many)).await, 10051);
    assert_eq!(r(json!(many[..1000])).await, 0);
    let unknown = json!({"regIds": ["a", "b"], "taskId": "nope", "requestId": rid()});
    assert_eq!(
        e.post(PUSH_TO_LIST_PATH, Some(&t), &unknown).await.2["result"],
        10051
    );
    let no_request_id = json!({"regIds": ["a", "b"], "taskId": task});
    assert_eq!(
        e.post(PUSH_TO_LIST_PATH, Some(&t), &no_request_id).await.2["result"],
        10050
    );
}

#[tokio::test]
async fn test_mode_reaches_only_test_devices() {
    let e = env().await;
    let t = e.token().await;
    e.mock.add_test_device("dev");
    let mut b = single("dev");
    b["pushMode"] = json!(1);
    assert!(e.send(&t, &b).await.get("invalidUser").is_none());
    let mut b = single("other");
    b["pushMode"] = json!(1);
    assert_eq!(
        e.send(&t, &b).await["invalidUser"],
        json!({"status": 4, "userid": "other"})
    );
    assert_eq!(e.mock.push_count(), 1);
}

#[tokio::test]
async fn scripted_outcomes_quota_and_latency() {
    let mut cfg = VivoMockConfig::for_tests();
    cfg.daily_quota = Some(4);
    let e = env_with(cfg).await;
    let t = e.token().await;
    e.mock.fail_next(
        1,
        VivoOutcome::Http {
            status: 503,
            retry_after_secs: Some(3),
        },
    );
    let (s, h, _) = e.post(SEND_PATH, Some(&t), &single("r")).await;
    assert_eq!((s, h["retry-after"].to_str().unwrap()), (503, "3"));
    e.mock.fail_next(1, VivoOutcome::AuthTokenExpired);
    assert_eq!(e.send(&t, &single("r")).await["result"], 10000);
    e.mock.unregister("dead");
    assert_eq!(e.send(&t, &single("dead")).await["result"], 10302);
    e.mock.set_latency(Duration::from_millis(120));
    let start = Instant::now();
    assert_eq!(e.send(&t, &single("r")).await["result"], 0);
    assert!(start.elapsed() >= Duration::from_millis(120));
    e.mock.set_latency(Duration::ZERO);
    // 4 tokens a day: 4 were taken above (scripted answers count, as they passed the checks).
    assert_eq!(e.send(&t, &single("r")).await["result"], 10070);
    e.mock.reset();
    assert_eq!((e.mock.push_count(), e.mock.request_count()), (0, 0));
    assert_eq!(e.send(&t, &single("r")).await["result"], 0);
}

#[tokio::test]
async fn notifier_credentials_hold_the_required_fields() {
    let cfg = VivoMockConfig::for_tests();
    let c = cfg.notifier_credentials();
    assert_eq!(c.as_object().unwrap().len(), 3);
    for k in ["app_id", "app_key", "app_secret"] {
        assert!(c[k].as_str().is_some_and(|s| !s.is_empty()), "{k}");
    }
    assert!(!format!("{cfg:?}").contains(&cfg.apps[0].app_secret));
}
