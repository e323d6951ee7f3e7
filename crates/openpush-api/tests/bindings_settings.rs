//! End-to-end tests of the per-user push endpoints: push bindings, batch push nickname,
//! do-not-disturb and preferred language, including bad input that must be refused without
//! changing anything.

// The shared harness builds its config field by field; that lint is its business.
mod common;

use common::{assert_error, TestServer};
use openpush_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const OK: StatusCode = StatusCode::OK;
const BAD: StatusCode = StatusCode::BAD_REQUEST;
const NO_USER: &str = "Entity user requires a property named username";
const MAX_DND: i64 = 604_800_000;

struct T {
    s: TestServer,
    p: String,
    tok: String,
}

/// One request that must be refused.
#[derive(Debug)]
struct Bad {
    method: Method,
    path: String,
    body: Option<String>,
    status: StatusCode,
    text: String,
}

fn bad_raw(method: Method, path: &str, body: Option<&str>, text: &str) -> Bad {
    Bad {
        method,
        path: path.to_owned(),
        body: body.map(str::to_owned),
        status: BAD,
        text: text.to_owned(),
    }
}

fn bad_json(method: Method, path: &str, body: Value, text: &str) -> Bad {
    bad_raw(method, path, Some(&body.to_string()), text)
}

fn binding(device: &str, notifier: &str, token: &str) -> Value {
    json!({"device_id": device, "device_token": token, "notifier_name": notifier})
}

fn push_info(device: &str, notifier: &str, token: &str) -> Value {
    json!({"device_Id": device, "device_token": token, "notifier_name": notifier})
}

fn dnd(kind: &str, interval: &str, until: i64) -> Value {
    json!({"type": kind, "ignoreInterval": interval, "ignoreDuration": until})
}

#[track_caller]
fn assert_keys(b: &Value, want: &[&str]) {
    let obj = b
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {b}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = want.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "{b}");
}

impl T {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(tweak: impl FnOnce(&mut openpush_api::Config)) -> Self {
        let s = TestServer::start_with(tweak).await;
        let (p, tok) = s.app_with_token("acme", "shop").await;
        Self { s, p, tok }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}{}", self.p, rest)
    }

    fn now(&self) -> i64 {
        self.s.clock.now_ms()
    }

    async fn get(&self, rest: &str) -> (StatusCode, Value) {
        self.s.get(&self.url(rest), &self.tok).await
    }

    async fn put(&self, rest: &str, body: Value) -> (StatusCode, Value) {
        self.s.put(&self.url(rest), &self.tok, body).await
    }

    async fn users(&self, names: &[&str]) {
        self.s.users(&self.p, &self.tok, names).await;
    }

    /// Checks the binding envelope (only `timestamp`, `entities`, `action`, `duration`)
    /// and returns `entities`.
    #[track_caller]
    fn binding_entities(&self, got: (StatusCode, Value), action: &str) -> Value {
        let (s, b) = got;
        assert_eq!(s, OK, "{b}");
        assert_keys(&b, &["action", "duration", "entities", "timestamp"]);
        assert_eq!(b["action"], action, "{b}");
        assert_eq!(b["timestamp"], json!(self.now()), "{b}");
        assert!(b["duration"].is_u64(), "{b}");
        b["entities"].clone()
    }

    /// Checks the full IM envelope with `body_key` (`data` or `entities`) and
    /// returns that field.
    #[track_caller]
    fn im(
        &self,
        got: (StatusCode, Value),
        action: &str,
        path: &str,
        req_path: &str,
        body_key: &str,
    ) -> Value {
        let (s, b) = got;
        assert_eq!(s, OK, "{b}");
        assert_keys(
            &b,
            &[
                "action",
                "application",
                "applicationName",
                "duration",
                "organization",
                "path",
                "timestamp",
                "uri",
                body_key,
            ],
        );
        assert_eq!(b["action"], action, "{b}");
        assert_eq!(b["path"], path, "{b}");
        assert_eq!(b["organization"], "acme", "{b}");
        assert_eq!(b["applicationName"], "shop", "{b}");
        assert!(!b["application"].as_str().unwrap().is_empty(), "{b}");
        assert_eq!(
            b["uri"],
            json!(format!("{}{}", self.s.base, self.url(req_path))),
            "{b}"
        );
        assert_eq!(b["timestamp"], json!(self.now()), "{b}");
        assert!(b["duration"].is_u64(), "{b}");
        b[body_key].clone()
    }

    async fn bind(&self, user: &str, device: &str, notifier: &str, token: &str) -> Value {
        let got = self
            .put(
                &format!("/users/{user}/push/binding"),
                json!({"device_id": device, "notifier_name": notifier, "device_token": token}),
            )
            .await;
        self.binding_entities(got, "put")
    }

    async fn bindings(&self, user: &str) -> Value {
        let got = self.get(&format!("/users/{user}/push/binding")).await;
        self.binding_entities(got, "get")
    }

    /// The user entity of `GET /users/{user}`.
    async fn user(&self, user: &str) -> Value {
        let (s, b) = self.get(&format!("/users/{user}")).await;
        assert_eq!(s, OK, "{b}");
        b["entities"][0].clone()
    }

    async fn put_dnd(&self, user: &str, chattype: &str, key: &str, body: Value) -> Value {
        let path = format!("/users/{user}/notification/{chattype}/{key}");
        let got = self.put(&path, body).await;
        self.im(got, "put", "/users", &path, "data")
    }

    async fn get_dnd(&self, user: &str, chattype: &str, key: &str) -> Value {
        let path = format!("/users/{user}/notification/{chattype}/{key}");
        let got = self.get(&path).await;
        self.im(got, "get", "/users", &path, "data")
    }

    async fn language(&self, user: &str) -> Value {
        let path = format!("/users/{user}/notification/language");
        let got = self.get(&path).await;
        self.im(got, "get", "/users", &path, "data")
    }

    /// Everything these endpoints store for `users`, read back through the API.
    async fn snapshot(&self, users: &[&str]) -> Value {
        let mut out = Vec::new();
        for u in users {
            out.push(json!({
                "user": self.user(u).await,
                "bindings": self.bindings(u).await,
                "app_dnd": self.get_dnd(u, "user", u).await,
                "peer_dnd": self.get_dnd(u, "user", "peer").await,
                "group_dnd": self.get_dnd(u, "chatgroup", "g1").await,
                "language": self.language(u).await,
            }));
        }
        Value::Array(out)
    }

    /// Sends each request, checks its error, and checks that nothing of `users` changed.
    async fn refused(&self, users: &[&str], cases: &[Bad]) {
        let before = self.snapshot(users).await;
        for c in cases {
            let got = self
                .s
                .call_raw(
                    c.method.clone(),
                    &self.url(&c.path),
                    Some(&self.tok),
                    c.body.as_deref(),
                    Some("application/json"),
                )
                .await;
            assert_eq!(got.0, c.status, "{c:?} got {}", got.1);
            let desc = got.1["error_description"].as_str().unwrap_or_default();
            assert!(desc.contains(&c.text), "{c:?}: description {desc:?}");
            assert_error(&got, c.status, &c.text);
            assert_eq!(
                self.snapshot(users).await,
                before,
                "{c:?} changed the stored data"
            );
        }
    }

    /// Gives `users` some state of every kind, so that a refused call has something to spoil.
    async fn seed(&self, users: &[&str]) {
        for (i, u) in users.iter().enumerate() {
            self.bind(u, &format!("dev-{u}"), "n1", &format!("tok-{u}"))
                .await;
            self.put_dnd(
                u,
                "user",
                u,
                json!({"type": "AT", "ignoreInterval": "22:00-07:00", "ignoreDuration": 3_600_000 + i as i64}),
            )
            .await;
            self.put_dnd(u, "user", "peer", json!({"type": "NONE"}))
                .await;
            self.put_dnd(u, "chatgroup", "g1", json!({"ignoreDuration": 60_000}))
                .await;
            let path = format!("/users/{u}/notification/language");
            let got = self.put(&path, json!({"translationLanguage": "EU"})).await;
            self.im(got, "put", "/users", &path, "data");
            let got = self
                .put(
                    "/push/nickname",
                    json!([{"username": u, "push_nickname": format!("nick {u}")}]),
                )
                .await;
            assert_eq!(got.0, OK, "{}", got.1);
        }
    }
}

// ---- push bindings -----------------------------------------------------------------------

#[tokio::test]
async fn bind_rebind_and_a_second_notifier() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    assert_eq!(t.bindings("u1").await, json!([]));

    let dev = "8ce08cad-1:2.x_Y";
    let tok = "BAEAAAAAB+/=aZ09!~";
    assert_eq!(
        t.bind("u1", dev, "104410638", tok).await,
        json!([binding(dev, "104410638", tok)])
    );
    // Same device and notifier: the token is replaced, not added.
    assert_eq!(
        t.bind("u1", dev, "104410638", "tok-2").await,
        json!([binding(dev, "104410638", "tok-2")])
    );
    // A second notifier on the same device: both, ordered by notifier.
    assert_eq!(
        t.bind("u1", dev, "0-fcm", "tok-3").await,
        json!([
            binding(dev, "0-fcm", "tok-3"),
            binding(dev, "104410638", "tok-2")
        ])
    );
    // Another device: the response lists only that device's bindings.
    t.s.clock.advance_ms(10);
    assert_eq!(
        t.bind("U1", "dev-2", "104410638", "tok-4").await,
        json!([binding("dev-2", "104410638", "tok-4")])
    );
    // GET lists every binding of every device; the path username is case-insensitive.
    let all = json!([
        binding(dev, "0-fcm", "tok-3"),
        binding(dev, "104410638", "tok-2"),
        binding("dev-2", "104410638", "tok-4"),
    ]);
    assert_eq!(t.bindings("u1").await, all);
    assert_eq!(t.bindings("U1").await, all);
    assert_eq!(t.bindings("u2").await, json!([]));

    // The user entity shows them as pushInfo with `device_Id`.
    let user = t.user("u1").await;
    assert_eq!(
        user["pushInfo"],
        json!([
            push_info(dev, "0-fcm", "tok-3"),
            push_info(dev, "104410638", "tok-2"),
            push_info("dev-2", "104410638", "tok-4"),
        ])
    );
    for info in user["pushInfo"].as_array().unwrap() {
        assert!(info.get("device_id").is_none(), "{info}");
    }
    assert_eq!(t.user("u2").await["pushInfo"], json!([]));
    // The user list shows them as well.
    let (s, b) = t.get("/users").await;
    assert_eq!(s, OK, "{b}");
    let u1 = b["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "u1")
        .unwrap();
    assert_eq!(u1["pushInfo"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn empty_token_unbinds_one_notifier_and_empty_notifier_unbinds_the_device() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.bind("u1", "dev-1", "n1", "t1").await;
    t.bind("u1", "dev-1", "n2", "t2").await;
    t.bind("u1", "dev-2", "n1", "t3").await;
    // Another user on the same device id and notifier must not be touched.
    t.bind("u2", "dev-1", "n1", "t4").await;
    let u2 = json!([binding("dev-1", "n1", "t4")]);

    // Empty device_token: unbind (user, device, notifier); the answer is that device's rest.
    assert_eq!(
        t.bind("u1", "dev-1", "n1", "").await,
        json!([binding("dev-1", "n2", "t2")])
    );
    assert_eq!(
        t.bindings("u1").await,
        json!([binding("dev-1", "n2", "t2"), binding("dev-2", "n1", "t3")])
    );
    assert_eq!(t.bindings("u2").await, u2);

    // Empty notifier_name: unbind the device from every notifier, whatever the token says.
    t.bind("u1", "dev-1", "n3", "t5").await;
    assert_eq!(t.bind("u1", "dev-1", "", "ignored").await, json!([]));
    assert_eq!(
        t.bindings("u1").await,
        json!([binding("dev-2", "n1", "t3")])
    );
    assert_eq!(t.bindings("u2").await, u2);

    // Unbinding what is not bound: 200, nothing changes.
    assert_eq!(t.bind("u1", "dev-1", "", "").await, json!([]));
    assert_eq!(t.bind("u1", "dev-9", "n1", "").await, json!([]));
    assert_eq!(
        t.bind("u1", "dev-2", "n9", "").await,
        json!([binding("dev-2", "n1", "t3")])
    );
    assert_eq!(
        t.bindings("u1").await,
        json!([binding("dev-2", "n1", "t3")])
    );
    assert_eq!(
        t.user("u1").await["pushInfo"],
        json!([push_info("dev-2", "n1", "t3")])
    );
    assert_eq!(t.bindings("u2").await, u2);
}

#[tokio::test]
async fn a_token_bound_by_another_user_moves_to_that_user() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.bind("u1", "dev-1", "n1", "T").await;
    t.bind("u1", "dev-1", "n2", "other").await;
    // u2 binds the same (notifier, token): it leaves u1.
    assert_eq!(
        t.bind("u2", "dev-2", "n1", "T").await,
        json!([binding("dev-2", "n1", "T")])
    );
    assert_eq!(
        t.bindings("u1").await,
        json!([binding("dev-1", "n2", "other")])
    );
    assert_eq!(t.bindings("u2").await, json!([binding("dev-2", "n1", "T")]));
    assert_eq!(
        t.user("u1").await["pushInfo"],
        json!([push_info("dev-1", "n2", "other")])
    );

    // The same token under another notifier is another binding: nothing moves.
    t.bind("u1", "dev-1", "n3", "T").await;
    assert_eq!(t.bindings("u2").await, json!([binding("dev-2", "n1", "T")]));
    assert_eq!(
        t.bindings("u1").await,
        json!([binding("dev-1", "n2", "other"), binding("dev-1", "n3", "T")])
    );

    // The same user on a new device: the token follows the new install.
    t.bind("u2", "dev-3", "n1", "T").await;
    assert_eq!(t.bindings("u2").await, json!([binding("dev-3", "n1", "T")]));
    // Binding again exactly the same is a no-op.
    t.bind("u2", "dev-3", "n1", "T").await;
    assert_eq!(t.bindings("u2").await, json!([binding("dev-3", "n1", "T")]));
    // And back to u1 on its old device.
    t.bind("u1", "dev-1", "n1", "T").await;
    assert_eq!(t.bindings("u2").await, json!([]));
    assert_eq!(
        t.bindings("u1").await,
        json!([
            binding("dev-1", "n1", "T"),
            binding("dev-1", "n2", "other"),
            binding("dev-1", "n3", "T"),
        ])
    );
}

#[tokio::test]
async fn binding_refuses_bad_input_and_changes_nothing() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.seed(&["u1", "u2"]).await;
    // u2's token, so that a wrongly accepted call would move it.
    let p = "/users/u1/push/binding";
    let put = Method::PUT;
    let ok = |k: &str, v: Value| {
        let mut b = json!({"device_id": "dev-x", "notifier_name": "n1", "device_token": "tok-u2"});
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = json!({"device_id": "dev-x", "notifier_name": "n1", "device_token": "tok-u2"});
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases = vec![
        bad_raw(
            put.clone(),
            p,
            Some("{\"device_id\": \"dev-x\","),
            "not valid JSON",
        ),
        bad_raw(put.clone(), p, Some("device_id=dev-x"), "not valid JSON"),
        bad_raw(put.clone(), p, None, "request body is empty"),
        bad_json(
            put.clone(),
            p,
            json!(["dev-x", "n1", "tok-u2"]),
            "expected a JSON object",
        ),
        bad_json(put.clone(), p, json!("dev-x"), "expected a JSON object"),
        bad_json(put.clone(), p, json!(null), "expected a JSON object"),
        bad_json(
            put.clone(),
            p,
            json!({}),
            "parameters is invalid : device_id must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            without("device_id"),
            "parameters is invalid : device_id must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            without("notifier_name"),
            "parameters is invalid : notifier_name must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            without("device_token"),
            "parameters is invalid : device_token must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"device_id": "dev-u1", "notifier_name": ""}),
            "device_token must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_id", json!(5)),
            "invalid value for device_id",
        ),
        bad_json(
            put.clone(),
            p,
            ok("notifier_name", json!(["n1"])),
            "invalid value for notifier_name",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_token", json!({"t": 1})),
            "invalid value for device_token",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_token", json!(true)),
            "invalid value for device_token",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_id", json!(null)),
            "device_id must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_id", json!("")),
            "parameters is invalid : device_id must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_id", json!("d".repeat(65))),
            "device_id must be 1 to 64 characters",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_id", json!("dev x")),
            "device_id may only contain",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_id", json!("dev/x")),
            "device_id may only contain",
        ),
        bad_json(
            put.clone(),
            p,
            ok("notifier_name", json!("n".repeat(129))),
            "notifier_name must be 1 to 128 characters",
        ),
        bad_json(
            put.clone(),
            p,
            ok("notifier_name", json!("a/b")),
            "notifier_name may only contain",
        ),
        bad_json(
            put.clone(),
            p,
            ok("notifier_name", json!("a b")),
            "notifier_name may only contain",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_token", json!("t".repeat(1025))),
            "device_token must be 1 to 1024 characters",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_token", json!("to ken")),
            "device_token may only contain",
        ),
        bad_json(
            put.clone(),
            p,
            ok("device_token", json!("tökén")),
            "device_token may only contain",
        ),
        // Unknown users: bind, unbind one notifier, unbind a device.
        bad_json(
            put.clone(),
            "/users/ghost/push/binding",
            ok("device_id", json!("dev-u1")),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            "/users/ghost/push/binding",
            ok("device_token", json!("")),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            "/users/ghost/push/binding",
            ok("notifier_name", json!("")),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            "/users/bad%20name/push/binding",
            ok("device_id", json!("dev-u1")),
            NO_USER,
        ),
        bad_raw(Method::GET, "/users/ghost/push/binding", None, NO_USER),
        bad_raw(
            Method::GET,
            &format!("/users/{}/push/binding", "x".repeat(65)),
            None,
            NO_USER,
        ),
    ];
    t.refused(&["u1", "u2"], &cases).await;
    let got = t.get("/users/ghost/push/binding").await;
    assert_eq!(
        got.1["exception"], "RequiredPropertyNotFoundException",
        "{}",
        got.1
    );
    // The maximum lengths are accepted.
    let long_dev = "d".repeat(64);
    let long_notifier = "n".repeat(128);
    t.s.notifier(&t.p, &t.tok, &long_notifier).await;
    let long_token = "t".repeat(1024);
    assert_eq!(
        t.bind("u1", &long_dev, &long_notifier, &long_token).await,
        json!([binding(&long_dev, &long_notifier, &long_token)])
    );
}

// ---- batch push nickname -----------------------------------------------------------------

#[tokio::test]
async fn push_nickname_sets_nicknames_in_a_batch() {
    let t = T::new().await;
    t.users(&["a", "b"]).await;
    t.s.clock.advance_ms(1_000);
    let got = t
        .put(
            "/push/nickname",
            json!([
                {"username": "a", "push_nickname": "推送昵称-1"},
                {"username": "B", "push_nickname": "nick b", "extra": 1},
            ]),
        )
        .await;
    let entities = t.im(got, "put", "/push", "/push/nickname", "entities");
    assert_eq!(
        entities,
        json!([
            {"push_nickname": "推送昵称-1", "username": "a"},
            {"push_nickname": "nick b", "username": "b"},
        ])
    );
    let a = t.user("a").await;
    assert_eq!(a["nickname"], "推送昵称-1");
    assert_eq!(a["modified"], json!(t.now()));
    assert_eq!(t.user("b").await["nickname"], "nick b");

    // Exactly 50 items and 100 characters are allowed; the last item for a user wins.
    let mut items: Vec<Value> = (0..49)
        .map(|i| json!({"username": "a", "push_nickname": format!("n{i}")}))
        .collect();
    items.push(json!({"username": "b", "push_nickname": "昵".repeat(100)}));
    let got = t.put("/push/nickname", Value::Array(items)).await;
    let entities = t.im(got, "put", "/push", "/push/nickname", "entities");
    assert_eq!(entities.as_array().unwrap().len(), 50);
    assert_eq!(t.user("a").await["nickname"], "n48");
    assert_eq!(t.user("b").await["nickname"], json!("昵".repeat(100)));

    // An empty nickname clears it.
    let got = t
        .put(
            "/push/nickname",
            json!([{"username": "a", "push_nickname": ""}]),
        )
        .await;
    assert_eq!(got.0, OK, "{}", got.1);
    assert_eq!(t.user("a").await["nickname"], "");
}

#[tokio::test]
async fn push_nickname_refuses_bad_input_and_changes_nothing() {
    let t = T::new().await;
    t.users(&["a", "b"]).await;
    t.seed(&["a", "b"]).await;
    let p = "/push/nickname";
    let put = Method::PUT;
    let fifty_one: Vec<Value> = (0..51)
        .map(|_| json!({"username": "a", "push_nickname": "x"}))
        .collect();
    let cases = vec![
        bad_json(
            put.clone(),
            p,
            json!([]),
            "put user push nicknames illegal empty request body",
        ),
        bad_json(
            put.clone(),
            p,
            Value::Array(fifty_one),
            "put user push nicknames exceeds the limit",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": "n".repeat(101)}]),
            "a push nickname length exceeds the limit",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": "ok"}, {"username": "b", "push_nickname": "昵".repeat(101)}]),
            "b push nickname length exceeds the limit",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": "a\u{1}b"}]),
            "push_nickname must not contain control characters",
        ),
        bad_raw(
            put.clone(),
            p,
            Some("[{\"username\": \"a\""),
            "not valid JSON",
        ),
        bad_raw(put.clone(), p, None, "request body is empty"),
        bad_json(
            put.clone(),
            p,
            json!({"username": "a", "push_nickname": "x"}),
            "body must be an array",
        ),
        bad_json(put.clone(), p, json!("a"), "body must be an array"),
        bad_json(put.clone(), p, json!(null), "body must be an array"),
        bad_json(put.clone(), p, json!(["a"]), "invalid push nickname item"),
        bad_json(
            put.clone(),
            p,
            json!([["a", "x"]]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": "ok"}, ["b", "x"]]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a"}]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"push_nickname": "x"}]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": 5, "push_nickname": "x"}]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": 5}]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": null}]),
            "invalid push nickname item",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "bad name", "push_nickname": "x"}]),
            "username may only contain",
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "", "push_nickname": "x"}]),
            "username must be provided",
        ),
        // An unknown user fails the whole call, wherever it is in the list.
        bad_json(
            put.clone(),
            p,
            json!([{"username": "a", "push_nickname": "new a"}, {"username": "ghost", "push_nickname": "g"}]),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            p,
            json!([{"username": "ghost", "push_nickname": "g"}, {"username": "b", "push_nickname": "new b"}]),
            "ghost",
        ),
    ];
    t.refused(&["a", "b"], &cases).await;
    assert_eq!(t.user("a").await["nickname"], "nick a");
    assert_eq!(t.user("b").await["nickname"], "nick b");
}

#[tokio::test]
async fn push_nickname_limits_follow_the_config() {
    let t = T::with(|c| {
        c.limits.nicknames_per_batch = 2;
        c.limits.nickname_max_chars = 5;
    })
    .await;
    t.users(&["a"]).await;
    let item = json!({"username": "a", "push_nickname": "abcde"});
    let got = t.put("/push/nickname", json!([item, item])).await;
    assert_eq!(got.0, OK, "{}", got.1);
    t.refused(
        &["a"],
        &[
            bad_json(
                Method::PUT,
                "/push/nickname",
                json!([item, item, item]),
                "put user push nicknames exceeds the limit",
            ),
            bad_json(
                Method::PUT,
                "/push/nickname",
                json!([{"username": "a", "push_nickname": "abcdef"}]),
                "a push nickname length exceeds the limit",
            ),
        ],
    )
    .await;
    assert_eq!(t.user("a").await["nickname"], "abcde");
}

// ---- do-not-disturb ----------------------------------------------------------------------

#[tokio::test]
async fn dnd_defaults_and_envelope() {
    let t = T::new().await;
    t.users(&["u"]).await;
    // App level: ALL; conversations: DEFAULT (use the app setting).
    assert_eq!(t.get_dnd("u", "user", "u").await, dnd("ALL", "", 0));
    assert_eq!(t.get_dnd("U", "user", "U").await, dnd("ALL", "", 0));
    assert_eq!(t.get_dnd("u", "user", "peer").await, dnd("DEFAULT", "", 0));
    assert_eq!(
        t.get_dnd("u", "chatgroup", "12345").await,
        dnd("DEFAULT", "", 0)
    );
}

#[tokio::test]
async fn dnd_app_level_duration_is_an_absolute_end_that_runs_out() {
    let t = T::new().await;
    t.users(&["u"]).await;
    let t0 = t.now();
    let set = t
        .put_dnd(
            "u",
            "user",
            "u",
            json!({"type": "NONE", "ignoreInterval": "21:30-08:00", "ignoreDuration": 86_400_000}),
        )
        .await;
    assert_eq!(set, dnd("NONE", "21:30-08:00", t0 + 86_400_000));
    assert_eq!(
        t.get_dnd("u", "user", "u").await,
        dnd("NONE", "21:30-08:00", t0 + 86_400_000)
    );

    // Fields left out keep their value; the end does not move with the clock.
    t.s.clock.advance_ms(1_000);
    assert_eq!(
        t.put_dnd("u", "user", "u", json!({"type": "AT"})).await,
        dnd("AT", "21:30-08:00", t0 + 86_400_000)
    );
    t.s.clock.advance_ms(86_400_000 - 1_001);
    assert_eq!(
        t.get_dnd("u", "user", "u").await,
        dnd("AT", "21:30-08:00", t0 + 86_400_000)
    );
    // At the end it reads as off.
    t.s.clock.advance_ms(1);
    assert_eq!(
        t.get_dnd("u", "user", "u").await,
        dnd("AT", "21:30-08:00", 0)
    );
    t.s.clock.advance_ms(7 * 86_400_000);
    assert_eq!(
        t.get_dnd("u", "user", "u").await,
        dnd("AT", "21:30-08:00", 0)
    );
    // ...also in the answer to a PUT that leaves the duration alone.
    assert_eq!(
        t.put_dnd("u", "user", "u", json!({"type": "ALL"})).await,
        dnd("ALL", "21:30-08:00", 0)
    );

    // A new duration counts from now; a string works too.
    let t1 = t.now();
    assert_eq!(
        t.put_dnd("u", "user", "u", json!({"ignoreDuration": "3600000"}))
            .await,
        dnd("ALL", "21:30-08:00", t1 + 3_600_000)
    );
    // 0 (or "0") turns it off; "" clears the interval.
    assert_eq!(
        t.put_dnd(
            "u",
            "user",
            "u",
            json!({"ignoreDuration": 0, "ignoreInterval": ""})
        )
        .await,
        dnd("ALL", "", 0)
    );
    t.put_dnd("u", "user", "u", json!({"ignoreDuration": 5}))
        .await;
    assert_eq!(
        t.put_dnd("u", "user", "u", json!({"ignoreDuration": "0"}))
            .await,
        dnd("ALL", "", 0)
    );
    // The limits of the range are allowed.
    let t2 = t.now();
    assert_eq!(
        t.put_dnd("u", "user", "u", json!({"ignoreDuration": MAX_DND}))
            .await,
        dnd("ALL", "", t2 + MAX_DND)
    );
    assert_eq!(
        t.put_dnd(
            "u",
            "user",
            "u",
            json!({"ignoreDuration": format!(" {MAX_DND} ")})
        )
        .await,
        dnd("ALL", "", t2 + MAX_DND)
    );
    // A null field is a missing field.
    assert_eq!(
        t.put_dnd(
            "u",
            "user",
            "u",
            json!({"type": null, "ignoreInterval": null, "ignoreDuration": null})
        )
        .await,
        dnd("ALL", "", t2 + MAX_DND)
    );
    // Every app-level type; the user's own id in any case is the app level.
    for kind in ["ALL", "AT", "NONE"] {
        assert_eq!(
            t.put_dnd("u", "user", "U", json!({"type": kind})).await["type"],
            kind
        );
        assert_eq!(t.get_dnd("u", "user", "u").await["type"], kind);
    }
    // Interval forms: all day, and wrapping past midnight.
    for interval in ["00:00-00:00", "10:00-10:00", "23:59-00:00", "08:00-18:00"] {
        assert_eq!(
            t.put_dnd("u", "user", "u", json!({"ignoreInterval": interval}))
                .await["ignoreInterval"],
            interval
        );
    }
}

#[tokio::test]
async fn dnd_conversation_settings_are_separate() {
    let t = T::new().await;
    t.users(&["u", "peer"]).await;
    let now = t.now();
    for kind in ["DEFAULT", "ALL", "AT", "NONE"] {
        assert_eq!(
            t.put_dnd("u", "user", "peer", json!({"type": kind})).await,
            dnd(kind, "", 0)
        );
        assert_eq!(
            t.get_dnd("u", "chatgroup", "g-1").await,
            dnd("DEFAULT", "", 0)
        );
    }
    assert_eq!(
        t.put_dnd("u", "user", "PEER", json!({"ignoreDuration": 1_000}))
            .await,
        dnd("NONE", "", now + 1_000)
    );
    assert_eq!(
        t.put_dnd(
            "u",
            "chatgroup",
            "g-1",
            json!({"type": "AT", "ignoreInterval": ""})
        )
        .await,
        dnd("AT", "", 0)
    );
    // Conversation keys are per user and per chat type.
    assert_eq!(
        t.get_dnd("u", "user", "peer").await,
        dnd("NONE", "", now + 1_000)
    );
    assert_eq!(t.get_dnd("u", "chatgroup", "g-1").await, dnd("AT", "", 0));
    assert_eq!(
        t.get_dnd("u", "chatgroup", "peer").await,
        dnd("DEFAULT", "", 0)
    );
    assert_eq!(t.get_dnd("u", "user", "g-1").await, dnd("DEFAULT", "", 0));
    assert_eq!(t.get_dnd("peer", "user", "u").await, dnd("DEFAULT", "", 0));
    assert_eq!(t.get_dnd("u", "user", "u").await, dnd("ALL", "", 0));
    assert_eq!(t.get_dnd("peer", "user", "peer").await, dnd("ALL", "", 0));
    // The conversation's one-shot DND runs out like the app's.
    t.s.clock.advance_ms(1_000);
    assert_eq!(t.get_dnd("u", "user", "peer").await, dnd("NONE", "", 0));
}

#[tokio::test]
async fn dnd_refuses_bad_input_and_changes_nothing() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.seed(&["u1", "u2"]).await;
    let app = "/users/u1/notification/user/u1";
    let peer = "/users/u1/notification/user/peer";
    let group = "/users/u1/notification/chatgroup/g1";
    let put = Method::PUT;
    let mut cases = vec![
        // The body.
        bad_raw(
            put.clone(),
            app,
            Some("{\"type\": \"NONE\""),
            "not valid JSON",
        ),
        bad_raw(put.clone(), app, Some("type=NONE"), "not valid JSON"),
        bad_raw(put.clone(), app, None, "request body is empty"),
        bad_json(
            put.clone(),
            app,
            json!(["NONE", "", 0]),
            "expected a JSON object",
        ),
        bad_json(put.clone(), app, json!("NONE"), "expected a JSON object"),
        // type
        bad_json(
            put.clone(),
            app,
            json!({"type": "all"}),
            "type must be one of DEFAULT, ALL, AT, NONE",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"type": "SOME"}),
            "type must be one of DEFAULT, ALL, AT, NONE",
        ),
        bad_json(put.clone(), app, json!({"type": ""}), "type must be one of"),
        bad_json(
            put.clone(),
            app,
            json!({"type": 1}),
            "invalid value for type",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"type": ["NONE"]}),
            "invalid value for type",
        ),
        // ignoreInterval
        bad_json(
            put.clone(),
            app,
            json!({"ignoreInterval": 800}),
            "invalid value for ignoreInterval",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreInterval": true}),
            "invalid value for ignoreInterval",
        ),
        // ignoreDuration
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": -1}),
            "ignoreDuration must be from 0 to 604800000 ms, got -1",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": MAX_DND + 1}),
            "ignoreDuration must be from 0 to 604800000 ms, got 604800001",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": "604800001"}),
            "ignoreDuration must be from 0 to 604800000",
        ),
        bad_json(
            put.clone(),
            peer,
            json!({"ignoreDuration": -5}),
            "ignoreDuration must be from 0 to 604800000",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": "abc"}),
            "ignoreDuration must be an integer",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": ""}),
            "ignoreDuration must be an integer",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": 1.5}),
            "ignoreDuration must be an integer",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": true}),
            "ignoreDuration must be an integer",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": [1]}),
            "ignoreDuration must be an integer",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"ignoreDuration": u64::MAX}),
            "ignoreDuration must be an integer",
        ),
        // A valid field next to an invalid one: nothing of it is kept.
        bad_json(
            put.clone(),
            app,
            json!({"type": "NONE", "ignoreInterval": "", "ignoreDuration": -1}),
            "ignoreDuration",
        ),
        bad_json(
            put.clone(),
            app,
            json!({"type": "NONE", "ignoreInterval": "25:00-01:00"}),
            "ignoreInterval must look like HH:MM-HH:MM",
        ),
        bad_json(
            put.clone(),
            peer,
            json!({"type": "ALL", "ignoreDuration": 10, "ignoreInterval": "01:00-26:00"}),
            "ignoreInterval must look like HH:MM-HH:MM",
        ),
        bad_json(
            put.clone(),
            group,
            json!({"type": "NONE", "ignoreInterval": "8-10"}),
            "ignoreInterval must look like HH:MM-HH:MM",
        ),
        // The path.
        bad_json(
            put.clone(),
            "/users/u1/notification/group/g1",
            json!({"type": "NONE"}),
            "chattype must be user or chatgroup",
        ),
        bad_json(
            put.clone(),
            "/users/u1/notification/USER/u1",
            json!({"type": "NONE"}),
            "chattype must be user or chatgroup",
        ),
        bad_json(
            put.clone(),
            "/users/u1/notification/user/bad%20key",
            json!({"type": "NONE"}),
            "parameters is invalid",
        ),
        bad_json(
            put.clone(),
            &format!("/users/u1/notification/user/{}", "k".repeat(65)),
            json!({"type": "NONE"}),
            "parameters is invalid",
        ),
        bad_json(
            put.clone(),
            "/users/u1/notification/chatgroup/g%2F1",
            json!({"type": "NONE"}),
            "parameters is invalid",
        ),
        bad_json(
            put.clone(),
            "/users/ghost/notification/user/ghost",
            json!({"type": "NONE"}),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            "/users/ghost/notification/user/u1",
            json!({"ignoreDuration": 10}),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            "/users/bad%20name/notification/user/u1",
            json!({"type": "NONE"}),
            NO_USER,
        ),
        bad_raw(
            Method::GET,
            "/users/ghost/notification/user/ghost",
            None,
            NO_USER,
        ),
        bad_raw(
            Method::GET,
            "/users/ghost/notification/chatgroup/g1",
            None,
            NO_USER,
        ),
        bad_raw(
            Method::GET,
            "/users/u1/notification/group/g1",
            None,
            "chattype must be user or chatgroup",
        ),
        bad_raw(
            Method::GET,
            "/users/u1/notification/user/bad%20key",
            None,
            "parameters is invalid",
        ),
    ];
    for interval in [
        "800-900",
        "24:00-01:00",
        "10:60-11:00",
        "10:00",
        "10:00-",
        "aa:bb-cc:dd",
        "10:00-11:00-12:00",
        " 10:00-11:00",
    ] {
        cases.push(bad_json(
            put.clone(),
            app,
            json!({"ignoreInterval": interval}),
            "ignoreInterval must look like HH:MM-HH:MM",
        ));
    }
    t.refused(&["u1", "u2"], &cases).await;
}

// ---- preferred language ------------------------------------------------------------------

#[tokio::test]
async fn language_put_and_get() {
    let t = T::new().await;
    t.users(&["u"]).await;
    assert_eq!(t.language("u").await, json!({"language": ""}));
    let path = "/users/u/notification/language";
    for lang in ["EU", "zh-Hans_1", "en", "", "abcdefghijklmnop"] {
        t.s.clock.advance_ms(1);
        let got = t.put(path, json!({"translationLanguage": lang})).await;
        assert_eq!(
            t.im(got, "put", "/users", path, "data"),
            json!({ "language": lang })
        );
        assert_eq!(t.language("u").await, json!({ "language": lang }));
        assert_eq!(t.language("U").await, json!({ "language": lang }));
        assert_eq!(t.user("u").await["modified"], json!(t.now()));
    }
    // Unknown fields are ignored.
    let got = t
        .put(path, json!({"translationLanguage": "fr", "other": [1]}))
        .await;
    assert_eq!(
        t.im(got, "put", "/users", path, "data"),
        json!({"language": "fr"})
    );
}

#[tokio::test]
async fn language_refuses_bad_input_and_changes_nothing() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.seed(&["u1", "u2"]).await;
    let p = "/users/u1/notification/language";
    let put = Method::PUT;
    let cases = vec![
        bad_raw(
            put.clone(),
            p,
            Some("{\"translationLanguage\": "),
            "not valid JSON",
        ),
        bad_raw(
            put.clone(),
            p,
            Some("translationLanguage=fr"),
            "not valid JSON",
        ),
        bad_raw(put.clone(), p, None, "request body is empty"),
        bad_json(put.clone(), p, json!(["fr"]), "expected a JSON object"),
        bad_json(put.clone(), p, json!("fr"), "expected a JSON object"),
        bad_json(
            put.clone(),
            p,
            json!({}),
            "parameters is invalid : translationLanguage must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"language": "fr"}),
            "translationLanguage must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": null}),
            "translationLanguage must be provided",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": 7}),
            "invalid value for translationLanguage",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": ["fr"]}),
            "invalid value for translationLanguage",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": "a".repeat(17)}),
            "translationLanguage must be a language code of at most 16",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": "e u"}),
            "translationLanguage must be a language code",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": "中文"}),
            "translationLanguage must be a language code",
        ),
        bad_json(
            put.clone(),
            p,
            json!({"translationLanguage": "fr;"}),
            "translationLanguage must be a language code",
        ),
        bad_json(
            put.clone(),
            "/users/ghost/notification/language",
            json!({"translationLanguage": "fr"}),
            NO_USER,
        ),
        bad_json(
            put.clone(),
            "/users/bad%20name/notification/language",
            json!({"translationLanguage": "fr"}),
            NO_USER,
        ),
        bad_raw(
            Method::GET,
            "/users/ghost/notification/language",
            None,
            NO_USER,
        ),
    ];
    t.refused(&["u1", "u2"], &cases).await;
    assert_eq!(t.language("u1").await, json!({"language": "EU"}));
}

// ---- across the endpoints ----------------------------------------------------------------

#[tokio::test]
async fn settings_endpoints_need_the_app_token() {
    let t = T::new().await;
    t.users(&["u1"]).await;
    t.seed(&["u1"]).await;
    let other = TestServer::start().await;
    let (_, foreign) = other.app_with_token("acme", "shop").await;
    let calls: Vec<(Method, &str, Option<String>)> = vec![
        (
            Method::PUT,
            "/users/u1/push/binding",
            Some(json!({"device_id": "d", "notifier_name": "n", "device_token": "t"}).to_string()),
        ),
        (Method::GET, "/users/u1/push/binding", None),
        (
            Method::PUT,
            "/push/nickname",
            Some(json!([{"username": "u1", "push_nickname": "x"}]).to_string()),
        ),
        (
            Method::PUT,
            "/users/u1/notification/user/u1",
            Some(json!({"type": "NONE"}).to_string()),
        ),
        (Method::GET, "/users/u1/notification/user/u1", None),
        (
            Method::PUT,
            "/users/u1/notification/language",
            Some(json!({"translationLanguage": "fr"}).to_string()),
        ),
        (Method::GET, "/users/u1/notification/language", None),
    ];
    let before = t.snapshot(&["u1"]).await;
    for (m, path, body) in calls {
        for tok in [None, Some("garbage"), Some(foreign.as_str())] {
            let got =
                t.s.call_raw(
                    m.clone(),
                    &t.url(path),
                    tok,
                    body.as_deref(),
                    Some("application/json"),
                )
                .await;
            assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");
        }
    }
    assert_eq!(t.snapshot(&["u1"]).await, before);
}

#[tokio::test]
async fn settings_bodies_are_json_whatever_the_content_type() {
    let t = T::new().await;
    t.users(&["u1"]).await;
    let body = json!({"device_id": "d1", "notifier_name": "n1", "device_token": "t1"}).to_string();
    for ct in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ] {
        let got =
            t.s.call_raw(
                Method::PUT,
                &t.url("/users/u1/push/binding"),
                Some(&t.tok),
                Some(&body),
                ct,
            )
            .await;
        assert_eq!(
            t.binding_entities(got, "put"),
            json!([binding("d1", "n1", "t1")])
        );
    }
    let body = json!({"translationLanguage": "fr"}).to_string();
    let got =
        t.s.call_raw(
            Method::PUT,
            &t.url("/users/u1/notification/language"),
            Some(&t.tok),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(got.0, OK, "{}", got.1);
    let body = json!({"type": "NONE"}).to_string();
    let got =
        t.s.call_raw(
            Method::PUT,
            &t.url("/users/u1/notification/user/u1"),
            Some(&t.tok),
            Some(&body),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(got.0, OK, "{}", got.1);
    let body = json!([{"username": "u1", "push_nickname": "n"}]).to_string();
    let got =
        t.s.call_raw(
            Method::PUT,
            &t.url("/push/nickname"),
            Some(&t.tok),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(got.0, OK, "{}", got.1);
    let snap = t.snapshot(&["u1"]).await;
    assert_eq!(snap[0]["language"], json!({"language": "fr"}));
    assert_eq!(snap[0]["app_dnd"]["type"], "NONE");
    assert_eq!(snap[0]["user"]["nickname"], "n");
}

#[tokio::test]
async fn deleting_a_user_clears_its_bindings_and_settings() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.seed(&["u1", "u2"]).await;
    let u2_before = t.snapshot(&["u2"]).await;
    let (s, b) = t.s.delete(&t.url("/users/u1"), &t.tok, None).await;
    assert_eq!(s, OK, "{b}");
    for path in [
        "/users/u1/push/binding",
        "/users/u1/notification/user/u1",
        "/users/u1/notification/language",
    ] {
        assert_error(&t.get(path).await, BAD, NO_USER);
    }
    // The same name registered again starts from scratch.
    t.users(&["u1"]).await;
    assert_eq!(t.bindings("u1").await, json!([]));
    assert_eq!(t.user("u1").await["pushInfo"], json!([]));
    assert_eq!(t.user("u1").await["nickname"], "");
    assert_eq!(t.get_dnd("u1", "user", "u1").await, dnd("ALL", "", 0));
    assert_eq!(t.get_dnd("u1", "user", "peer").await, dnd("DEFAULT", "", 0));
    assert_eq!(
        t.get_dnd("u1", "chatgroup", "g1").await,
        dnd("DEFAULT", "", 0)
    );
    assert_eq!(t.language("u1").await, json!({"language": ""}));
    assert_eq!(t.snapshot(&["u2"]).await, u2_before);
    // The old token is free for anyone.
    t.bind("u2", "dev-9", "n1", "tok-u1").await;
    assert_eq!(
        t.bindings("u2").await,
        json!([
            binding("dev-9", "n1", "tok-u1"),
            binding("dev-u2", "n1", "tok-u2")
        ])
    );
}

#[tokio::test]
async fn binding_and_settings_have_their_own_rate_limits() {
    // Bindings (PUT and GET combined) and the user settings are limited per app key, in
    // separate groups. The limiter runs on real time, so only assertions that hold however
    // slow the machine is: a fresh bucket admits its first request, and five requests at 1/s
    // cannot all pass unless they take four seconds.
    let t = T::with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.binding = 1;
        c.rate_limits.user_settings = 1;
        c.rate_limits.users = 1_000;
        c.rate_limits.token = 1_000;
    })
    .await;
    t.users(&["u1"]).await;
    assert_eq!(
        t.bind("u1", "d1", "n1", "t1").await,
        json!([binding("d1", "n1", "t1")])
    );
    // A different group: admitted although the binding group is spent.
    let got = t
        .put(
            "/push/nickname",
            json!([{"username": "u1", "push_nickname": "first"}]),
        )
        .await;
    assert_eq!(got.0, OK, "{}", got.1);

    // PUT and GET share the binding group; a refused PUT binds nothing.
    let mut limited = 0;
    let mut bound = vec![binding("d1", "n1", "t1")];
    for i in 0..5 {
        let got = if i % 2 == 0 {
            t.put(
                "/users/u1/push/binding",
                json!({"device_id": format!("burst{i}"), "notifier_name": "n1", "device_token": format!("bt{i}")}),
            )
            .await
        } else {
            t.get("/users/u1/push/binding").await
        };
        if got.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "reached api limit");
            limited += 1;
        } else {
            assert_eq!(got.0, OK, "{}", got.1);
            if i % 2 == 0 {
                bound.push(binding(&format!("burst{i}"), "n1", &format!("bt{i}")));
            }
        }
    }
    assert!(limited >= 1, "five binding calls at 1/s all passed");
    // Read back through the user entity (the users group is not limited here).
    let info: Vec<Value> = bound
        .iter()
        .map(|b| {
            push_info(
                b["device_id"].as_str().unwrap(),
                "n1",
                b["device_token"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(t.user("u1").await["pushInfo"], json!(info));

    // Nickname, do-not-disturb and language share the settings group.
    let mut limited = 0;
    let mut nickname = "first".to_owned();
    for i in 0..6 {
        let got = match i % 3 {
            0 => {
                t.put(
                    "/push/nickname",
                    json!([{"username": "u1", "push_nickname": format!("n{i}")}]),
                )
                .await
            }
            1 => {
                t.put("/users/u1/notification/user/u1", json!({"type": "NONE"}))
                    .await
            }
            _ => {
                t.put(
                    "/users/u1/notification/language",
                    json!({"translationLanguage": "fr"}),
                )
                .await
            }
        };
        if got.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "reached api limit");
            limited += 1;
        } else {
            assert_eq!(got.0, OK, "{}", got.1);
            if i % 3 == 0 {
                nickname = format!("n{i}");
            }
        }
    }
    assert!(limited >= 1, "six settings calls at 1/s all passed");
    // The user endpoints are another group, still open; a refused nickname changed nothing.
    assert_eq!(t.user("u1").await["nickname"], json!(nickname));
}

#[tokio::test]
async fn binding_needs_an_existing_push_certificate() {
    let t = T::new().await;
    t.users(&["u1"]).await;
    let body = json!({"device_id": "d1", "notifier_name": "unknown-cert", "device_token": "tok-1"});
    let got =
        t.s.put(&t.url("/users/u1/push/binding"), &t.tok, body)
            .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .contains("unknown-cert is not a push certificate"),
        "{}",
        got.1
    );
    assert_eq!(t.bindings("u1").await, json!([]), "nothing was bound");
    // Unbinding never needs the certificate.
    let body = json!({"device_id": "d1", "notifier_name": "unknown-cert", "device_token": ""});
    assert_eq!(
        t.s.put(&t.url("/users/u1/push/binding"), &t.tok, body)
            .await
            .0,
        StatusCode::OK
    );
    // Once the certificate exists, the binding is taken.
    t.s.notifier(&t.p, &t.tok, "unknown-cert").await;
    let body = json!({"device_id": "d1", "notifier_name": "unknown-cert", "device_token": "tok-1"});
    assert_eq!(
        t.s.put(&t.url("/users/u1/push/binding"), &t.tok, body)
            .await
            .0,
        StatusCode::OK
    );
}
