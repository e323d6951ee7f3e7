//! The OpenAPI document as served at `/openapi.json`.
//!
//! The handlers' annotations give the paths, parameters and request bodies; this module adds
//! what they do not say in one place: the answers every operation can give (the success
//! envelope it answers with, and each error status in Easemob's error envelope, 429 with
//! `Retry-After`), the bearer scheme, and the limits the server checks on parameters and on
//! fields that take a number or a numeric string.

use serde_json::{json, Map, Value};

/// Which success envelope an operation answers with.
#[derive(Clone, Copy)]
enum Ok200 {
    /// `{timestamp, data, duration}`, with a top-level `cursor` on paged lists.
    Push,
    /// The IM (usergrid) envelope with `entities`.
    ImEntities,
    /// The IM envelope with `data`.
    ImData,
    /// The binding endpoints' shortened IM envelope.
    Binding,
    /// `POST /token`.
    Token,
    /// `PUT /users/{u}/password`.
    Password,
    /// Easemob's offline-push statistics: `{status, data}`.
    Status,
    /// The WebSocket upgrade (101, no body).
    Upgrade,
}

/// How an operation authenticates.
#[derive(Clone, Copy, PartialEq)]
enum Auth {
    /// An app token (`Authorization: Bearer`).
    App,
    /// A user token (`Authorization: Bearer`): the device endpoints.
    User,
    /// None (`/token`), or the WebSocket upgrade's own (header or `access_token`).
    Own,
}

/// Every operation: its id, success envelope, authentication, and the error statuses it can
/// answer besides 429 (which every operation can: the per-source limit of failed requests, the
/// per-app rates, the password-hashing queue).
const OPERATIONS: &[(&str, Ok200, Auth, &[u16])] = &[
    ("token", Ok200::Token, Auth::Own, &[400, 404, 413]),
    (
        "create_users",
        Ok200::ImEntities,
        Auth::App,
        &[400, 401, 413],
    ),
    ("list_users", Ok200::ImEntities, Auth::App, &[400, 401]),
    ("get_user", Ok200::ImEntities, Auth::App, &[401, 404]),
    (
        "update_user",
        Ok200::ImEntities,
        Auth::App,
        &[400, 401, 413],
    ),
    ("delete_user", Ok200::ImEntities, Auth::App, &[401, 404]),
    (
        "set_password",
        Ok200::Password,
        Auth::App,
        &[400, 401, 404, 413],
    ),
    ("revoke_tokens", Ok200::ImEntities, Auth::App, &[401, 404]),
    ("put_binding", Ok200::Binding, Auth::App, &[400, 401, 413]),
    ("get_binding", Ok200::Binding, Auth::App, &[400, 401]),
    (
        "put_push_nickname",
        Ok200::ImEntities,
        Auth::App,
        &[400, 401, 413],
    ),
    (
        "put_notification",
        Ok200::ImData,
        Auth::App,
        &[400, 401, 413],
    ),
    ("get_notification", Ok200::ImData, Auth::App, &[400, 401]),
    ("put_language", Ok200::ImData, Auth::App, &[400, 401, 413]),
    ("get_language", Ok200::ImData, Auth::App, &[400, 401]),
    (
        "create_label",
        Ok200::Push,
        Auth::App,
        &[400, 401, 403, 413],
    ),
    ("list_labels", Ok200::Push, Auth::App, &[400, 401]),
    ("get_label", Ok200::Push, Auth::App, &[400, 401]),
    ("delete_label", Ok200::Push, Auth::App, &[400, 401]),
    (
        "add_label_users",
        Ok200::Push,
        Auth::App,
        &[400, 401, 403, 413],
    ),
    (
        "remove_label_users",
        Ok200::Push,
        Auth::App,
        &[400, 401, 413],
    ),
    ("list_label_users", Ok200::Push, Auth::App, &[400, 401]),
    ("get_label_user", Ok200::Push, Auth::App, &[400, 401]),
    ("push_sync", Ok200::Push, Auth::App, &[400, 401, 413]),
    ("push_async", Ok200::Push, Auth::App, &[400, 401, 413]),
    ("push_single", Ok200::Push, Auth::App, &[400, 401, 413]),
    (
        "create_broadcast",
        Ok200::Push,
        Auth::App,
        &[400, 401, 403, 413],
    ),
    (
        "create_broadcast_from_message",
        Ok200::Push,
        Auth::App,
        &[400, 401, 403, 413],
    ),
    ("create_message", Ok200::Push, Auth::App, &[400, 401, 413]),
    ("get_message", Ok200::Push, Auth::App, &[400, 401]),
    ("post_message", Ok200::Push, Auth::App, &[400, 401]),
    ("create_list", Ok200::Push, Auth::App, &[400, 401, 403, 413]),
    (
        "create_label_task",
        Ok200::Push,
        Auth::App,
        &[400, 401, 403, 413],
    ),
    ("list_tasks", Ok200::Push, Auth::App, &[400, 401]),
    ("get_task", Ok200::Push, Auth::App, &[400, 401]),
    ("cancel_task", Ok200::Push, Auth::App, &[400, 401]),
    ("put_notifier", Ok200::Push, Auth::App, &[400, 401, 413]),
    ("list_notifiers", Ok200::Push, Auth::App, &[401]),
    ("get_notifier", Ok200::Push, Auth::App, &[400, 401]),
    ("delete_notifier", Ok200::Push, Auth::App, &[400, 401]),
    ("offline_push", Ok200::Status, Auth::App, &[400, 401]),
    ("daily", Ok200::Push, Auth::App, &[400, 401]),
    ("connect", Ok200::Upgrade, Auth::Own, &[400, 401]),
    ("report", Ok200::Push, Auth::User, &[400, 401, 413]),
];

/// `true`/`false`, `1`/`0`, or their strings in any case (SDKs send each), or null (absent).
fn lenient_bool() -> Value {
    json!({"anyOf": [
        {"type": "boolean"},
        {"type": "integer", "enum": [0, 1]},
        {"type": "string", "pattern": "^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)\\s*$"},
        {"type": "null"},
    ]})
}

/// A number, or a string of one (SDKs send either), or null (absent).
fn lenient_int(min: Option<i64>, max: Option<i64>) -> Value {
    let mut n = json!({"type": "integer", "format": "int64"});
    if let Some(m) = min {
        n["minimum"] = json!(m);
    }
    if let Some(m) = max {
        n["maximum"] = json!(m);
    }
    json!({"anyOf": [n, {"type": "string", "pattern": "^\\s*[-+]?[0-9]+\\s*$"}, {"type": "null"}]})
}

fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "a bad parameter or body (the description names it), or a state Easemob answers with 400 (an unknown label, message or task; an existing user)",
        401 => "no token, or a token that is corrupt, expired, revoked, of another app, or of the wrong kind",
        403 => "LimitException: a count limit of the app (labels, label members, tasks)",
        404 => "no such user (or, for /token, no such app)",
        413 => "the request body is larger than max_body_bytes",
        429 => "over a rate limit (the app's for its endpoint group, or its source's for failed requests), or the password-hashing queue is full",
        _ => "error",
    };
    let mut r = json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    });
    if status == 429 {
        r["headers"] = json!({"Retry-After": {
            "description": "whole seconds to wait before trying again",
            "required": true,
            "schema": {"type": "integer", "minimum": 1},
        }});
    }
    r
}

fn components() -> Value {
    let int64 = json!({"type": "integer", "format": "int64"});
    json!({
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An app token from POST /{org}/{app}/token (client_credentials); the device endpoints take a user token (password grant).",
            }
        },
        "schemas": {
            "ErrorEnvelope": {
                "type": "object",
                "description": "Easemob's error envelope.",
                "required": ["error", "exception", "error_description", "timestamp", "duration"],
                "properties": {
                    "error": {"type": "string"},
                    "exception": {"type": "string"},
                    "error_description": {"type": "string", "maxLength": 261},
                    "timestamp": int64,
                    "duration": int64,
                },
            },
            "PushEnvelope": {
                "type": "object",
                "description": "The push service's envelope; paged lists add a top-level `cursor` while more pages exist.",
                "required": ["timestamp", "data", "duration"],
                "properties": {
                    "timestamp": int64,
                    "data": {},
                    "duration": int64,
                    "cursor": {"type": "string"},
                },
            },
            "ImEnvelope": {
                "type": "object",
                "description": "The IM (usergrid) envelope, with `entities` or `data`.",
                "required": ["action", "application", "path", "uri", "timestamp", "duration", "organization", "applicationName"],
                "properties": {
                    "action": {"type": "string"},
                    "application": {"type": "string", "format": "uuid"},
                    "path": {"type": "string"},
                    "uri": {"type": "string"},
                    "entities": {"type": "array", "items": {"type": "object"}},
                    "data": {},
                    "timestamp": int64,
                    "duration": int64,
                    "organization": {"type": "string"},
                    "applicationName": {"type": "string"},
                    "count": {"type": "integer", "minimum": 0},
                    "cursor": {"type": "string"},
                },
            },
            "BindingEnvelope": {
                "type": "object",
                "required": ["timestamp", "entities", "action", "duration"],
                "properties": {
                    "timestamp": int64,
                    "entities": {"type": "array", "items": {
                        "type": "object",
                        "required": ["device_id", "device_token", "notifier_name"],
                        "properties": {
                            "device_id": {"type": "string"},
                            "device_token": {"type": "string"},
                            "notifier_name": {"type": "string"},
                        },
                    }},
                    "action": {"type": "string"},
                    "duration": int64,
                },
            },
            "TokenResponse": {
                "type": "object",
                "description": "`application` (the app's UUID) for an app token, `user` (the user entity) for a user token. `expires_in` is 2147483647 for a token that never expires.",
                "required": ["access_token", "expires_in"],
                "properties": {
                    "access_token": {"type": "string"},
                    "expires_in": {"type": "integer", "minimum": 0, "maximum": 2147483647},
                    "application": {"type": "string", "format": "uuid"},
                    "user": {"type": "object"},
                },
            },
            "PasswordChanged": {
                "type": "object",
                "required": ["action", "timestamp", "uri", "duration"],
                "properties": {
                    "action": {"type": "string", "const": "set user password"},
                    "timestamp": int64,
                    "uri": {"type": "string"},
                    "duration": int64,
                },
            },
            "StatusEnvelope": {
                "type": "object",
                "required": ["status", "data"],
                "properties": {
                    "status": {"type": "string", "const": "OK"},
                    "data": {"type": "object"},
                },
            },
        },
    })
}

fn success(kind: Ok200, description: Option<Value>) -> (&'static str, Value) {
    let schema = match kind {
        Ok200::Push => "PushEnvelope",
        Ok200::ImEntities | Ok200::ImData => "ImEnvelope",
        Ok200::Binding => "BindingEnvelope",
        Ok200::Token => "TokenResponse",
        Ok200::Password => "PasswordChanged",
        Ok200::Status => "StatusEnvelope",
        Ok200::Upgrade => {
            let d = description.unwrap_or_else(|| json!("WebSocket"));
            return ("101", json!({"description": d}));
        }
    };
    let mut s = json!({"$ref": format!("#/components/schemas/{schema}")});
    match kind {
        Ok200::ImEntities => {
            s = json!({"allOf": [s, {"required": ["entities"]}]});
        }
        Ok200::ImData => {
            s = json!({"allOf": [s, {"required": ["data"]}]});
        }
        _ => {}
    }
    (
        "200",
        json!({
            "description": description.unwrap_or_else(|| json!("success")),
            "content": {"application/json": {"schema": s}},
        }),
    )
}

/// The limits the server checks on query and path parameters.
fn fix_parameter(op: &str, p: &mut Map<String, Value>) {
    let name = p.get("name").and_then(Value::as_str).unwrap_or("");
    let location = p.get("in").and_then(Value::as_str).unwrap_or("");
    let schema = match (location, name) {
        ("query", "limit") => Some(json!({"type": "integer", "minimum": 1, "maximum": 100})),
        ("query", "size") => Some(json!({"type": "integer", "minimum": 1, "maximum": 100})),
        ("query", "page") => {
            Some(json!({"type": "integer", "minimum": 0, "maximum": 4294967295u64}))
        }
        ("path", n) => path_rule(n),
        _ => None,
    };
    if let Some(s) = schema {
        p.insert("schema".into(), s);
    }
    let _ = op;
}

/// Fields that take a number or a numeric string, by schema and property, with the range the
/// server accepts.
const LENIENT_FIELDS: &[(&str, &str, Option<i64>, Option<i64>)] = &[
    ("TokenRequest", "ttl", Some(0), None),
    ("TaskRequest", "strategy", Some(0), Some(4)),
    ("TaskRequest", "pushMsgId", None, None),
    ("TaskRequest", "rate", Some(1), Some(100_000)),
    ("PushRequest", "strategy", Some(0), Some(4)),
    (
        "UpdateUserRequest",
        "notification_display_style",
        Some(0),
        Some(1),
    ),
    (
        "UpdateUserRequest",
        "notification_no_disturbing_start",
        Some(0),
        Some(23),
    ),
    (
        "UpdateUserRequest",
        "notification_no_disturbing_end",
        Some(0),
        Some(23),
    ),
    ("ReportRequest", "task_id", None, None),
    (
        "NotificationRequest",
        "ignoreDuration",
        Some(0),
        Some(604_800_000),
    ),
];

/// Fields that take a boolean in any of the SDKs' spellings.
const LENIENT_BOOLS: &[(&str, &str)] = &[
    ("UpdateUserRequest", "notification_no_disturbing"),
    ("PushRequest", "async"),
];

/// Usernames and label names: 1–64 of `[A-Za-z0-9_.-]`, not only dots.
const NAME_PATTERN: &str = "^(?!\\.+$)[A-Za-z0-9_.-]{1,64}$";
/// Device ids: 1–64 of `[A-Za-z0-9_.:-]`.
const DEVICE_PATTERN: &str = "^[A-Za-z0-9_.:-]{1,64}$";

/// A request body schema: its required fields, and the rule of each field it constrains.
type BodyRule = (
    &'static str,
    &'static [&'static str],
    Vec<(&'static str, Value)>,
);

/// What the server requires of request bodies: required fields and the rules of their values
/// (with the limits of this server's configuration).
fn tighten_bodies(doc: &mut Value, limits: &crate::config::Limits) {
    let name = json!({"type": "string", "pattern": NAME_PATTERN});
    let string = json!({"type": "string"});
    let rules: Vec<BodyRule> = vec![
        (
            "TokenRequest",
            &["grant_type"],
            vec![(
                "grant_type",
                json!({"type": "string", "enum": ["client_credentials", "password"]}),
            )],
        ),
        (
            "NewUserRequest",
            &["username", "password"],
            vec![
                ("username", name.clone()),
                (
                    "password",
                    json!({"type": "string", "minLength": 1, "maxLength": openpush_core::Password::MAX_CHARS}),
                ),
                (
                    "nickname",
                    json!({"type": ["string", "null"], "maxLength": limits.nickname_max_chars}),
                ),
            ],
        ),
        (
            "UpdateUserRequest",
            &[],
            vec![(
                "nickname",
                json!({"type": ["string", "null"], "maxLength": limits.nickname_max_chars}),
            )],
        ),
        (
            "CreateLabelRequest",
            &["name"],
            vec![
                ("name", name.clone()),
                (
                    "description",
                    json!({"type": ["string", "null"], "maxLength": limits.label_description_max_chars}),
                ),
            ],
        ),
        (
            "LabelUsersRequest",
            &["usernames"],
            vec![(
                "usernames",
                json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": limits.label_users_per_call}),
            )],
        ),
        (
            "BindingRequest",
            &["device_id", "notifier_name", "device_token"],
            vec![
                ("device_id", string.clone()),
                ("notifier_name", string.clone()),
                ("device_token", string.clone()),
            ],
        ),
        (
            "ReportRequest",
            &["task_id", "device_id", "action", "provider"],
            vec![
                (
                    "device_id",
                    json!({"type": "string", "pattern": DEVICE_PATTERN}),
                ),
                (
                    "action",
                    json!({"type": "string", "enum": ["ARRIVE", "CLICK"]}),
                ),
                ("provider", string.clone()),
            ],
        ),
        (
            "PushRequest",
            &["pushMessage"],
            vec![("pushMessage", json!({"type": "object"}))],
        ),
        (
            "LanguageRequest",
            &["translationLanguage"],
            vec![("translationLanguage", string.clone())],
        ),
        (
            "NotifierRequest",
            &["name", "vendor", "credentials"],
            vec![("name", string.clone()), ("vendor", string.clone())],
        ),
    ];
    for (schema, required, props) in rules {
        let Some(s) = doc.pointer_mut(&format!("/components/schemas/{schema}")) else {
            continue;
        };
        if !required.is_empty() {
            s["required"] = json!(required);
        }
        for (field, rule) in props {
            if let Some(p) = s.pointer_mut(&format!("/properties/{field}")) {
                let description = p.get("description").cloned();
                *p = rule;
                if let Some(d) = description {
                    p["description"] = d;
                }
            }
        }
    }
}

/// Path parameters the server checks before anything else.
fn path_rule(name: &str) -> Option<Value> {
    match name {
        "username" | "labelname" => Some(json!({"type": "string", "pattern": NAME_PATTERN})),
        "id" => Some(json!({"type": "integer", "format": "int64"})),
        _ => None,
    }
}

/// Finishes the generated document (see the module's description) for a server with these
/// limits.
pub fn finish(doc: utoipa::openapi::OpenApi, limits: &crate::config::Limits) -> Value {
    let mut doc = serde_json::to_value(doc).expect("the document serialises");
    tighten_bodies(&mut doc, limits);
    let extra = components();
    let comps = doc
        .as_object_mut()
        .expect("an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    for (k, v) in extra.as_object().expect("an object") {
        let slot = comps
            .as_object_mut()
            .expect("an object")
            .entry(k.clone())
            .or_insert_with(|| json!({}));
        for (name, s) in v.as_object().expect("an object") {
            slot[name] = s.clone();
        }
    }
    for (schema, field, min, max) in LENIENT_FIELDS {
        if let Some(p) = doc
            .pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            .and_then(Value::as_object_mut)
        {
            let description = p.get("description").cloned();
            *p = lenient_int(*min, *max)
                .as_object()
                .expect("an object")
                .clone();
            if let Some(d) = description {
                p.insert("description".into(), d);
            }
        }
    }
    for (schema, field) in LENIENT_BOOLS {
        if let Some(p) = doc
            .pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            .and_then(Value::as_object_mut)
        {
            let description = p.get("description").cloned();
            *p = lenient_bool().as_object().expect("an object").clone();
            if let Some(d) = description {
                p.insert("description".into(), d);
            }
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let Some((_, kind, auth, errors)) = OPERATIONS.iter().find(|o| o.0 == id) else {
                panic!("operation {id} is missing from the OpenAPI answers table");
            };
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params.iter_mut().filter_map(Value::as_object_mut) {
                    fix_parameter(&id, p);
                }
            }
            let old = op.remove("responses").unwrap_or_else(|| json!({}));
            let described = |code: &str| old.get(code).and_then(|r| r.get("description")).cloned();
            let mut responses = Map::new();
            let ok_code = if matches!(kind, Ok200::Upgrade) {
                "101"
            } else {
                "200"
            };
            let (code, r) = success(*kind, described(ok_code));
            responses.insert(code.into(), r);
            for status in errors.iter().copied().chain([429]) {
                let mut r = error_response(status);
                if let Some(d) = described(&status.to_string()) {
                    r["description"] = d;
                }
                responses.insert(status.to_string(), r);
            }
            op.insert("responses".into(), Value::Object(responses));
            if *auth != Auth::Own {
                op.insert("security".into(), json!([{"bearer": []}]));
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_answers_and_ids_are_unique() {
        let doc = crate::server::openapi();
        let mut ids = std::collections::HashSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{id} twice");
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("429"), "{method} {id}");
                assert!(
                    responses["429"]["headers"]["Retry-After"].is_object(),
                    "{id}"
                );
                let secured = op.get("security").is_some();
                assert_eq!(secured, !["token", "connect"].contains(&id), "{id}");
            }
        }
        assert_eq!(ids.len(), OPERATIONS.len());
        // Limits as the server checks them, and 64-bit ids.
        let users = &doc["paths"]["/{org}/{app}/users"]["get"];
        let limit = users["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], 100);
        let task = &doc["paths"]["/{org}/{app}/push/task/{id}"]["get"]["parameters"];
        let id = task
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "id")
            .unwrap();
        assert_eq!(id["schema"]["format"], "int64");
        let ttl = &doc["components"]["schemas"]["TokenRequest"]["properties"]["ttl"];
        assert_eq!(ttl["anyOf"][0]["minimum"], 0, "{ttl}");
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
