//! The OPPO mock accepts what OPPO accepts and refuses the rest with OPPO's codes,
//! driven by hand-built form requests as an OPPO SDK sends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::oppo::{
    OppoMock, OppoMockConfig, OppoOutcome, OppoSendKind, BROADCAST_PATH, SAVE_MESSAGE_PATH,
    UNICAST_PATH,
};
use openpush_vendor_mock::MockServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Env {
    mock: OppoMock,
    server: MockServer,
    clock: ManualClock,
    http: reqwest::Client,
}

async fn env_with(config: OppoMockConfig) -> Env {
    let clock = ManualClock::new(SystemClock.now_ms());
    let mock = OppoMock::new(config, Arc::new(clock.clone()));
    let server = MockServer::start(mock.router()).await.unwrap();
    Env {
        mock,
        server,
        clock,
        http: reqwest::Client::new(),
    }
}

async fn env() -> Env {
    env_with(OppoMockConfig::for_tests()).await
}

fn sign(key: &str, ts: &str, secret: &str) -> String {
    Sha256::digest(format!("{key}{ts}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Env {
    fn key(&self) -> String {
        self.mock.config().apps[0].app_key.clone()
    }
    fn secret(&self) -> String {
        self.mock.config().apps[0].master_secret.clone()
    }

    async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let resp = self
            .http
            .post(format!("{}{path}", self.server.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn auth_with(&self, key: &str, ts: &str, sig: &str) -> Value {
        self.post_form(
            "/server/v1/auth",
            &[("app_key", key), ("timestamp", ts), ("sign", sig)],
        )
        .await
        .2
    }

    async fn token(&self) -> String {
        let ts = self.clock.now_ms().to_string();
        let v = self
            .auth_with(&self.key(), &ts, &sign(&self.key(), &ts, &self.secret()))
            .await;
        assert_eq!(v["code"], 0, "{v}");
        assert_eq!(v["message"], "success");
        assert!(v["data"]["create_time"].as_i64().is_some());
        v["data"]["auth_token"].as_str().unwrap().to_owned()
    }

    async fn unicast(
        &self,
        token: &str,
        message: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.post_form(
            UNICAST_PATH,
            &[("auth_token", token), ("message", &message.to_string())],
        )
        .await
    }

    async fn save(&self, token: &str, fields: &[(&str, &str)]) -> Value {
        let mut all = vec![("auth_token", token)];
        all.extend_from_slice(fields);
        self.post_form(SAVE_MESSAGE_PATH, &all).await.2
    }

    async fn broadcast(
        &self,
        token: &str,
        message_id: &str,
        ids: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.post_form(
            BROADCAST_PATH,
            &[
                ("auth_token", token),
                ("message_id", message_id),
                ("target_type", "2"),
                ("target_value", ids),
            ],
        )
        .await
    }
}

fn unicast_message(target: &str) -> Value {
    json!({"target_type": 2, "target_value": target,
           "notification": {"title": "Hello", "content": "World", "channel_id": "chat",
                            "action_parameters": "{\"k\":\"v\"}", "off_line": true}})
}

#[tokio::test]
async fn auth_checks_key_timestamp_and_signature() {
    let e = env().await;
    let (key, secret) = (e.key(), e.secret());
    let ts = e.clock.now_ms().to_string();
    assert_eq!(
        e.auth_with("nope", &ts, &sign("nope", &ts, &secret)).await["code"],
        14
    );
    assert_eq!(
        e.auth_with(&key, &ts, &sign(&key, &ts, "wrong")).await["code"],
        16
    );
    let old = (e.clock.now_ms() - 11 * 60_000).to_string();
    assert_eq!(
        e.auth_with(&key, &old, &sign(&key, &old, &secret)).await["code"],
        19
    );
    assert_eq!(
        e.auth_with(&key, "abc", &sign(&key, "abc", &secret)).await["code"],
        19
    );
    let v = e
        .post_form("/server/v1/auth", &[("app_key", &key), ("timestamp", &ts)])
        .await
        .2;
    assert_eq!(v["code"], 40, "{v}");
    // JSON instead of a form: the fields cannot be read.
    let resp = e
        .http
        .post(format!("{}/server/v1/auth", e.server.url()))
        .json(&json!({"app_key": key, "timestamp": ts, "sign": sign(&key, &ts, &secret)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 40);
    assert_eq!(e.mock.tokens_issued(), 0);
    e.token().await;
    assert_eq!(e.mock.tokens_issued(), 1);
}

#[tokio::test]
async fn unicast_is_accepted_and_recorded() {
    let e = env().await;
    let t = e.token().await;
    let (s, _, v) = e.unicast(&t, &unicast_message("regid-1")).await;
    assert_eq!(s, 200);
    assert_eq!(v["code"], 0, "{v}");
    assert!(v["data"]["messageId"].as_str().is_some());
    let p = e.mock.pushes();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].token.as_str(), p[0].title.as_str(), p[0].body.as_str()),
        ("regid-1", "Hello", "World")
    );
    assert_eq!(p[0].kind, OppoSendKind::Unicast);
    assert_eq!(p[0].payload["channel_id"], "chat");
    assert_eq!(e.mock.push_count(), 1);
}

#[tokio::test]
async fn auth_token_is_a_form_field_and_expires_after_24_hours() {
    let e = env().await;
    let (_, _, v) = e.unicast("", &unicast_message("r")).await;
    assert_eq!(v["code"], 11);
    let (_, _, v) = e.unicast("made-up", &unicast_message("r")).await;
    assert_eq!(v["code"], 11);
    let t = e.token().await;
    e.clock.advance_ms(23 * 3_600_000);
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], 0);
    e.clock.advance_ms(3_600_000);
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], 11);
    let t = e.token().await;
    e.mock.expire_auth_tokens();
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], 11);
}

#[tokio::test]
async fn unicast_field_checks() {
    let e = env().await;
    let t = e.token().await;
    let code = |v: Value| v["code"].as_i64().unwrap();
    let mut m = unicast_message("r");
    m["notification"]["title"] = json!("标".repeat(51));
    assert_eq!(code(e.unicast(&t, &m).await.2), 41);
    m["notification"]["title"] = json!("标".repeat(50));
    assert_eq!(code(e.unicast(&t, &m).await.2), 0);
    let mut m = unicast_message("r");
    m["notification"]["content"] = json!("x".repeat(201));
    assert_eq!(code(e.unicast(&t, &m).await.2), 41);
    let mut m = unicast_message("r");
    m["notification"].as_object_mut().unwrap().remove("title");
    assert_eq!(code(e.unicast(&t, &m).await.2), 40);
    let mut m = unicast_message("r");
    m["target_type"] = json!(1);
    assert_eq!(code(e.unicast(&t, &m).await.2), 41);
    assert_eq!(code(e.unicast(&t, &unicast_message("a;b")).await.2), 41);
    let mut m = unicast_message("r");
    m["notification"]["action_parameters"] = json!({"k": "v"});
    assert_eq!(
        code(e.unicast(&t, &m).await.2),
        41,
        "action_parameters must be JSON text"
    );
    let mut m = unicast_message("r");
    m["notification"]["click_action_type"] = json!(2);
    assert_eq!(
        code(e.unicast(&t, &m).await.2),
        40,
        "a web click needs click_action_url"
    );
    m["notification"]["click_action_url"] = json!("https://x.example");
    assert_eq!(code(e.unicast(&t, &m).await.2), 0);
    let mut m = unicast_message("r");
    m["notification"]["off_line_ttl"] = json!(864_001);
    assert_eq!(code(e.unicast(&t, &m).await.2), 41);
    let v = e
        .post_form(UNICAST_PATH, &[("auth_token", &t), ("message", "not json")])
        .await
        .2;
    assert_eq!(code(v), 41);
    assert_eq!(e.mock.push_count(), 2);
}

#[tokio::test]
async fn broadcast_two_steps_with_semicolons_and_dead_lists() {
    let e = env().await;
    let t = e.token().await;
    let saved = e
        .save(
            &t,
            &[
                ("title", "T"),
                ("content", "C"),
                ("off_line", "true"),
                ("action_parameters", "{\"a\":\"1\"}"),
            ],
        )
        .await;
    assert_eq!(saved["code"], 0, "{saved}");
    let mid = saved["data"]["message_id"].as_str().unwrap().to_owned();
    e.mock.unregister("r2");
    e.mock.set_token_outcome(
        "r3",
        OppoOutcome::Refused {
            code: 10001,
            message: "x".into(),
        },
    );
    let (_, _, v) = e.broadcast(&t, &mid, "r1;r2;r3;r4").await;
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(v["data"]["10000"], json!(["r2"]));
    assert_eq!(v["data"]["10001"], json!(["r3"]));
    assert_eq!(v["data"]["message_id"], mid.as_str());
    assert!(v["data"]["task_id"].as_str().is_some());
    let p = e.mock.pushes();
    assert_eq!(
        p.iter().map(|p| p.token.as_str()).collect::<Vec<_>>(),
        ["r1", "r4"]
    );
    assert_eq!(p[0].kind, OppoSendKind::Broadcast);
    assert_eq!(p[0].payload["action_parameters"], "{\"a\":\"1\"}");
    // The same saved content can go to another list.
    assert_eq!(e.broadcast(&t, &mid, "r5").await.2["code"], 0);
    // Limits and unknown ids.
    let many: Vec<String> = (0..1001).map(|i| format!("id{i}")).collect();
    assert_eq!(e.broadcast(&t, &mid, &many.join(";")).await.2["code"], 41);
    assert_eq!(
        e.broadcast(&t, &mid, &many[..1000].join(";")).await.2["code"],
        0
    );
    assert_eq!(e.broadcast(&t, &mid, "a;;b").await.2["code"], 41);
    assert_eq!(e.broadcast(&t, "unknown", "a").await.2["code"], 41);
    // save_message_content checks the notification fields.
    assert_eq!(e.save(&t, &[("title", "T")]).await["code"], 40);
    let long = "x".repeat(51);
    assert_eq!(
        e.save(&t, &[("title", &long), ("content", "C")]).await["code"],
        41
    );
}

#[tokio::test]
async fn scripted_outcomes_and_latency() {
    let e = env().await;
    let t = e.token().await;
    e.mock.fail_next(
        1,
        OppoOutcome::Http {
            status: 503,
            retry_after_secs: Some(7),
        },
    );
    let (s, h, _) = e.unicast(&t, &unicast_message("r")).await;
    assert_eq!((s, h["retry-after"].to_str().unwrap()), (503, "7"));
    e.mock.fail_next(1, OppoOutcome::FlowControl);
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], -2);
    e.mock.fail_next(1, OppoOutcome::AuthTokenExpired);
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], 11);
    e.mock.unregister("dead");
    assert_eq!(
        e.unicast(&t, &unicast_message("dead")).await.2["code"],
        10000
    );
    e.mock.clear_token_outcome("dead");
    assert_eq!(e.unicast(&t, &unicast_message("dead")).await.2["code"], 0);
    // A scripted fault never hides a malformed request.
    e.mock.fail_all(Some(OppoOutcome::ServiceUnavailable));
    let mut bad = unicast_message("r");
    bad["notification"]["content"] = json!("");
    assert_eq!(e.unicast(&t, &bad).await.2["code"], 40);
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], -1);
    e.mock.fail_all(None);
    e.mock.set_latency(Duration::from_millis(150));
    let start = Instant::now();
    assert_eq!(e.unicast(&t, &unicast_message("r")).await.2["code"], 0);
    assert!(start.elapsed() >= Duration::from_millis(150));
    e.mock.reset();
    assert_eq!((e.mock.push_count(), e.mock.request_count()), (0, 0));
    assert_eq!(
        e.unicast(&t, &unicast_message("r")).await.2["code"],
        0,
        "tokens survive reset"
    );
}

#[tokio::test]
async fn daily_quota_is_per_china_day() {
    let mut cfg = OppoMockConfig::for_tests();
    cfg.daily_quota = Some(3);
    let e = env_with(cfg).await;
    let t = e.token().await;
    let mid = e.save(&t, &[("title", "T"), ("content", "C")]).await["data"]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(e.broadcast(&t, &mid, "a;b").await.2["code"], 0);
    assert_eq!(
        e.broadcast(&t, &mid, "c;d").await.2["code"],
        33,
        "2 more would pass 3"
    );
    assert_eq!(e.unicast(&t, &unicast_message("c")).await.2["code"], 0);
    assert_eq!(e.unicast(&t, &unicast_message("d")).await.2["code"], 33);
    e.clock.advance_ms(86_400_000);
    let t = e.token().await;
    assert_eq!(e.unicast(&t, &unicast_message("d")).await.2["code"], 0);
}

#[tokio::test]
async fn notifier_credentials_hold_the_required_fields() {
    let cfg = OppoMockConfig::for_tests();
    let c = cfg.notifier_credentials();
    assert_eq!(c.as_object().unwrap().len(), 2);
    assert_eq!(c["app_key"], cfg.apps[0].app_key.as_str());
    assert_eq!(c["master_secret"], cfg.apps[0].master_secret.as_str());
    assert!(!format!("{cfg:?}").contains(&cfg.apps[0].master_secret));
}
