//! The store contract: one suite every [`Store`] implementation must pass.
//!
//! An implementation runs it with [`store_contract_tests!`], giving an async expression that
//! yields a fresh, empty store (and a guard that keeps its backing resources alive):
//!
//! ```ignore
//! openpush_store::store_contract_tests!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::open(dir.path()).await.unwrap();
//!     (std::sync::Arc::new(store) as Arc<dyn Store>, dir)
//! });
//! ```

use openpush_core::settings::{ChatType, NotificationPatch, NotificationSetting, NotifyType};
use openpush_core::{DeviceId, DeviceToken, LabelName, Nickname, NotifierName, Username};

use crate::{
    Ack, Acked, ChannelMessage, Enqueue, LegacyDnd, MemberFailure, NewApp, NewUser, PendingRow,
    SendCompletion, SendEnd, SendRow, Store, StoreError, StoredMessage, Task, TaskCounter,
    TaskKind, TaskLimits, TaskStatus, UserUpdate,
};

/// Generates one `#[tokio::test]` per contract case.
#[macro_export]
macro_rules! store_contract_tests {
    ($factory:expr) => {
        $crate::store_contract_tests!(@cases $factory;
            meta_keeps_first_value, apps_are_unique_and_listed, users_create_get_list_page,
            users_update_and_nicknames_are_atomic, delete_user_removes_dependents,
            bindings_bind_rebind_unbind, notification_settings_round_trip,
            labels_limit_and_delete, label_members_partial_success_and_limits,
            data_is_scoped_per_app, offline_queue_enqueue_replay_ack_expire,
            first_device_adopts_parked_copies, task_limits_window_and_running,
            tasks_start_checkpoint_end, messages_and_target_pages, notifiers_put_list_delete,
            daily_stats_add_up_per_app_day_and_channel, task_counts_age_out_of_the_window,
            send_queue_claim_lease_retry_and_counters, send_queue_fallback_copies_and_cancel,
            token_revocation_times_only_move_forward,
            purge_is_bounded_per_call, reports_count_once_per_task_user_and_action,
            devices_are_capped_per_user_and_stale_ones_forgotten);
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $factory.await;
                $crate::contract::$case(&*store).await;
            }
        )*
    };
}

fn u(s: &str) -> Username {
    Username::parse(s).unwrap()
}
fn l(s: &str) -> LabelName {
    LabelName::parse(s).unwrap()
}

async fn app(store: &dyn Store, name: &str) -> i64 {
    store
        .create_app(NewApp {
            uuid: format!("uuid-{name}"),
            org: "org".into(),
            name: name.into(),
            client_id: format!("cid-{name}"),
            secret_hash: vec![1, 2, 3],
            created: 1,
        })
        .await
        .unwrap()
        .id
}

async fn users(store: &dyn Store, app_id: i64, names: &[&str]) {
    let batch = names
        .iter()
        .map(|n| NewUser {
            username: u(n),
            uuid: format!("uuid-{n}"),
            password_hash: "hash".into(),
            nickname: String::new(),
            created: 10,
        })
        .collect();
    store.create_users(app_id, batch).await.unwrap();
}

pub async fn meta_keeps_first_value(store: &dyn Store) {
    assert_eq!(store.meta_get_or_insert("k", b"one").await.unwrap(), b"one");
    assert_eq!(store.meta_get_or_insert("k", b"two").await.unwrap(), b"one");
}

pub async fn apps_are_unique_and_listed(store: &dyn Store) {
    let a = app(store, "a").await;
    let dup = store
        .create_app(NewApp {
            uuid: "other".into(),
            org: "org".into(),
            name: "a".into(),
            client_id: "other".into(),
            secret_hash: vec![],
            created: 1,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    app(store, "b").await;
    let found = store.app_by_name("org", "a").await.unwrap().unwrap();
    assert_eq!(found.id, a);
    assert_eq!(found.secret_hash, vec![1, 2, 3]);
    assert_eq!(store.app_by_id(a).await.unwrap().unwrap().name, "a");
    assert!(store.app_by_name("org", "A").await.unwrap().is_none());
    let names: Vec<_> = store
        .list_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
}

pub async fn users_create_get_list_page(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2"]).await;
    // A batch with one existing user creates the rest and reports the existing one.
    let batch = vec![
        NewUser {
            username: u("U2"),
            uuid: "x".into(),
            password_hash: "h".into(),
            nickname: String::new(),
            created: 11,
        },
        NewUser {
            username: u("u3"),
            uuid: "y".into(),
            password_hash: "h".into(),
            nickname: "three".into(),
            created: 11,
        },
    ];
    let out = store.create_users(a, batch).await.unwrap();
    assert_eq!(out.existing, vec![u("u2")]);
    assert_eq!(out.created.len(), 1);
    assert_eq!(out.created[0].nickname, "three");
    // All existing: a conflict, nothing written.
    let again = vec![NewUser {
        username: u("u1"),
        uuid: "z".into(),
        password_hash: "h".into(),
        nickname: String::new(),
        created: 12,
    }];
    assert!(matches!(
        store.create_users(a, again).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.user(a, &u("u1")).await.unwrap().unwrap().uuid,
        "uuid-u1"
    );

    let page1 = store.list_users(a, None, 2).await.unwrap();
    assert_eq!(page1.len(), 2);
    let page2 = store.list_users(a, Some(page1[1].key), 2).await.unwrap();
    let all: Vec<_> = page1
        .iter()
        .chain(&page2)
        .map(|x| x.username.as_str().to_owned())
        .collect();
    assert_eq!(all, ["u1", "u2", "u3"]);
    assert!(store.user(a, &u("nobody")).await.unwrap().is_none());
    let mut some = store
        .existing_users(a, &[u("u3"), u("nobody"), u("u1")])
        .await
        .unwrap();
    some.sort();
    assert_eq!(some, vec![u("u1"), u("u3")]);
    assert!(store.existing_users(a, &[]).await.unwrap().is_empty());
}

pub async fn users_update_and_nicknames_are_atomic(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2"]).await;
    let up = store
        .update_user(
            a,
            &u("u1"),
            UserUpdate {
                nickname: Some(Nickname::parse("n", "Nick", 100).unwrap()),
                display_style: Some(1),
                legacy_dnd: Some(LegacyDnd {
                    enabled: true,
                    start_hour: Some(8),
                    end_hour: Some(18),
                }),
                ..Default::default()
            },
            99,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(up.nickname, "Nick");
    assert_eq!(up.display_style, 1);
    assert_eq!(up.modified, 99);
    assert_eq!(up.legacy_dnd.unwrap().end_hour, Some(18));
    // Fields left out stay as they were.
    let up = store
        .update_user(
            a,
            &u("u1"),
            UserUpdate {
                language: Some("EU".into()),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (up.nickname.as_str(), up.display_style, up.language.as_str()),
        ("Nick", 1, "EU")
    );
    assert!(store
        .update_user(a, &u("ghost"), UserUpdate::default(), 1)
        .await
        .unwrap()
        .is_none());

    let nick = |s: &str| Nickname::parse("n", s, 100).unwrap();
    let bad = store
        .set_nicknames(a, &[(u("u2"), nick("two")), (u("ghost"), nick("g"))], 5)
        .await;
    assert!(
        matches!(bad, Err(StoreError::NotFound(ref m)) if m == "ghost"),
        "{bad:?}"
    );
    assert_eq!(store.user(a, &u("u2")).await.unwrap().unwrap().nickname, "");
    store
        .set_nicknames(a, &[(u("u2"), nick("two"))], 5)
        .await
        .unwrap();
    assert_eq!(
        store.user(a, &u("u2")).await.unwrap().unwrap().nickname,
        "two"
    );
}

fn d(s: &str) -> DeviceId {
    DeviceId::parse(s).unwrap()
}
fn n(s: &str) -> NotifierName {
    NotifierName::parse(s).unwrap()
}
fn t(s: &str) -> DeviceToken {
    DeviceToken::parse(s).unwrap()
}

pub async fn delete_user_removes_dependents(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2"]).await;
    store
        .bind(a, &u("u1"), &d("dev"), &n("fcm"), &t("tok1"), 1)
        .await
        .unwrap();
    store.create_label(a, &l("lab"), "", 1, 10).await.unwrap();
    store
        .add_label_users(a, &l("lab"), &[u("u1"), u("u2")], 1, 10)
        .await
        .unwrap();
    let dnd = NotificationPatch {
        notify_type: Some(NotifyType::None),
        ..Default::default()
    };
    store
        .update_notification_setting(
            a,
            &u("u1"),
            ChatType::User,
            "u1",
            &dnd,
            NotificationSetting::default_for(true),
        )
        .await
        .unwrap();

    let gone = store.delete_user(a, &u("u1")).await.unwrap().unwrap();
    assert_eq!(gone.username, u("u1"));
    assert!(store.user(a, &u("u1")).await.unwrap().is_none());
    assert!(store.bindings_of(a, &[u("u1")]).await.unwrap().is_empty());
    assert_eq!(store.label(a, &l("lab")).await.unwrap().unwrap().count, 1);
    assert!(store
        .label_user(a, &l("lab"), &u("u1"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .notification_setting(a, &u("u1"), ChatType::User, "u1")
        .await
        .unwrap()
        .is_none());
    assert!(store.delete_user(a, &u("u1")).await.unwrap().is_none());
    // Re-creating the user starts clean.
    users(store, a, &["u1"]).await;
    assert!(store.bindings_of(a, &[u("u1")]).await.unwrap().is_empty());
}

pub async fn bindings_bind_rebind_unbind(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2"]).await;
    let b = store
        .bind(a, &u("u1"), &d("d1"), &n("fcm"), &t("tokA"), 1)
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    let b = store
        .bind(a, &u("u1"), &d("d1"), &n("apns"), &t("tokB"), 2)
        .await
        .unwrap();
    assert_eq!(b.len(), 2);
    // Same (user, device, notifier): the token is replaced, not added.
    let b = store
        .bind(a, &u("u1"), &d("d1"), &n("fcm"), &t("tokA2"), 3)
        .await
        .unwrap();
    assert_eq!(b.len(), 2);
    assert!(b
        .iter()
        .any(|x| x.notifier_name == "fcm" && x.device_token == "tokA2"));
    store
        .bind(a, &u("u1"), &d("d2"), &n("fcm"), &t("tokC"), 4)
        .await
        .unwrap();
    assert_eq!(store.bindings_of(a, &[u("u1")]).await.unwrap().len(), 3);

    // The token moves to u2 when u2 binds it (same phone, other user).
    store
        .bind(a, &u("u2"), &d("d9"), &n("fcm"), &t("tokC"), 5)
        .await
        .unwrap();
    let u1: Vec<_> = store.bindings_of(a, &[u("u1")]).await.unwrap();
    assert_eq!(u1.len(), 2);
    assert!(u1.iter().all(|x| x.device_token != "tokC"));

    // Unbind one notifier, then the whole device.
    let left = store
        .unbind(a, &u("u1"), &d("d1"), Some(&n("apns")))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    let left = store.unbind(a, &u("u1"), &d("d1"), None).await.unwrap();
    assert!(left.is_empty());
    let both = store.bindings_of(a, &[u("u1"), u("u2")]).await.unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].username, u("u2"));

    assert!(matches!(
        store
            .bind(a, &u("ghost"), &d("d"), &n("fcm"), &t("tok"), 1)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.unbind(a, &u("ghost"), &d("d"), None).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn notification_settings_round_trip(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1"]).await;
    assert!(store
        .notification_setting(a, &u("u1"), ChatType::User, "u1")
        .await
        .unwrap()
        .is_none());
    let patch = NotificationPatch {
        notify_type: Some(NotifyType::At),
        ignore_interval: Some("21:00-07:00".into()),
        ignore_until_ms: None,
    };
    let got = store
        .update_notification_setting(
            a,
            &u("u1"),
            ChatType::User,
            "u1",
            &patch,
            NotificationSetting::default_for(true),
        )
        .await
        .unwrap();
    let want = NotificationSetting {
        notify_type: NotifyType::At,
        ignore_interval: "21:00-07:00".into(),
        ignore_until_ms: 0,
    };
    assert_eq!(got, want);
    // A second patch changes only its own field; the default is not re-applied.
    let only_until = NotificationPatch {
        ignore_until_ms: Some(12345),
        ..Default::default()
    };
    let got = store
        .update_notification_setting(
            a,
            &u("u1"),
            ChatType::User,
            "u1",
            &only_until,
            NotificationSetting::default_for(false),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        NotificationSetting {
            ignore_until_ms: 12345,
            ..want.clone()
        }
    );
    let g = NotificationPatch {
        notify_type: Some(NotifyType::None),
        ..Default::default()
    };
    store
        .update_notification_setting(
            a,
            &u("u1"),
            ChatType::ChatGroup,
            "g1",
            &g,
            NotificationSetting::default_for(false),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .notification_setting(a, &u("u1"), ChatType::User, "u1")
            .await
            .unwrap(),
        Some(NotificationSetting {
            ignore_until_ms: 12345,
            ..want
        })
    );
    assert_eq!(
        store
            .notification_setting(a, &u("u1"), ChatType::ChatGroup, "g1")
            .await
            .unwrap()
            .unwrap()
            .notify_type,
        NotifyType::None
    );
    assert!(matches!(
        store
            .update_notification_setting(
                a,
                &u("ghost"),
                ChatType::User,
                "ghost",
                &g,
                NotificationSetting::default_for(true)
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn labels_limit_and_delete(store: &dyn Store) {
    let a = app(store, "a").await;
    store
        .create_label(a, &l("one"), "first", 5, 2)
        .await
        .unwrap();
    assert!(matches!(
        store.create_label(a, &l("one"), "", 5, 2).await,
        Err(StoreError::Conflict(_))
    ));
    store.create_label(a, &l("Two"), "", 6, 2).await.unwrap();
    assert!(matches!(
        store.create_label(a, &l("three"), "", 7, 2).await,
        Err(StoreError::Limit(_))
    ));
    let one = store.label(a, &l("one")).await.unwrap().unwrap();
    assert_eq!(
        (one.description.as_str(), one.count, one.created),
        ("first", 0, 5)
    );
    assert!(store.label(a, &l("ONE")).await.unwrap().is_none());
    let p1 = store.list_labels(a, None, 1).await.unwrap();
    let p2 = store.list_labels(a, Some(p1[0].key), 1).await.unwrap();
    let p3 = store.list_labels(a, Some(p2[0].key), 1).await.unwrap();
    assert_eq!(
        (p1[0].name.as_str(), p2[0].name.as_str(), p3.len()),
        ("one", "Two", 0)
    );
    users(store, a, &["u1"]).await;
    store
        .add_label_users(a, &l("one"), &[u("u1")], 1, 10)
        .await
        .unwrap();
    assert!(store.delete_label(a, &l("one")).await.unwrap());
    assert!(!store.delete_label(a, &l("one")).await.unwrap());
    // The slot and the name are free again.
    let again = store.create_label(a, &l("one"), "", 8, 2).await.unwrap();
    assert_eq!(again.count, 0);
}

pub async fn label_members_partial_success_and_limits(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2", "u3"]).await;
    store.create_label(a, &l("lab"), "", 1, 10).await.unwrap();
    let out = store
        .add_label_users(a, &l("lab"), &[u("u1"), u("ghost"), u("u2"), u("u3")], 7, 2)
        .await
        .unwrap();
    assert_eq!(out.success, vec![u("u1"), u("u2")]);
    assert_eq!(
        out.fail,
        vec![
            (u("ghost"), MemberFailure::UserNotFound),
            (u("u3"), MemberFailure::LabelFull)
        ]
    );
    // Adding a member again succeeds without counting twice.
    let out = store
        .add_label_users(a, &l("lab"), &[u("u1")], 8, 2)
        .await
        .unwrap();
    assert_eq!(out.success, vec![u("u1")]);
    assert_eq!(store.label(a, &l("lab")).await.unwrap().unwrap().count, 2);
    let m = store
        .label_user(a, &l("lab"), &u("u1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.created, 7);
    assert!(store
        .label_user(a, &l("lab"), &u("u3"))
        .await
        .unwrap()
        .is_none());

    let page = store.list_label_users(a, &l("lab"), None, 1).await.unwrap();
    assert_eq!(page[0].username, u("u1"));
    let page = store
        .list_label_users(a, &l("lab"), Some(page[0].key), 5)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.username.clone()).collect::<Vec<_>>(),
        vec![u("u2")]
    );

    let out = store
        .remove_label_users(a, &l("lab"), &[u("u1"), u("u3"), u("ghost")])
        .await
        .unwrap();
    assert_eq!(out.success, vec![u("u1")]);
    assert_eq!(
        out.fail,
        vec![
            (u("u3"), MemberFailure::NotMember),
            (u("ghost"), MemberFailure::UserNotFound)
        ]
    );
    assert_eq!(store.label(a, &l("lab")).await.unwrap().unwrap().count, 1);

    for r in [
        store
            .add_label_users(a, &l("nope"), &[u("u1")], 1, 10)
            .await
            .map(|_| ()),
        store
            .remove_label_users(a, &l("nope"), &[u("u1")])
            .await
            .map(|_| ()),
        store
            .list_label_users(a, &l("nope"), None, 10)
            .await
            .map(|_| ()),
        store.label_user(a, &l("nope"), &u("u1")).await.map(|_| ()),
    ] {
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    }
}

pub async fn data_is_scoped_per_app(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    users(store, a, &["u1"]).await;
    users(store, b, &["u1"]).await;
    store
        .bind(a, &u("u1"), &d("d"), &n("fcm"), &t("same-token"), 1)
        .await
        .unwrap();
    store
        .bind(b, &u("u1"), &d("d"), &n("fcm"), &t("same-token"), 1)
        .await
        .unwrap();
    // Binding the same token in app b does not release it in app a.
    assert_eq!(store.bindings_of(a, &[u("u1")]).await.unwrap().len(), 1);
    store.create_label(a, &l("lab"), "", 1, 10).await.unwrap();
    assert!(store.label(b, &l("lab")).await.unwrap().is_none());
    store.delete_user(b, &u("u1")).await.unwrap();
    assert!(store.user(a, &u("u1")).await.unwrap().is_some());
    assert_eq!(store.list_users(b, None, 10).await.unwrap().len(), 0);
}

fn message(id: i64, app_id: i64, expires_at: i64) -> ChannelMessage {
    ChannelMessage {
        id,
        app_id,
        task_id: Some(7),
        push_msg_id: None,
        body: format!(r#"{{"title":"t{id}","content":"c"}}"#),
        sent_at: 100,
        expires_at,
    }
}

fn row(id: i64, user: &str, device: &str) -> PendingRow {
    PendingRow {
        id,
        username: u(user),
        device_id: device.into(),
    }
}

pub async fn offline_queue_enqueue_replay_ack_expire(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2"]).await;
    store
        .touch_device(a, &u("u1"), &d("d1"), 1, 20)
        .await
        .unwrap();
    store
        .touch_device(a, &u("u1"), &d("d2"), 1, 20)
        .await
        .unwrap();
    let mut devs = store.devices_of(a, &[u("u1"), u("u2")]).await.unwrap();
    devs.sort();
    assert_eq!(
        devs,
        vec![(u("u1"), "d1".to_owned()), (u("u1"), "d2".to_owned())]
    );

    store
        .enqueue(&[
            Enqueue {
                message: message(10, a, 1_000),
                rows: vec![row(11, "u1", "d1"), row(12, "u1", "d2")],
                sends: vec![],
            },
            Enqueue {
                message: message(20, a, 5_000),
                rows: vec![row(21, "u1", "d1")],
                sends: vec![],
            },
        ])
        .await
        .unwrap();
    let got = store
        .pending_for(a, &u("u1"), &d("d1"), None, 500, 10)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|p| p.id).collect::<Vec<_>>(),
        [11, 21],
        "oldest first"
    );
    assert_eq!(got[0].message.body, r#"{"title":"t10","content":"c"}"#);
    assert_eq!(got[0].message.task_id, Some(7));
    // Paging.
    let got = store
        .pending_for(a, &u("u1"), &d("d1"), Some(11), 500, 10)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|p| p.id).collect::<Vec<_>>(), [21]);
    // Ack removes only that device's copy: 12 belongs to d2 and 999 does not exist.
    let ack = |id: i64| Ack {
        app_id: a,
        username: u("u1"),
        device_id: "d1".into(),
        id,
    };
    // Each removed copy comes back with its message's task, whatever the ack said.
    assert_eq!(
        store.ack(&[ack(11), ack(12), ack(999)]).await.unwrap(),
        [Acked {
            id: 11,
            task_id: Some(7)
        }]
    );
    assert!(
        store.ack(&[ack(11)]).await.unwrap().is_empty(),
        "a second ack removes nothing"
    );
    assert_eq!(
        store
            .pending_for(a, &u("u1"), &d("d2"), None, 500, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Expired copies are not replayed, and purging removes them.
    assert!(store
        .pending_for(a, &u("u1"), &d("d2"), None, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.purge_expired(1_000, 100).await.unwrap().deliveries, 1);
    assert_eq!(
        store
            .pending_for(a, &u("u1"), &d("d1"), None, 1_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Deleting the user drops its queue and devices.
    store.delete_user(a, &u("u1")).await.unwrap();
    assert!(store.devices_of(a, &[u("u1")]).await.unwrap().is_empty());
    users(store, a, &["u1"]).await;
    assert!(store
        .pending_for(a, &u("u1"), &d("d1"), None, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn purge_is_bounded_per_call(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1"]).await;
    // 25 expired copies of one message and 1 live one of another.
    store
        .enqueue(&[
            Enqueue {
                message: message(1, a, 1_000),
                rows: (0..25).map(|i| row(100 + i, "u1", "d1")).collect(),
                sends: vec![],
            },
            Enqueue {
                message: message(2, a, 9_000),
                rows: vec![row(200, "u1", "d1")],
                sends: vec![],
            },
        ])
        .await
        .unwrap();
    let mut calls = Vec::new();
    loop {
        let p = store.purge_expired(2_000, 10).await.unwrap();
        calls.push(p.deliveries);
        if !p.more {
            break;
        }
        assert!(calls.len() < 10, "the purge never ended: {calls:?}");
    }
    assert_eq!(calls, [10, 10, 5], "at most 10 deliveries per call");
    // Only the live copy is left.
    let left = store
        .pending_for(a, &u("u1"), &d("d1"), None, 2_000, 100)
        .await
        .unwrap();
    assert_eq!(left.iter().map(|p| p.id).collect::<Vec<_>>(), [200]);
}

pub async fn reports_count_once_per_task_user_and_action(store: &dyn Store) {
    use crate::ReportAction::{Arrived, Clicked};
    let counted = |c: &[TaskCounter], ch: &str| {
        c.iter()
            .find(|x| x.channel == ch)
            .map(|x| (x.arrived, x.clicked))
    };
    for (user, action, channel, want) in [
        ("u1", Arrived, "huawei", true),
        ("u1", Arrived, "huawei", false),
        ("u1", Arrived, "apns", false),
        ("u1", Clicked, "huawei", true),
        ("u1", Clicked, "huawei", false),
        ("u2", Arrived, "huawei", true),
    ] {
        assert_eq!(
            store
                .record_report(9, &u(user), action, channel, 1_000)
                .await
                .unwrap(),
            want,
            "{user} {action:?} {channel}"
        );
    }
    let c = store.task_counters(9).await.unwrap();
    assert_eq!(counted(&c, "huawei"), Some((2, 1)), "{c:?}");
    assert_eq!(counted(&c, "apns"), None, "{c:?}");
    // Once its record has expired and been purged, a report counts again.
    store.purge_expired(999, 100).await.unwrap();
    assert!(!store
        .record_report(9, &u("u2"), Arrived, "huawei", 2_000)
        .await
        .unwrap());
    store.purge_expired(1_000, 100).await.unwrap();
    assert!(store
        .record_report(9, &u("u2"), Arrived, "huawei", 2_000)
        .await
        .unwrap());
}

pub async fn devices_are_capped_per_user_and_stale_ones_forgotten(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    users(store, a, &["u1", "u2"]).await;
    users(store, b, &["u1"]).await;
    let devices = |v: Vec<(Username, String)>| v.into_iter().map(|(_, d)| d).collect::<Vec<_>>();
    for (i, dev) in ["d0", "d1", "d2"].iter().enumerate() {
        store
            .touch_device(a, &u("u1"), &d(dev), 10 + i as i64, 3)
            .await
            .unwrap();
    }
    store
        .enqueue(&[Enqueue {
            message: message(1, a, 10_000),
            rows: vec![
                row(11, "u1", "d0"),
                row(12, "u1", "d1"),
                row(13, "u1", "d2"),
            ],
            sends: vec![],
        }])
        .await
        .unwrap();
    // d0 is seen again, so d1 is the least recently seen when a fourth device comes.
    store
        .touch_device(a, &u("u1"), &d("d0"), 20, 3)
        .await
        .unwrap();
    assert!(store
        .touch_device(a, &u("u1"), &d("d3"), 21, 3)
        .await
        .unwrap());
    assert_eq!(
        devices(store.devices_of(a, &[u("u1")]).await.unwrap()),
        ["d3", "d0", "d2"],
        "the most recently seen first"
    );
    let queued = |dev: &'static str| async move {
        store
            .pending_for(a, &u("u1"), &d(dev), None, 0, 10)
            .await
            .unwrap()
            .len()
    };
    assert_eq!(queued("d1").await, 0, "forgotten with its copies");
    assert_eq!(queued("d0").await, 1);
    // A lower cap trims on the next touch, whoever touches.
    store
        .touch_device(a, &u("u1"), &d("d3"), 22, 1)
        .await
        .unwrap();
    assert_eq!(
        devices(store.devices_of(a, &[u("u1")]).await.unwrap()),
        ["d3"]
    );
    assert_eq!(queued("d0").await, 0);

    // Stale devices: unseen for the app's retention (a's own 100 s, b's the default 1000 s).
    store.set_offline_retention(a, Some(100)).await.unwrap();
    store
        .touch_device(a, &u("u2"), &d("old"), 1_000, 20)
        .await
        .unwrap();
    store
        .touch_device(a, &u("u2"), &d("kept"), 1_000, 20)
        .await
        .unwrap();
    store
        .touch_device(a, &u("u2"), &d("new"), 150_000, 20)
        .await
        .unwrap();
    store
        .touch_device(b, &u("u1"), &d("bd"), 1_000, 20)
        .await
        .unwrap();
    let now = 200_000;
    let mut stale = store.stale_devices(now, 1_000, 100).await.unwrap();
    stale.sort_by(|x, y| x.device_id.cmp(&y.device_id));
    let names: Vec<&str> = stale.iter().map(|k| k.device_id.as_str()).collect();
    assert_eq!(names, ["d3", "kept", "old"], "{stale:?}");
    assert_eq!(
        store.stale_devices(now, 1_000, 2).await.unwrap().len(),
        2,
        "bounded"
    );
    // "kept" turns out to be connected: it is recorded as seen instead. "old" is seen again
    // between the read and the sweep: it stays.
    let kept = stale
        .iter()
        .find(|k| k.device_id == "kept")
        .cloned()
        .unwrap();
    let old = stale
        .iter()
        .find(|k| k.device_id == "old")
        .cloned()
        .unwrap();
    let d3 = stale.iter().find(|k| k.device_id == "d3").cloned().unwrap();
    store
        .touch_device(a, &u("u2"), &d("old"), 199_000, 20)
        .await
        .unwrap();
    assert_eq!(
        store
            .forget_devices(&[old, d3], &[kept], now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        devices(store.devices_of(a, &[u("u1"), u("u2")]).await.unwrap()),
        ["kept", "old", "new"]
    );
    assert!(store
        .stale_devices(now, 1_000, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        devices(store.devices_of(b, &[u("u1")]).await.unwrap()),
        ["bd"]
    );
}

pub async fn first_device_adopts_parked_copies(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1"]).await;
    store
        .enqueue(&[Enqueue {
            message: message(1, a, 10_000),
            rows: vec![row(2, "u1", "")],
            sends: vec![],
        }])
        .await
        .unwrap();
    assert!(store
        .touch_device(a, &u("u1"), &d("first"), 5, 20)
        .await
        .unwrap());
    assert!(!store
        .touch_device(a, &u("u1"), &d("first"), 6, 20)
        .await
        .unwrap());
    assert_eq!(
        store
            .pending_for(a, &u("u1"), &d("first"), None, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // A copy parked later (a push racing the first connect) goes to the next device that
    // connects; the first device's own copy stays its own.
    store
        .enqueue(&[Enqueue {
            message: message(3, a, 10_000),
            rows: vec![row(4, "u1", "")],
            sends: vec![],
        }])
        .await
        .unwrap();
    assert!(store
        .touch_device(a, &u("u1"), &d("second"), 7, 20)
        .await
        .unwrap());
    let second = store
        .pending_for(a, &u("u1"), &d("second"), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(second.iter().map(|p| p.id).collect::<Vec<_>>(), [4]);
    let first = store
        .pending_for(a, &u("u1"), &d("first"), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(first.iter().map(|p| p.id).collect::<Vec<_>>(), [2]);
    // A copy parked while a device is connected is given to it (once, and only a parked copy
    // of that user).
    store
        .enqueue(&[Enqueue {
            message: message(5, a, 10_000),
            rows: vec![row(6, "u1", "")],
            sends: vec![],
        }])
        .await
        .unwrap();
    let give = |id: i64, user: &str| (id, u(user), "first".to_owned());
    assert_eq!(
        store
            .adopt_copies(
                a,
                &[give(6, "u2"), give(6, "u1"), give(4, "u1"), give(99, "u1")]
            )
            .await
            .unwrap(),
        [6]
    );
    assert!(store
        .adopt_copies(a, &[give(6, "u1")])
        .await
        .unwrap()
        .is_empty());
    let first = store
        .pending_for(a, &u("u1"), &d("first"), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(first.iter().map(|p| p.id).collect::<Vec<_>>(), [2, 6]);
    assert_eq!(store.set_offline_retention(a, Some(60)).await.unwrap(), ());
    assert_eq!(
        store
            .app_by_id(a)
            .await
            .unwrap()
            .unwrap()
            .offline_retention_secs,
        Some(60)
    );
}

fn task(id: i64, app_id: i64, kind: TaskKind, created: i64, start_at: i64) -> Task {
    Task {
        id,
        app_id,
        kind,
        push_msg_id: None,
        message: r#"{"title":"t","content":"c"}"#.into(),
        strategy: 1,
        targets: vec!["u1".into()],
        status: TaskStatus::Scheduled,
        start_at,
        created,
        started: None,
        finished: None,
        cursor: None,
        rate: None,
        stats: serde_json::json!({}),
    }
}

const LIMITS: TaskLimits = TaskLimits {
    max_running: 3,
    max_in_window: 3,
    window_ms: 300_000,
};

pub async fn task_limits_window_and_running(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    // Two broadcasts and a list task fill the window.
    store
        .create_task(&task(1, a, TaskKind::Broadcast, 0, 0), LIMITS, 0)
        .await
        .unwrap();
    store
        .create_task(&task(2, a, TaskKind::Broadcast, 1_000, 0), LIMITS, 1_000)
        .await
        .unwrap();
    store
        .create_task(&task(3, a, TaskKind::List, 2_000, 0), LIMITS, 2_000)
        .await
        .unwrap();
    let full = store
        .create_task(&task(4, a, TaskKind::Label, 3_000, 0), LIMITS, 3_000)
        .await;
    assert!(matches!(full, Err(StoreError::Limit(_))), "{full:?}");
    // Another app is not affected.
    store
        .create_task(&task(5, b, TaskKind::List, 3_000, 0), LIMITS, 3_000)
        .await
        .unwrap();
    // The list task ending frees its slot at once.
    assert!(store
        .end_task(a, 3, TaskStatus::Finished, 4_000)
        .await
        .unwrap());
    assert!(!store
        .end_task(a, 3, TaskStatus::Finished, 4_000)
        .await
        .unwrap());
    store
        .create_task(&task(6, a, TaskKind::Label, 5_000, 0), LIMITS, 5_000)
        .await
        .unwrap();
    // A finished broadcast still counts until it ages out of the window.
    assert!(store
        .end_task(a, 1, TaskStatus::Finished, 6_000)
        .await
        .unwrap());
    assert!(matches!(
        store
            .create_task(&task(7, a, TaskKind::Broadcast, 7_000, 0), LIMITS, 7_000)
            .await,
        Err(StoreError::Limit(_))
    ));
    // Task 1 (created at 0) leaves the window after 5 minutes.
    store
        .create_task(
            &task(8, a, TaskKind::Broadcast, 300_001, 0),
            LIMITS,
            300_001,
        )
        .await
        .unwrap();
    // At most 3 running: start them and creation is refused whatever the window says.
    let roomy = TaskLimits {
        max_in_window: 100,
        ..LIMITS
    };
    let started = store.start_due_tasks(300_002, 3).await.unwrap();
    let running: Vec<i64> = started
        .iter()
        .filter(|t| t.app_id == a)
        .map(|t| t.id)
        .collect();
    assert_eq!(running, [2, 6, 8]);
    let busy = store
        .create_task(&task(9, a, TaskKind::Broadcast, 300_003, 0), roomy, 300_003)
        .await;
    assert!(
        matches!(busy, Err(StoreError::Limit(ref m)) if m.contains("running")),
        "{busy:?}"
    );
}

pub async fn tasks_start_checkpoint_end(store: &dyn Store) {
    let a = app(store, "a").await;
    let roomy = TaskLimits {
        max_running: 10,
        max_in_window: 10,
        window_ms: 300_000,
    };
    let paced = Task {
        rate: Some(250),
        ..task(1, a, TaskKind::List, 0, 5_000)
    };
    store.create_task(&paced, roomy, 0).await.unwrap();
    assert_eq!(store.task(a, 1).await.unwrap().unwrap().rate, Some(250));
    store
        .create_task(&task(2, a, TaskKind::List, 0, 0), roomy, 0)
        .await
        .unwrap();
    store
        .create_task(&task(3, a, TaskKind::List, 0, 0), roomy, 0)
        .await
        .unwrap();
    // Only due tasks start, and no more than allowed per app.
    let started = store.start_due_tasks(1_000, 1).await.unwrap();
    assert_eq!(started.iter().map(|t| t.id).collect::<Vec<_>>(), [2]);
    assert_eq!(started[0].status, TaskStatus::Running);
    assert!(store.start_due_tasks(1_000, 1).await.unwrap().is_empty());
    let stats = serde_json::json!({"success": 5});
    store
        .checkpoint_task(2, Some("cursor-1"), &stats)
        .await
        .unwrap();
    let t = store.task(a, 2).await.unwrap().unwrap();
    assert_eq!(
        (t.cursor.as_deref(), t.stats.clone(), t.started),
        (Some("cursor-1"), stats, Some(1_000))
    );
    assert_eq!(store.running_tasks().await.unwrap().len(), 1);
    assert!(store
        .end_task(a, 2, TaskStatus::Finished, 2_000)
        .await
        .unwrap());
    let t = store.task(a, 2).await.unwrap().unwrap();
    assert_eq!((t.status, t.finished), (TaskStatus::Finished, Some(2_000)));
    // A checkpoint after the end changes nothing.
    store
        .checkpoint_task(2, Some("late"), &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(
        store.task(a, 2).await.unwrap().unwrap().cursor.as_deref(),
        Some("cursor-1")
    );
    // Cancel a scheduled one; it never starts.
    assert!(store
        .end_task(a, 1, TaskStatus::Cancelled, 3_000)
        .await
        .unwrap());
    // The app's own limit wins over the server's.
    store.set_task_limits(a, Some(1), Some(7)).await.unwrap();
    let app_row = store.app_by_id(a).await.unwrap().unwrap();
    assert_eq!(
        (app_row.tasks_running_max, app_row.tasks_per_window),
        (Some(1), Some(7))
    );
    let later = store.start_due_tasks(10_000, 5).await.unwrap();
    assert_eq!(later.iter().map(|t| t.id).collect::<Vec<_>>(), [3]);
    store
        .create_task(&task(4, a, TaskKind::List, 0, 0), roomy, 10_000)
        .await
        .unwrap();
    assert!(
        store.start_due_tasks(10_000, 5).await.unwrap().is_empty(),
        "task 3 holds the app's one slot"
    );
    store.set_task_limits(a, None, None).await.unwrap();
    let later = store.start_due_tasks(10_000, 5).await.unwrap();
    assert_eq!(later.iter().map(|t| t.id).collect::<Vec<_>>(), [4]);
    assert!(store
        .end_task(a, 4, TaskStatus::Finished, 11_000)
        .await
        .unwrap());
    let listed: Vec<i64> = store
        .list_tasks(a, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [4, 3, 2, 1]);
    assert_eq!(store.list_tasks(a, 1, 1).await.unwrap()[0].id, 3);
    assert!(store.task(a + 1, 2).await.unwrap().is_none());
}

pub async fn messages_and_target_pages(store: &dyn Store) {
    let a = app(store, "a").await;
    let m = StoredMessage {
        id: 77,
        app_id: a,
        body: r#"{"title":"x"}"#.into(),
        created: 5,
    };
    store.create_message(&m).await.unwrap();
    assert_eq!(store.message(a, 77).await.unwrap(), Some(m));
    assert!(store.message(a + 1, 77).await.unwrap().is_none());

    users(store, a, &["u1", "u2", "u3", "u4"]).await;
    let p1 = store.user_page(a, None, 3).await.unwrap();
    let p2 = store.user_page(a, Some(p1[2].0), 3).await.unwrap();
    let all: Vec<_> = p1
        .iter()
        .chain(&p2)
        .map(|(_, u)| u.as_str().to_owned())
        .collect();
    assert_eq!(all, ["u1", "u2", "u3", "u4"]);

    store.create_label(a, &l("x"), "", 1, 10).await.unwrap();
    store.create_label(a, &l("y"), "", 1, 10).await.unwrap();
    store
        .add_label_users(a, &l("x"), &[u("u1"), u("u2"), u("u3")], 1, 10)
        .await
        .unwrap();
    store
        .add_label_users(a, &l("y"), &[u("u3"), u("u2"), u("u4")], 1, 10)
        .await
        .unwrap();
    let both = store
        .label_intersection_page(a, &[l("x"), l("y")], None, 10)
        .await
        .unwrap();
    assert_eq!(
        both.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>(),
        ["u2", "u3"]
    );
    let first = store
        .label_intersection_page(a, &[l("x"), l("y")], None, 1)
        .await
        .unwrap();
    let rest = store
        .label_intersection_page(a, &[l("x"), l("y")], Some(first[0].0), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>(),
        ["u3"]
    );
    assert!(matches!(
        store
            .label_intersection_page(a, &[l("x"), l("nope")], None, 10)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn notifiers_put_list_delete(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    let n = |app_id: i64, name: &str, secret: &str| crate::Notifier {
        app_id,
        name: name.into(),
        vendor: "huawei".into(),
        environment: "production".into(),
        credentials: serde_json::json!({"app_id": "1", "client_id": "c", "client_secret": secret}),
        base_url: None,
        created: 1,
    };
    assert!(!store.put_notifier(&n(a, "hw", "s1")).await.unwrap());
    assert!(
        store.put_notifier(&n(a, "hw", "s2")).await.unwrap(),
        "replaced"
    );
    store.put_notifier(&n(a, "aa", "s")).await.unwrap();
    store.put_notifier(&n(b, "hw", "other")).await.unwrap();
    let got = store.notifier(a, "hw").await.unwrap().unwrap();
    assert_eq!(got.credentials["client_secret"], "s2");
    assert!(
        !format!("{got:?}").contains("s2"),
        "Debug hides the credentials"
    );
    let names: Vec<String> = store
        .notifiers(a)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["aa", "hw"]);
    assert!(store.delete_notifier(a, "hw").await.unwrap());
    assert!(!store.delete_notifier(a, "hw").await.unwrap());
    assert!(store.notifier(a, "hw").await.unwrap().is_none());
    assert_eq!(
        store.notifier(b, "hw").await.unwrap().unwrap().credentials["client_secret"],
        "other"
    );
}

pub async fn daily_stats_add_up_per_app_day_and_channel(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    let row =
        |app_id: i64, day: &str, channel: &str, success: i64, arrived: i64| crate::DailyStat {
            app_id,
            day: day.into(),
            channel: channel.into(),
            success,
            fail: 1,
            unknown: 0,
            arrived,
            clicked: arrived / 2,
        };
    store
        .add_daily_stats(&[
            row(a, "2026-12-01", "apns", 5, 0),
            row(a, "2026-12-01", "apns", 2, 0),
            row(a, "2026-12-02", "easemob", 3, 4),
            row(a, "2026-11-30", "huawei", 9, 0),
            row(b, "2026-12-01", "apns", 100, 0),
        ])
        .await
        .unwrap();
    store
        .add_daily_stats(&[row(a, "2026-12-02", "easemob", 1, 2)])
        .await
        .unwrap();
    store.add_daily_stats(&[]).await.unwrap();
    let got = store
        .daily_stats(a, "2026-12-01", "2026-12-02")
        .await
        .unwrap();
    let brief: Vec<(String, String, i64, i64, i64, i64)> = got
        .iter()
        .map(|r| {
            (
                r.day.clone(),
                r.channel.clone(),
                r.success,
                r.fail,
                r.arrived,
                r.clicked,
            )
        })
        .collect();
    assert_eq!(
        brief,
        [
            ("2026-12-01".into(), "apns".into(), 7, 2, 0, 0),
            ("2026-12-02".into(), "easemob".into(), 4, 2, 6, 3),
        ]
    );
    assert!(got.iter().all(|r| r.app_id == a));
    assert!(store
        .daily_stats(b, "2026-12-02", "2026-12-31")
        .await
        .unwrap()
        .is_empty());
}

/// Every task count ages out of the window: a list task scheduled far ahead stops counting once
/// it is older than the window, though it has not run.
pub async fn task_counts_age_out_of_the_window(store: &dyn Store) {
    let a = app(store, "a").await;
    let far = 30 * 24 * 3_600_000;
    for (id, at) in [(1, 0), (2, 1_000), (3, 2_000)] {
        store
            .create_task(&task(id, a, TaskKind::List, at, far), LIMITS, at)
            .await
            .unwrap();
    }
    let full = store
        .create_task(&task(4, a, TaskKind::Label, 3_000, far), LIMITS, 3_000)
        .await;
    assert!(matches!(full, Err(StoreError::Limit(_))), "{full:?}");
    // Task 1 leaves the window after five minutes; 2 and 3 still count.
    store
        .create_task(
            &task(5, a, TaskKind::Broadcast, 300_001, 0),
            LIMITS,
            300_001,
        )
        .await
        .unwrap();
    let full = store
        .create_task(&task(6, a, TaskKind::List, 300_002, far), LIMITS, 300_002)
        .await;
    assert!(matches!(full, Err(StoreError::Limit(_))), "{full:?}");
}

fn send(id: i64, user: &str, notifier: &str, fallback: bool) -> SendRow {
    SendRow {
        id,
        username: u(user),
        device_id: format!("{user}-phone"),
        notifier: notifier.into(),
        device_token: format!("token-{id}"),
        fallback,
    }
}

fn done(leg: &crate::QueuedSend, end: SendEnd) -> SendCompletion {
    SendCompletion {
        id: leg.id,
        batch: leg.batch,
        channel: "huawei".into(),
        end,
    }
}

fn refused() -> SendEnd {
    SendEnd::Failed {
        reason: "bad device token".into(),
        unknown: false,
    }
}

fn leg(legs: &[crate::QueuedSend], id: i64) -> &crate::QueuedSend {
    legs.iter().find(|q| q.id == id).unwrap()
}

fn ids(legs: &[crate::QueuedSend]) -> Vec<i64> {
    legs.iter().map(|q| q.id).collect()
}

/// Delivery ids for fallback copies, from 900 up.
fn ids_from_900() -> impl Fn() -> i64 + Send + Sync {
    let next = std::sync::atomic::AtomicI64::new(900);
    move || next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn counts(counters: &[TaskCounter], channel: &str) -> Option<(i64, i64, i64)> {
    counters
        .iter()
        .find(|c| c.channel == channel)
        .map(|c| (c.success, c.fail, c.unknown))
}

pub async fn send_queue_claim_lease_retry_and_counters(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    users(store, a, &["u1", "u2", "u3"]).await;
    store
        .enqueue(&[
            Enqueue {
                message: message(10, a, 100_000),
                rows: vec![],
                sends: vec![
                    send(101, "u1", "n1", false),
                    send(102, "u1", "n2", false),
                    send(103, "u2", "n1", false),
                    send(104, "u3", "n1", false),
                ],
            },
            Enqueue {
                message: message(20, a, 100_000),
                rows: vec![],
                sends: vec![send(201, "u2", "n1", false)],
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        store.send_queues().await.unwrap(),
        [(a, "n1".to_owned()), (a, "n2".to_owned())]
    );
    assert_eq!(store.queued_sends_of_task(7).await.unwrap(), 5);
    // Nothing is due before the message was sent, and another app sees nothing.
    assert!(store
        .claim_sends(a, "n1", 99, 5_000, 1, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claim_sends(b, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap()
        .is_empty());
    // A claim takes whole batches (a message's legs for one notifier), oldest first.
    let got = store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 1)
        .await
        .unwrap();
    assert_eq!(ids(&got), [101, 103, 104]);
    assert_eq!(got[0].attempts, 1);
    assert_eq!(got[0].device_token, "token-101");
    assert_eq!(got[0].username, u("u1"));
    assert_eq!(got[0].notifier, "n1");
    assert_eq!(got[0].message.body, r#"{"title":"t10","content":"c"}"#);
    assert_eq!(got[0].batch, got[2].batch);
    // Leased batches are not claimed again until their lease ends (or its owner gives it back).
    let rest = store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap();
    assert_eq!(ids(&rest), [201]);
    assert!(store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_send_due(a, "n1").await.unwrap(), Some(5_000));
    assert_eq!(store.release_send_leases(2).await.unwrap(), 0);
    assert_eq!(store.release_send_leases(1).await.unwrap(), 2);
    let again = store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap();
    assert_eq!(ids(&again), [101, 103, 104, 201]);
    assert_eq!(again[0].attempts, 2);

    let next = ids_from_900();
    let r = store
        .complete_sends(
            &[
                done(leg(&again, 101), refused()),
                done(leg(&again, 103), SendEnd::Sent),
                done(
                    leg(&again, 104),
                    SendEnd::Retry {
                        due_at: 3_000,
                        reason: "vendor busy".into(),
                    },
                ),
                done(leg(&again, 201), SendEnd::Sent),
            ],
            2_000,
            &next,
        )
        .await
        .unwrap();
    // u2's legs were sent: both its groups ended. u1 still has a leg at n2; u3 waits to retry.
    let mut ended: Vec<(&str, bool)> = r
        .groups
        .iter()
        .map(|g| (g.username.as_str(), g.sent))
        .collect();
    ended.sort_unstable();
    assert_eq!(ended, [("u2", true), ("u2", true)], "{r:?}");
    assert!(r.fallbacks.is_empty());
    assert_eq!(store.queued_sends_of_task(7).await.unwrap(), 2);
    assert!(store
        .claim_sends(a, "n1", 2_999, 9_000, 1, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_send_due(a, "n1").await.unwrap(), Some(3_000));
    let retry = store
        .claim_sends(a, "n1", 3_000, 9_000, 1, 10)
        .await
        .unwrap();
    assert_eq!(
        retry.iter().map(|q| (q.id, q.attempts)).collect::<Vec<_>>(),
        [(104, 3)]
    );
    let r = store
        .complete_sends(
            &[done(
                &retry[0],
                SendEnd::Failed {
                    reason: "vendor unreachable".into(),
                    unknown: true,
                },
            )],
            3_000,
            &next,
        )
        .await
        .unwrap();
    assert_eq!(r.groups.len(), 1);
    assert!(
        r.groups[0].unknown && !r.groups[0].sent && !r.groups[0].fell_back,
        "{r:?}"
    );
    let n2 = store
        .claim_sends(a, "n2", 3_000, 9_000, 1, 10)
        .await
        .unwrap();
    let r = store
        .complete_sends(&[done(&n2[0], SendEnd::Sent)], 3_000, &next)
        .await
        .unwrap();
    // u1: one leg refused, one sent: sent.
    assert_eq!(
        (r.groups[0].username.as_str(), r.groups[0].sent),
        ("u1", true)
    );
    // A leg that ended already is not ended (or counted) twice.
    let r = store
        .complete_sends(&[done(leg(&again, 103), refused())], 3_000, &next)
        .await
        .unwrap();
    assert!(r.groups.is_empty());
    assert_eq!(store.queued_sends_of_task(7).await.unwrap(), 0);
    assert!(store.send_queues().await.unwrap().is_empty());
    // The task counts each leg under its channel and each user of each message once.
    let counters = store.task_counters(7).await.unwrap();
    assert_eq!(counts(&counters, "huawei"), Some((3, 1, 1)), "{counters:?}");
    assert_eq!(
        counts(&counters, ""),
        Some((3, 0, 1)),
        "u1, u2 twice sent; u3 unknown: {counters:?}"
    );
    // Messages go once nothing refers to them and they expire.
    assert_eq!(
        store.purge_expired(100_000, 100).await.unwrap().deliveries,
        0
    );
    assert!(store
        .claim_sends(a, "n1", 200_000, 300_000, 1, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn send_queue_fallback_copies_and_cancel(store: &dyn Store) {
    let a = app(store, "a").await;
    users(store, a, &["u1", "u2", "u3"]).await;
    store
        .touch_device(a, &u("u1"), &d("d1"), 1, 20)
        .await
        .unwrap();
    store
        .touch_device(a, &u("u1"), &d("d2"), 1, 20)
        .await
        .unwrap();
    store
        .enqueue(&[Enqueue {
            message: message(10, a, 100_000),
            rows: vec![],
            sends: vec![
                send(101, "u1", "n1", true),
                send(102, "u2", "n1", true),
                send(103, "u3", "n1", true),
            ],
        }])
        .await
        .unwrap();
    let claimed = store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let next = ids_from_900();
    let r = store
        .complete_sends(
            &[
                done(leg(&claimed, 101), refused()),
                done(leg(&claimed, 102), refused()),
                done(leg(&claimed, 103), SendEnd::Sent),
            ],
            1_000,
            &next,
        )
        .await
        .unwrap();
    // u1 (two known devices) and u2 (none yet) fell back; u3 was sent.
    let mut fell: Vec<(String, String)> = r
        .fallbacks
        .iter()
        .map(|(u, d, _, m)| {
            assert_eq!(m.id, 10);
            (u.as_str().to_owned(), d.clone())
        })
        .collect();
    fell.sort();
    assert_eq!(
        fell,
        [
            ("u1".to_owned(), "d1".to_owned()),
            ("u1".to_owned(), "d2".to_owned()),
            ("u2".to_owned(), String::new())
        ]
    );
    assert!(r.fallbacks.iter().all(|(_, _, id, _)| *id >= 900));
    let replay = store
        .pending_for(a, &u("u1"), &d("d2"), None, 1_000, 10)
        .await
        .unwrap();
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].message.body, r#"{"title":"t10","content":"c"}"#);
    // u2's copy waits for its first device.
    store
        .touch_device(a, &u("u2"), &d("p"), 2, 20)
        .await
        .unwrap();
    assert_eq!(
        store
            .pending_for(a, &u("u2"), &d("p"), None, 1_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let counters = store.task_counters(7).await.unwrap();
    assert_eq!(
        counts(&counters, "easemob"),
        Some((2, 0, 0)),
        "{counters:?}"
    );
    assert_eq!(counts(&counters, ""), Some((3, 0, 0)), "{counters:?}");

    // A user with two bindings: one leg sent, the other refused afterwards: no fallback.
    store
        .enqueue(&[Enqueue {
            message: message(30, a, 100_000),
            rows: vec![],
            sends: vec![send(301, "u3", "n1", true), send(302, "u3", "n2", true)],
        }])
        .await
        .unwrap();
    let one = store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap();
    let r = store
        .complete_sends(&[done(&one[0], SendEnd::Sent)], 1_000, &next)
        .await
        .unwrap();
    assert!(r.groups.is_empty(), "its other leg is still queued: {r:?}");
    let other = store
        .claim_sends(a, "n2", 1_000, 5_000, 1, 10)
        .await
        .unwrap();
    let r = store
        .complete_sends(&[done(&other[0], refused())], 1_000, &next)
        .await
        .unwrap();
    assert_eq!(r.groups.len(), 1);
    assert!(r.groups[0].sent && !r.groups[0].fell_back, "{r:?}");
    assert!(r.fallbacks.is_empty());

    // Cancelling a task drops its legs still waiting.
    store
        .create_task(&task(7, a, TaskKind::List, 0, 0), LIMITS, 0)
        .await
        .unwrap();
    store
        .enqueue(&[Enqueue {
            message: message(20, a, 100_000),
            rows: vec![],
            sends: vec![send(201, "u1", "n1", false), send(202, "u2", "n1", false)],
        }])
        .await
        .unwrap();
    assert_eq!(store.queued_sends_of_task(7).await.unwrap(), 2);
    assert!(store
        .end_task(a, 7, TaskStatus::Cancelled, 1_000)
        .await
        .unwrap());
    assert_eq!(store.queued_sends_of_task(7).await.unwrap(), 0);
    assert!(store
        .claim_sends(a, "n1", 1_000, 5_000, 1, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Rotating a secret and revoking a user's tokens record when tokens start to count; an
/// earlier time never undoes a later one, and a password set with a revocation is kept.
pub async fn token_revocation_times_only_move_forward(store: &dyn Store) {
    let a = app(store, "a").await;
    let b = app(store, "b").await;
    users(store, a, &["u1", "u2"]).await;
    let fresh = store.app_by_id(a).await.unwrap().unwrap();
    assert_eq!(fresh.app_tokens_valid_from, 0);
    assert_eq!(
        store
            .user(a, &u("u1"))
            .await
            .unwrap()
            .unwrap()
            .tokens_valid_from,
        0
    );

    let rotated = store
        .rotate_app_secret(a, &[9, 9], 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.secret_hash, vec![9, 9]);
    assert_eq!(rotated.app_tokens_valid_from, 5_000);
    let again = store
        .rotate_app_secret(a, &[8], 4_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.secret_hash, vec![8]);
    assert_eq!(again.app_tokens_valid_from, 5_000, "never moves back");
    let read = store.app_by_name("org", "a").await.unwrap().unwrap();
    assert_eq!(
        (read.secret_hash, read.app_tokens_valid_from),
        (vec![8], 5_000)
    );
    assert_eq!(
        store
            .app_by_id(b)
            .await
            .unwrap()
            .unwrap()
            .app_tokens_valid_from,
        0
    );
    assert!(store
        .rotate_app_secret(9_999, &[1], 1)
        .await
        .unwrap()
        .is_none());

    let r = store
        .revoke_user_tokens(a, &u("u1"), 7_000, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.tokens_valid_from, 7_000);
    assert_eq!(r.password_hash, "hash");
    let r = store
        .revoke_user_tokens(a, &u("u1"), 6_000, Some("new-hash"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.tokens_valid_from, r.password_hash.as_str()),
        (7_000, "new-hash")
    );
    let read = store.user(a, &u("u1")).await.unwrap().unwrap();
    assert_eq!(
        (read.tokens_valid_from, read.password_hash.as_str()),
        (7_000, "new-hash")
    );
    assert_eq!(
        store
            .user(a, &u("u2"))
            .await
            .unwrap()
            .unwrap()
            .tokens_valid_from,
        0
    );
    assert!(store
        .revoke_user_tokens(a, &u("ghost"), 1, None)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .revoke_user_tokens(b, &u("u1"), 1, None)
        .await
        .unwrap()
        .is_none());
}
