//! End-to-end tests of the eight push label endpoints: label CRUD, label membership, paging,
//! partial success, the label limits, and bad input that must be refused without changing
//! anything.

// The shared harness builds its config field by field; that lint is its business.
mod common;

use common::{assert_error, TestServer};
use openpush_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const OK: StatusCode = StatusCode::OK;
const BAD: StatusCode = StatusCode::BAD_REQUEST;

/// A server with one app and its token.
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
    content_type: Option<&'static str>,
    status: StatusCode,
    text: String,
}

fn bad_raw(method: Method, path: &str, body: Option<&str>, status: StatusCode, text: &str) -> Bad {
    Bad {
        method,
        path: path.to_owned(),
        body: body.map(str::to_owned),
        content_type: Some("application/json"),
        status,
        text: text.to_owned(),
    }
}

fn bad_json(method: Method, path: &str, body: Value, status: StatusCode, text: &str) -> Bad {
    bad_raw(method, path, Some(&body.to_string()), status, text)
}

fn is_cursor(c: &str) -> bool {
    !c.is_empty()
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The push-service envelope: exactly `timestamp`, `data`, `duration`, plus a
/// top-level `cursor` when `cursor` is true.
#[track_caller]
fn assert_push_envelope(b: &Value, now: i64, cursor: bool) {
    let obj = b
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {b}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = vec!["data", "duration", "timestamp"];
    if cursor {
        want.push("cursor");
        want.sort_unstable();
    }
    assert_eq!(keys, want, "{b}");
    assert_eq!(b["timestamp"], json!(now), "{b}");
    assert!(b["duration"].is_u64(), "{b}");
    assert!(b.get("error").is_none(), "{b}");
    if cursor {
        let c = b["cursor"].as_str().unwrap_or_else(|| panic!("{b}"));
        assert!(
            is_cursor(c),
            "cursor {c:?} has characters outside [A-Za-z0-9_-]"
        );
    }
}

/// A 200 push envelope without a cursor; returns `data`.
#[track_caller]
fn data(got: (StatusCode, Value), now: i64) -> Value {
    let (s, b) = got;
    assert_eq!(s, OK, "{b}");
    assert_push_envelope(&b, now, false);
    b["data"].clone()
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

    async fn post(&self, rest: &str, body: Value) -> (StatusCode, Value) {
        self.s.post(&self.url(rest), &self.tok, body).await
    }

    async fn delete(&self, rest: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.s.delete(&self.url(rest), &self.tok, body).await
    }

    async fn users(&self, names: &[&str]) {
        self.s.users(&self.p, &self.tok, names).await;
    }

    /// Creates a label and checks the exact response.
    async fn create(&self, name: &str, description: Option<&str>) -> Value {
        let body = match description {
            Some(d) => json!({"name": name, "description": d}),
            None => json!({"name": name}),
        };
        let d = data(self.post("/push/label", body).await, self.now());
        assert_eq!(
            d,
            json!({"name": name, "description": description.unwrap_or(""), "createdAt": self.now()})
        );
        d
    }

    /// `data` of a successful add-users call.
    async fn add(&self, label: &str, users: &[&str]) -> Value {
        let got = self
            .post(
                &format!("/push/label/{label}/user"),
                json!({ "usernames": users }),
            )
            .await;
        data(got, self.now())
    }

    /// `data` of a successful remove-users call.
    async fn remove(&self, label: &str, users: &[&str]) -> Value {
        let got = self
            .delete(
                &format!("/push/label/{label}/user"),
                Some(json!({ "usernames": users })),
            )
            .await;
        data(got, self.now())
    }

    /// `data` of GET one label.
    async fn label(&self, name: &str) -> Value {
        data(self.get(&format!("/push/label/{name}")).await, self.now())
    }

    async fn count(&self, name: &str) -> i64 {
        self.label(name).await["count"].as_i64().unwrap()
    }

    /// The usernames of a label's first page of members.
    async fn members(&self, label: &str) -> Vec<String> {
        let d = data(
            self.get(&format!("/push/label/{label}/user")).await,
            self.now(),
        );
        d.as_array()
            .unwrap()
            .iter()
            .map(|m| m["username"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Every label with every member, read through the API.
    async fn snapshot(&self) -> Value {
        let labels = data(self.get("/push/label").await, self.now());
        let mut out = Vec::new();
        for l in labels.as_array().unwrap() {
            let name = l["name"].as_str().unwrap();
            let members = data(
                self.get(&format!("/push/label/{name}/user")).await,
                self.now(),
            );
            out.push(json!({"label": l, "members": members}));
        }
        Value::Array(out)
    }

    /// Sends each request, checks its error, and checks that nothing changed.
    async fn refused(&self, cases: &[Bad]) {
        let before = self.snapshot().await;
        for c in cases {
            let got = self
                .s
                .call_raw(
                    c.method.clone(),
                    &self.url(&c.path),
                    Some(&self.tok),
                    c.body.as_deref(),
                    c.content_type,
                )
                .await;
            assert_eq!(got.0, c.status, "{c:?} got {}", got.1);
            let desc = got.1["error_description"].as_str().unwrap_or_default();
            assert!(desc.contains(&c.text), "{c:?}: description {desc:?}");
            assert_error(&got, c.status, &c.text);
            assert_eq!(
                self.snapshot().await,
                before,
                "{c:?} changed the stored data"
            );
        }
    }
}

#[tokio::test]
async fn create_get_list_delete_have_the_documented_shapes() {
    let t = T::new().await;
    let first = t.now();
    t.create("post-90s", Some("hah")).await;
    t.s.clock.advance_ms(1_000);
    t.create("plain", None).await;

    assert_eq!(
        t.label("post-90s").await,
        json!({"name": "post-90s", "description": "hah", "count": 0, "createdAt": first})
    );
    assert_eq!(
        t.label("plain").await,
        json!({"name": "plain", "description": "", "count": 0, "createdAt": first + 1_000})
    );

    // The list: creation order, no cursor when everything fits.
    let list = data(t.get("/push/label").await, t.now());
    assert_eq!(
        list,
        json!([
            {"name": "post-90s", "description": "hah", "count": 0, "createdAt": first},
            {"name": "plain", "description": "", "count": 0, "createdAt": first + 1_000},
        ])
    );

    // Delete answers "success"; the label is gone, the other one stays.
    t.s.clock.advance_ms(5);
    assert_eq!(
        data(t.delete("/push/label/post-90s", None).await, t.now()),
        json!("success")
    );
    assert_error(
        &t.get("/push/label/post-90s").await,
        BAD,
        "push label not exists of post-90s",
    );
    let list = data(t.get("/push/label").await, t.now());
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "plain");
    // Deleting it again: unknown label.
    assert_error(
        &t.delete("/push/label/post-90s", None).await,
        BAD,
        "push label not exists of post-90s",
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_limits_are_inclusive() {
    let t = T::new().await;
    // SDKs may send fields we do not know.
    let got = t
        .post(
            "/push/label",
            json!({"name": "extra", "description": "d", "type": 1, "foo": {"bar": []}}),
        )
        .await;
    assert_eq!(
        data(got, t.now()),
        json!({"name": "extra", "description": "d", "createdAt": t.now()})
    );
    // 64 characters of the whole charset, and a 255-character description counted in
    // characters, not bytes.
    let long = format!("{}{}", "aZ09_.-", "x".repeat(57));
    assert_eq!(long.len(), 64);
    let desc = "描".repeat(255);
    t.create(&long, Some(&desc)).await;
    assert_eq!(t.label(&long).await["description"], json!(desc));
    // A null description is no description.
    let got = t
        .post(
            "/push/label",
            json!({"name": "nulldesc", "description": null}),
        )
        .await;
    assert_eq!(data(got, t.now())["description"], "");
}

#[tokio::test]
async fn label_names_are_case_sensitive() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.create("Aa", Some("upper")).await;
    t.create("aa", Some("lower")).await;
    assert_error(
        &t.get("/push/label/AA").await,
        BAD,
        "push label not exists of AA",
    );
    assert_error(
        &t.get("/push/label/aA").await,
        BAD,
        "push label not exists of aA",
    );

    t.add("Aa", &["u1", "u2"]).await;
    t.add("aa", &["u1"]).await;
    assert_eq!(t.label("Aa").await["description"], "upper");
    assert_eq!(t.count("Aa").await, 2);
    assert_eq!(t.count("aa").await, 1);

    data(t.delete("/push/label/aa", None).await, t.now());
    assert_eq!(t.count("Aa").await, 2);
    assert_eq!(t.members("Aa").await, ["u1", "u2"]);
    assert_error(
        &t.get("/push/label/aa").await,
        BAD,
        "push label not exists of aa",
    );
    // Creating "Aa" again is a duplicate; "aa" is free again.
    assert_error(
        &t.post("/push/label", json!({"name": "Aa"})).await,
        BAD,
        "push label already exists of Aa",
    );
    t.create("aa", None).await;
}

#[tokio::test]
async fn create_refuses_bad_input_and_changes_nothing() {
    let t = T::new().await;
    t.users(&["u1"]).await;
    t.create("keep", Some("original")).await;
    t.add("keep", &["u1"]).await;
    let post = Method::POST;
    let path = "/push/label";
    t.refused(&[
        bad_raw(
            post.clone(),
            path,
            Some("{\"name\": "),
            BAD,
            "not valid JSON",
        ),
        bad_raw(post.clone(), path, Some("name=x"), BAD, "not valid JSON"),
        bad_raw(post.clone(), path, None, BAD, "request body is empty"),
        bad_raw(post.clone(), path, Some("  "), BAD, "request body is empty"),
        // A derived struct would also take an array of its fields; Easemob bodies are objects.
        bad_json(
            post.clone(),
            path,
            json!([{"name": "x"}]),
            BAD,
            "expected a JSON object",
        ),
        bad_json(
            post.clone(),
            path,
            json!(["x"]),
            BAD,
            "expected a JSON object",
        ),
        bad_json(
            post.clone(),
            path,
            json!(["x", "desc"]),
            BAD,
            "expected a JSON object",
        ),
        bad_json(post.clone(), path, json!("x"), BAD, "invalid request body"),
        bad_json(post.clone(), path, json!(null), BAD, "invalid request body"),
        bad_json(
            post.clone(),
            path,
            json!({}),
            BAD,
            "label name must be provided",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": null}),
            BAD,
            "label name must be provided",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": ""}),
            BAD,
            "label name must be provided",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": 5}),
            BAD,
            "invalid value for name",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": ["x"]}),
            BAD,
            "invalid value for name",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": true}),
            BAD,
            "invalid value for name",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "x".repeat(65)}),
            BAD,
            "label name must be 1 to 64 characters, got 65",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "bad name"}),
            BAD,
            "label name may only contain",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "a/b"}),
            BAD,
            "label name may only contain",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "a+b"}),
            BAD,
            "label name may only contain",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "标签"}),
            BAD,
            "label name may only contain",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "x", "description": 5}),
            BAD,
            "invalid value for description",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "x", "description": {"a": 1}}),
            BAD,
            "invalid value for description",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "x", "description": "d".repeat(256)}),
            BAD,
            "description must be at most 255 characters, got 256",
        ),
        bad_json(
            post.clone(),
            path,
            json!({"name": "x", "description": "描".repeat(256)}),
            BAD,
            "description must be at most 255 characters",
        ),
        // A duplicate never overwrites the label or its members.
        bad_json(
            post.clone(),
            path,
            json!({"name": "keep", "description": "new"}),
            BAD,
            "push label already exists of keep",
        ),
    ])
    .await;
    let l = t.label("keep").await;
    assert_eq!(l["description"], "original");
    assert_eq!(l["count"], 1);
}

#[tokio::test]
async fn labels_per_app_limit_is_403_limit_exception() {
    let t = T::with(|c| {
        c.limits.labels_per_app = 2;
        c.limits.users_per_label = 2;
        c.limits.label_users_per_call = 3;
    })
    .await;
    t.create("one", None).await;
    t.create("two", None).await;
    t.refused(&[bad_json(
        Method::POST,
        "/push/label",
        json!({"name": "three"}),
        StatusCode::FORBIDDEN,
        "limit request",
    )])
    .await;
    let got = t.post("/push/label", json!({"name": "three"})).await;
    assert_eq!(got.1["exception"], "LimitException", "{}", got.1);
    // An existing name is still a duplicate (400), full or not.
    assert_error(
        &t.post("/push/label", json!({"name": "one"})).await,
        BAD,
        "push label already exists of one",
    );
    // Deleting one makes room again.
    data(t.delete("/push/label/one", None).await, t.now());
    t.create("three", None).await;
    let names: Vec<Value> = data(t.get("/push/label").await, t.now())
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].clone())
        .collect();
    assert_eq!(names, [json!("two"), json!("three")]);
    assert_error(
        &t.post("/push/label", json!({"name": "four"})).await,
        StatusCode::FORBIDDEN,
        "limit request",
    );
}

/// Pages through a list endpoint with `limit`, checking the envelope of every page; returns
/// the pages' `data` and whether each page had a cursor.
async fn pages(t: &T, path: &str, limit: u32) -> Vec<(Vec<Value>, bool)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        // Parameters in either order, as SDKs send them.
        let url = match &cursor {
            Some(c) if out.len() % 2 == 0 => format!("{path}?cursor={c}&limit={limit}"),
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let (s, b) = t.get(&url).await;
        assert_eq!(s, OK, "{b}");
        let has = b.get("cursor").is_some();
        assert_push_envelope(&b, t.now(), has);
        let items = b["data"].as_array().unwrap().clone();
        assert!(items.len() <= limit as usize, "{b}");
        out.push((items, has));
        if !has {
            return out;
        }
        cursor = Some(b["cursor"].as_str().unwrap().to_owned());
        assert!(out.len() < 50, "paging does not end");
    }
}

#[tokio::test]
async fn list_labels_pages_with_a_cursor() {
    let t = T::new().await;
    let names = ["l1", "l2", "l3", "l4", "l5"];
    for n in names {
        t.create(n, Some(n)).await;
        t.s.clock.advance_ms(10);
    }
    let got = pages(&t, "/push/label", 2).await;
    let shape: Vec<(usize, bool)> = got.iter().map(|(d, c)| (d.len(), *c)).collect();
    assert_eq!(shape, [(2, true), (2, true), (1, false)]);
    let seen: Vec<&str> = got
        .iter()
        .flat_map(|(d, _)| d.iter().map(|l| l["name"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, names);
    for (d, _) in &got {
        for l in d {
            assert_eq!(l["count"], 0);
            assert_eq!(l["description"], l["name"]);
        }
    }
    // An exactly full last page carries no cursor.
    let shape: Vec<(usize, bool)> = pages(&t, "/push/label", 5)
        .await
        .iter()
        .map(|(d, c)| (d.len(), *c))
        .collect();
    assert_eq!(shape, [(5, false)]);
    let shape: Vec<(usize, bool)> = pages(&t, "/push/label", 1)
        .await
        .iter()
        .map(|(d, c)| (d.len(), *c))
        .collect();
    assert_eq!(
        shape,
        [(1, true), (1, true), (1, true), (1, true), (1, false)]
    );
    // An empty `limit` means the default (100).
    let (s, b) = t.get("/push/label?limit=").await;
    assert_eq!(s, OK, "{b}");
    assert_eq!(b["data"].as_array().unwrap().len(), 5);
    // A label deleted between pages does not break paging.
    let (_, first) = t.get("/push/label?limit=2").await;
    let c = first["cursor"].as_str().unwrap().to_owned();
    data(t.delete("/push/label/l3", None).await, t.now());
    let (s, b) = t.get(&format!("/push/label?limit=2&cursor={c}")).await;
    assert_eq!(s, OK, "{b}");
    let rest: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["l4", "l5"]);
    assert!(b.get("cursor").is_none(), "{b}");
}

#[tokio::test]
async fn list_endpoints_refuse_bad_limit_and_cursor() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.create("l1", None).await;
    t.create("l2", None).await;
    t.add("l1", &["u1", "u2"]).await;
    let (_, b) = t.get("/push/label/l1/user?limit=1").await;
    let member_cursor = b["cursor"].as_str().unwrap().to_owned();
    let (_, b) = t.get("/push/label?limit=1").await;
    let label_cursor = b["cursor"].as_str().unwrap().to_owned();

    let mut cases = Vec::new();
    for base in ["/push/label", "/push/label/l1/user"] {
        for limit in ["0", "101", "-1", "abc", "1.5", "99999999999"] {
            cases.push(bad_raw(
                Method::GET,
                &format!("{base}?limit={limit}"),
                None,
                BAD,
                "limit must be a number from 1 to 100",
            ));
        }
        for cursor in ["!!!", "abc", "b3BlbnB1c2g6bGFiZWw6"] {
            cases.push(bad_raw(
                Method::GET,
                &format!("{base}?cursor={cursor}"),
                None,
                BAD,
                "is invalid",
            ));
        }
    }
    // A cursor of one list is not a cursor of the other.
    cases.push(bad_raw(
        Method::GET,
        &format!("/push/label?cursor={member_cursor}"),
        None,
        BAD,
        "is invalid",
    ));
    cases.push(bad_raw(
        Method::GET,
        &format!("/push/label/l1/user?cursor={label_cursor}"),
        None,
        BAD,
        "is invalid",
    ));
    t.refused(&cases).await;
}

#[tokio::test]
async fn label_users_add_list_get_remove_have_the_documented_shapes() {
    let t = T::new().await;
    t.users(&["hx1", "hx2", "hx3"]).await;
    t.create("fans", None).await;
    let added_at = t.now();
    assert_eq!(
        t.add("fans", &["hx1", "hx2"]).await,
        json!({"success": ["hx1", "hx2"], "fail": {}})
    );
    assert_eq!(t.count("fans").await, 2);

    t.s.clock.advance_ms(7);
    let list = data(t.get("/push/label/fans/user").await, t.now());
    assert_eq!(
        list,
        json!([
            {"username": "hx1", "created": added_at},
            {"username": "hx2", "created": added_at},
        ])
    );

    // Get one member; the path username is case-insensitive.
    for path in ["/push/label/fans/user/hx1", "/push/label/fans/user/HX1"] {
        assert_eq!(
            data(t.get(path).await, t.now()),
            json!({"username": "hx1", "created": added_at})
        );
    }
    // A registered user who is not a member, an unknown user, and a name that cannot be a
    // user id: `data` is null.
    for who in ["hx3", "ghost", &"x".repeat(65)] {
        assert_eq!(
            data(
                t.get(&format!("/push/label/fans/user/{who}")).await,
                t.now()
            ),
            Value::Null,
            "{who}"
        );
    }

    // Remove with the body on the DELETE.
    assert_eq!(
        t.remove("fans", &["hx1"]).await,
        json!({"success": ["hx1"], "fail": {}})
    );
    assert_eq!(t.count("fans").await, 1);
    assert_eq!(t.members("fans").await, ["hx2"]);
    assert_eq!(
        data(t.get("/push/label/fans/user/hx1").await, t.now()),
        Value::Null
    );
    // Added again later: a new `created`.
    t.s.clock.advance_ms(100);
    t.add("fans", &["HX1"]).await;
    assert_eq!(
        data(t.get("/push/label/fans/user/hx1").await, t.now()),
        json!({"username": "hx1", "created": t.now()})
    );
    assert_eq!(t.members("fans").await, ["hx2", "hx1"]);
}

#[tokio::test]
async fn add_users_reports_partial_success() {
    let t = T::new().await;
    t.users(&["a", "b", "c"]).await;
    t.create("mix", None).await;
    let got = t
        .add(
            "mix",
            &["a", "ghost", "bad name", "a", "A", "b", "", "Ghost"],
        )
        .await;
    assert_eq!(
        got["success"],
        json!(["a", "b"]),
        "duplicates in the request are added once: {got}"
    );
    let fail = got["fail"].as_object().unwrap();
    let mut keys: Vec<&str> = fail.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["", "bad name", "ghost"], "{got}");
    assert_eq!(fail["ghost"], "user not exists");
    assert!(
        fail["bad name"]
            .as_str()
            .unwrap()
            .contains("may only contain"),
        "{got}"
    );
    assert!(
        fail[""].as_str().unwrap().contains("must be provided"),
        "{got}"
    );
    assert_eq!(t.count("mix").await, 2);
    assert_eq!(t.members("mix").await, ["a", "b"]);

    // Adding a member again succeeds and changes nothing.
    let created = data(t.get("/push/label/mix/user/a").await, t.now())["created"].clone();
    t.s.clock.advance_ms(50);
    assert_eq!(
        t.add("mix", &["a", "c"]).await,
        json!({"success": ["a", "c"], "fail": {}})
    );
    assert_eq!(t.count("mix").await, 3);
    assert_eq!(
        data(t.get("/push/label/mix/user/a").await, t.now())["created"],
        created
    );

    // Nothing valid at all: 200 with everything in `fail`, and nothing changed.
    let before = t.snapshot().await;
    assert_eq!(
        t.add("mix", &["nobody"]).await,
        json!({"success": [], "fail": {"nobody": "user not exists"}})
    );
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn remove_users_reports_partial_success() {
    let t = T::new().await;
    t.users(&["a", "b", "c"]).await;
    t.create("grp", None).await;
    t.create("other", None).await;
    t.add("grp", &["a", "c"]).await;
    t.add("other", &["a", "b"]).await;
    let got = t.remove("grp", &["A", "b", "ghost", "bad name", "a"]).await;
    assert_eq!(got["success"], json!(["a"]), "{got}");
    let fail = got["fail"].as_object().unwrap();
    assert_eq!(fail.len(), 3, "{got}");
    assert_eq!(fail["b"], "user not in label");
    assert_eq!(fail["ghost"], "user not exists");
    assert!(
        fail["bad name"]
            .as_str()
            .unwrap()
            .contains("may only contain"),
        "{got}"
    );
    assert_eq!(t.members("grp").await, ["c"]);
    assert_eq!(t.count("grp").await, 1);
    // The other label is untouched.
    assert_eq!(t.members("other").await, ["a", "b"]);
    assert_eq!(t.count("other").await, 2);
    // Removing a non-member again: 200, all in `fail`.
    assert_eq!(
        t.remove("grp", &["a"]).await,
        json!({"success": [], "fail": {"a": "user not in label"}})
    );
    assert_eq!(t.count("grp").await, 1);
}

#[tokio::test]
async fn member_limits_full_label_and_per_call() {
    let t = T::with(|c| {
        c.limits.labels_per_app = 2;
        c.limits.users_per_label = 2;
        c.limits.label_users_per_call = 3;
    })
    .await;
    t.users(&["u1", "u2", "u3", "u4"]).await;
    t.create("small", None).await;
    assert_eq!(
        t.add("small", &["u1", "u2", "u3"]).await,
        json!({"success": ["u1", "u2"], "fail": {"u3": "label users exceed the limit"}})
    );
    assert_eq!(t.count("small").await, 2);
    // A member re-added into a full label still succeeds; a newcomer does not.
    assert_eq!(
        t.add("small", &["u4", "u1"]).await,
        json!({"success": ["u1"], "fail": {"u4": "label users exceed the limit"}})
    );
    assert_eq!(t.count("small").await, 2);
    assert_eq!(t.members("small").await, ["u1", "u2"]);

    // More usernames than one call may carry: 400, nothing changes, for add and remove.
    let four = json!({"usernames": ["u1", "u2", "u3", "u4"]});
    t.refused(&[
        bad_json(
            Method::POST,
            "/push/label/small/user",
            four.clone(),
            BAD,
            "usernames must hold 1 to 3 user ids, got 4",
        ),
        bad_json(
            Method::DELETE,
            "/push/label/small/user",
            four.clone(),
            BAD,
            "usernames must hold 1 to 3 user ids, got 4",
        ),
        // The count is the request's, before duplicates are dropped.
        bad_json(
            Method::DELETE,
            "/push/label/small/user",
            json!({"usernames": ["u1", "u1", "u1", "u1"]}),
            BAD,
            "usernames must hold 1 to 3",
        ),
    ])
    .await;

    // Freeing a place lets the next one in.
    t.remove("small", &["u1"]).await;
    assert_eq!(
        t.add("small", &["u3", "u4"]).await,
        json!({"success": ["u3"], "fail": {"u4": "label users exceed the limit"}})
    );
    assert_eq!(t.members("small").await, ["u2", "u3"]);
    // The per-label limit is per label.
    t.create("second", None).await;
    assert_eq!(
        t.add("second", &["u1", "u4"]).await,
        json!({"success": ["u1", "u4"], "fail": {}})
    );
}

#[tokio::test]
async fn list_label_users_pages_with_a_cursor() {
    let t = T::new().await;
    let names = ["m1", "m2", "m3", "m4", "m5"];
    t.users(&names).await;
    t.create("big", None).await;
    let mut added = Vec::new();
    for n in names {
        t.add("big", &[n]).await;
        added.push(json!({"username": n, "created": t.now()}));
        t.s.clock.advance_ms(3);
    }
    let got = pages(&t, "/push/label/big/user", 2).await;
    let shape: Vec<(usize, bool)> = got.iter().map(|(d, c)| (d.len(), *c)).collect();
    assert_eq!(shape, [(2, true), (2, true), (1, false)]);
    let all: Vec<Value> = got.into_iter().flat_map(|(d, _)| d).collect();
    assert_eq!(all, added);
    let shape: Vec<(usize, bool)> = pages(&t, "/push/label/big/user", 5)
        .await
        .iter()
        .map(|(d, c)| (d.len(), *c))
        .collect();
    assert_eq!(shape, [(5, false)]);
    // A member removed between pages does not break paging.
    let (_, first) = t.get("/push/label/big/user?limit=2").await;
    let c = first["cursor"].as_str().unwrap().to_owned();
    t.remove("big", &["m3"]).await;
    let (s, b) = t
        .get(&format!("/push/label/big/user?cursor={c}&limit=2"))
        .await;
    assert_eq!(s, OK, "{b}");
    assert_eq!(b["data"], json!([added[3], added[4]]));
    assert!(b.get("cursor").is_none(), "{b}");
    // An empty label: an empty page, no cursor.
    t.create("empty", None).await;
    assert_eq!(
        data(t.get("/push/label/empty/user?limit=3").await, t.now()),
        json!([])
    );
}

#[tokio::test]
async fn member_endpoints_refuse_bad_bodies_and_change_nothing() {
    let t = T::new().await;
    t.users(&["u1", "u2"]).await;
    t.create("tag", Some("d")).await;
    t.add("tag", &["u1"]).await;
    let mut cases = Vec::new();
    for m in [Method::POST, Method::DELETE] {
        let p = "/push/label/tag/user";
        cases.extend([
            bad_raw(
                m.clone(),
                p,
                Some("{\"usernames\": [\"u2\""),
                BAD,
                "not valid JSON",
            ),
            bad_raw(m.clone(), p, Some("usernames=u2"), BAD, "not valid JSON"),
            bad_raw(m.clone(), p, None, BAD, "request body is empty"),
            bad_json(m.clone(), p, json!({}), BAD, "usernames must be provided"),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": null}),
                BAD,
                "usernames must be provided",
            ),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": "u2"}),
                BAD,
                "invalid value for usernames",
            ),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": {"u2": true}}),
                BAD,
                "invalid value for usernames",
            ),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": ["u2", 5]}),
                BAD,
                "invalid value for usernames",
            ),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": [["u2"]]}),
                BAD,
                "invalid value for usernames",
            ),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": []}),
                BAD,
                "usernames must hold 1 to 100 user ids, got 0",
            ),
            bad_json(
                m.clone(),
                p,
                json!({"usernames": vec!["u2"; 101]}),
                BAD,
                "usernames must hold 1 to 100 user ids, got 101",
            ),
            bad_json(m.clone(), p, json!(["u2"]), BAD, "expected a JSON object"),
            bad_json(m.clone(), p, json!([["u2"]]), BAD, "expected a JSON object"),
            bad_json(m.clone(), p, json!("u2"), BAD, "invalid request body"),
        ]);
    }
    t.refused(&cases).await;
    assert_eq!(t.members("tag").await, ["u1"]);
}

#[tokio::test]
async fn unknown_label_on_every_label_endpoint() {
    let t = T::new().await;
    t.users(&["u1"]).await;
    t.create("real", None).await;
    t.add("real", &["u1"]).await;
    let body = json!({"usernames": ["u1"]});
    let long = "n".repeat(65);
    let mut cases = Vec::new();
    // An unknown name, a case variant of an existing one, and names that cannot be labels.
    for name in ["nope", "Real", long.as_str(), "a%20b", "a.b_c-D"] {
        let shown = name.replace("%20", " ");
        let text = format!("push label not exists of {shown}");
        cases.extend([
            bad_raw(
                Method::GET,
                &format!("/push/label/{name}"),
                None,
                BAD,
                &text,
            ),
            bad_raw(
                Method::DELETE,
                &format!("/push/label/{name}"),
                None,
                BAD,
                &text,
            ),
            bad_json(
                Method::POST,
                &format!("/push/label/{name}/user"),
                body.clone(),
                BAD,
                &text,
            ),
            bad_raw(
                Method::GET,
                &format!("/push/label/{name}/user"),
                None,
                BAD,
                &text,
            ),
            bad_raw(
                Method::GET,
                &format!("/push/label/{name}/user?limit=10"),
                None,
                BAD,
                &text,
            ),
            bad_raw(
                Method::GET,
                &format!("/push/label/{name}/user/u1"),
                None,
                BAD,
                &text,
            ),
            bad_raw(
                Method::GET,
                &format!("/push/label/{name}/user/bad%20user"),
                None,
                BAD,
                &text,
            ),
            bad_json(
                Method::DELETE,
                &format!("/push/label/{name}/user"),
                body.clone(),
                BAD,
                &text,
            ),
        ]);
    }
    t.refused(&cases).await;
    let got = t.get("/push/label/nope").await;
    assert_eq!(got.1["exception"], "ResourceNotFoundException", "{}", got.1);
    assert_eq!(t.members("real").await, ["u1"]);
}

#[tokio::test]
async fn label_endpoints_need_the_app_token() {
    let t = T::new().await;
    t.users(&["u1"]).await;
    t.create("tag", None).await;
    let other = TestServer::start().await;
    let (_, foreign) = other.app_with_token("acme", "shop").await;
    let body = json!({"usernames": ["u1"]}).to_string();
    let calls: Vec<(Method, &str, Option<&str>)> = vec![
        (Method::POST, "/push/label", Some("{\"name\":\"x\"}")),
        (Method::GET, "/push/label", None),
        (Method::GET, "/push/label/tag", None),
        (Method::DELETE, "/push/label/tag", None),
        (Method::POST, "/push/label/tag/user", Some(&body)),
        (Method::GET, "/push/label/tag/user", None),
        (Method::GET, "/push/label/tag/user/u1", None),
        (Method::DELETE, "/push/label/tag/user", Some(&body)),
    ];
    let before = t.snapshot().await;
    for (m, path, b) in calls {
        for tok in [None, Some("garbage"), Some(foreign.as_str())] {
            let got =
                t.s.call_raw(m.clone(), &t.url(path), tok, b, Some("application/json"))
                    .await;
            assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");
        }
    }
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn delete_requests_may_carry_json_bodies_with_any_content_type() {
    let t = T::new().await;
    t.users(&["u1", "u2", "u3"]).await;
    t.create("keep", None).await;
    t.create("gone", None).await;
    t.add("keep", &["u1", "u2", "u3"]).await;
    // Deleting a label with a (meaningless) JSON body.
    let got = t
        .delete("/push/label/gone", Some(json!({"name": "keep"})))
        .await;
    assert_eq!(data(got, t.now()), json!("success"));
    assert_error(
        &t.get("/push/label/gone").await,
        BAD,
        "push label not exists of gone",
    );
    assert_eq!(t.count("keep").await, 3);
    // The IM SDK sends no Content-Type; the push SDK may say form-urlencoded.
    let body = json!({"usernames": ["u1"]}).to_string();
    let got =
        t.s.call_raw(
            Method::DELETE,
            &t.url("/push/label/keep/user"),
            Some(&t.tok),
            Some(&body),
            None,
        )
        .await;
    assert_eq!(data(got, t.now()), json!({"success": ["u1"], "fail": {}}));
    let body = json!({"usernames": ["u2"]}).to_string();
    let got =
        t.s.call_raw(
            Method::DELETE,
            &t.url("/push/label/keep/user"),
            Some(&t.tok),
            Some(&body),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(data(got, t.now()), json!({"success": ["u2"], "fail": {}}));
    let body = json!({"usernames": ["u1"]}).to_string();
    let got =
        t.s.call_raw(
            Method::POST,
            &t.url("/push/label/keep/user"),
            Some(&t.tok),
            Some(&body),
            Some("text/plain"),
        )
        .await;
    assert_eq!(data(got, t.now()), json!({"success": ["u1"], "fail": {}}));
    assert_eq!(t.members("keep").await, ["u3", "u1"]);
}

#[tokio::test]
async fn deleting_a_user_removes_its_memberships() {
    let t = T::new().await;
    t.users(&["a", "b"]).await;
    t.create("l1", None).await;
    t.create("l2", None).await;
    t.add("l1", &["a", "b"]).await;
    t.add("l2", &["a"]).await;
    let (s, b) = t.delete("/users/A", None).await;
    assert_eq!(s, OK, "{b}");
    assert_eq!(t.count("l1").await, 1);
    assert_eq!(t.count("l2").await, 0);
    assert_eq!(t.members("l1").await, ["b"]);
    assert!(t.members("l2").await.is_empty());
    assert_eq!(
        data(t.get("/push/label/l1/user/a").await, t.now()),
        Value::Null
    );
    // The label list agrees.
    let list = data(t.get("/push/label").await, t.now());
    let counts: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["count"])
        .collect();
    assert_eq!(counts, [&json!(1), &json!(0)]);
    // A new user of the same name is not a member of anything.
    t.users(&["a"]).await;
    assert!(t.members("l2").await.is_empty());
    assert_eq!(
        t.remove("l1", &["a"]).await,
        json!({"success": [], "fail": {"a": "user not in label"}})
    );
}

#[tokio::test]
async fn deleting_a_label_with_members_works_and_the_name_can_be_reused() {
    let t = T::new().await;
    t.users(&["a", "b"]).await;
    let first = t.now();
    t.create("tmp", Some("first")).await;
    t.create("stay", None).await;
    t.add("tmp", &["a", "b"]).await;
    t.add("stay", &["a"]).await;
    assert_eq!(
        data(t.delete("/push/label/tmp", None).await, t.now()),
        json!("success")
    );
    for path in [
        "/push/label/tmp",
        "/push/label/tmp/user",
        "/push/label/tmp/user/a",
    ] {
        assert_error(&t.get(path).await, BAD, "push label not exists of tmp");
    }
    assert_eq!(t.members("stay").await, ["a"]);
    assert_eq!(t.count("stay").await, 1);

    t.s.clock.advance_ms(1_000);
    t.create("tmp", Some("second")).await;
    assert_eq!(
        t.label("tmp").await,
        json!({"name": "tmp", "description": "second", "count": 0, "createdAt": first + 1_000})
    );
    assert!(t.members("tmp").await.is_empty());
    assert_eq!(
        data(t.get("/push/label/tmp/user/a").await, t.now()),
        Value::Null
    );
    t.add("tmp", &["b"]).await;
    assert_eq!(t.members("tmp").await, ["b"]);
    assert_eq!(t.count("tmp").await, 1);
    // The reused label comes after "stay" in the list.
    let names: Vec<Value> = data(t.get("/push/label").await, t.now())
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].clone())
        .collect();
    assert_eq!(names, [json!("stay"), json!("tmp")]);
}

#[tokio::test]
async fn an_oversize_body_is_413_and_changes_nothing() {
    let t = T::with(|c| c.max_body_bytes = 512).await;
    t.users(&["u1"]).await;
    t.create("tag", None).await;
    let big_names: Vec<String> = (0..60).map(|i| format!("user{i:04}")).collect();
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    t.refused(&[
        bad_json(
            Method::POST,
            "/push/label",
            json!({"name": "x", "description": "d".repeat(600)}),
            too_large,
            "larger than 512 bytes",
        ),
        bad_json(
            Method::POST,
            "/push/label/tag/user",
            json!({"usernames": big_names}),
            too_large,
            "larger than 512 bytes",
        ),
        bad_json(
            Method::DELETE,
            "/push/label/tag/user",
            json!({"usernames": big_names}),
            too_large,
            "larger than 512 bytes",
        ),
    ])
    .await;
}

#[tokio::test]
async fn labels_are_per_app() {
    let t = T::new().await;
    let (p2, tok2) = t.s.app_with_token("acme", "other").await;
    t.users(&["u1"]).await;
    t.s.users(&p2, &tok2, &["u1"]).await;
    t.create("shared", Some("app one")).await;
    t.add("shared", &["u1"]).await;
    assert_error(
        &t.s.get(&format!("{p2}/push/label/shared"), &tok2).await,
        BAD,
        "push label not exists of shared",
    );
    let (s, b) =
        t.s.post(
            &format!("{p2}/push/label"),
            &tok2,
            json!({"name": "shared"}),
        )
        .await;
    assert_eq!(s, OK, "{b}");
    assert_eq!(b["data"]["description"], "");
    let (s, b) =
        t.s.get(&format!("{p2}/push/label/shared/user"), &tok2)
            .await;
    assert_eq!(s, OK, "{b}");
    assert_eq!(b["data"], json!([]));
    assert_eq!(t.label("shared").await["description"], "app one");
    assert_eq!(t.count("shared").await, 1);
}

#[tokio::test]
async fn label_crud_and_label_users_have_their_own_rate_limits() {
    // Label CRUD and label-user calls are limited per app key, in separate groups. The
    // limiter runs on real time, so the assertions hold however slow the machine is: a fresh
    // bucket always admits its first request, and five requests at 1/s cannot all pass
    // unless they take four seconds.
    let t = T::with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.label = 1;
        c.rate_limits.label_user = 1;
        c.rate_limits.users = 1_000;
        c.rate_limits.token = 1_000;
    })
    .await;
    t.users(&["u1"]).await;
    // First of the label group: admitted.
    t.create("tag", None).await;
    // First of the label-user group: admitted although the label group is spent.
    assert_eq!(
        t.add("tag", &["u1"]).await,
        json!({"success": ["u1"], "fail": {}})
    );
    let app =
        t.s.store
            .app_by_name("acme", "shop")
            .await
            .unwrap()
            .unwrap();
    let mut admitted = vec!["tag".to_owned()];
    let mut limited = 0;
    for i in 0..5 {
        let name = format!("burst{i}");
        let got = t.post("/push/label", json!({ "name": name })).await;
        if got.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "reached api limit");
            limited += 1;
        } else {
            assert_eq!(got.0, OK, "{}", got.1);
            admitted.push(name);
        }
    }
    assert!(limited >= 1, "five label creations at 1/s all passed");
    // A refused call created nothing (read from the store: the API is rate limited).
    let stored: Vec<String> =
        t.s.store
            .list_labels(app.id, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
    assert_eq!(stored, admitted);

    let mut limited = 0;
    for _ in 0..5 {
        let got = t
            .delete("/push/label/tag/user", Some(json!({"usernames": ["u1"]})))
            .await;
        if got.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "reached api limit");
            limited += 1;
        } else {
            assert_eq!(got.0, OK, "{}", got.1);
        }
    }
    assert!(limited >= 1, "five label-user calls at 1/s all passed");
}
