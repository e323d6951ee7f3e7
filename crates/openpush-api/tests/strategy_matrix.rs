//! The whole strategy matrix: strategy 0–4 × user online/offline × vendor
//! succeeds / token dead / vendor down / no binding. For each cell: the per-target status and
//! where the notification ends up — on the device's WebSocket, in the offline store, at the
//! vendor (the APNs stand-in), or nowhere.

mod common;

use std::time::Duration;

use common::TestServer;
use openpush_client::{login, Device, Event};
use openpush_core::{Clock, DeviceId, Username};
use openpush_vendor_mock::MockVendors;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Ok,
    Dead,
    Down,
    None,
}

/// Where a cell's notification must end up.
#[derive(Debug, PartialEq, Eq)]
struct Expect {
    /// Statuses of the legs, in order (vendor leg first when there is one).
    statuses: Vec<&'static str>,
    at_vendor: bool,
    on_socket: bool,
    stored: bool,
}

fn expect(strategy: u8, online: bool, v: Vendor) -> Expect {
    let vendor_leg = match v {
        Vendor::Ok => "SUCCESS",
        Vendor::Dead | Vendor::None => "FAIL",
        Vendor::Down => "ERROR",
    };
    let vendor_ok = v == Vendor::Ok;
    match strategy {
        // Vendor first; if it fails, the Easemob channel (sent if online, kept for the device).
        0 if vendor_ok => Expect {
            statuses: vec!["SUCCESS"],
            at_vendor: true,
            on_socket: false,
            stored: false,
        },
        0 => Expect {
            statuses: vec![vendor_leg, "SUCCESS"],
            at_vendor: false,
            on_socket: online,
            stored: true,
        },
        // Easemob channel only: kept until acked, sent now if online.
        1 => Expect {
            statuses: vec!["SUCCESS"],
            at_vendor: false,
            on_socket: online,
            stored: true,
        },
        // Vendor only; a failure is final.
        2 => Expect {
            statuses: vec![vendor_leg],
            at_vendor: vendor_ok,
            on_socket: false,
            stored: false,
        },
        // Online: Easemob channel, not stored. Offline: vendor, and what it could not deliver is
        // kept for the Easemob channel.
        3 if online => Expect {
            statuses: vec!["SUCCESS"],
            at_vendor: false,
            on_socket: true,
            stored: false,
        },
        3 if vendor_ok => Expect {
            statuses: vec!["SUCCESS"],
            at_vendor: true,
            on_socket: false,
            stored: false,
        },
        3 => Expect {
            statuses: vec![vendor_leg, "SUCCESS"],
            at_vendor: false,
            on_socket: false,
            stored: true,
        },
        // Online only.
        4 if online => Expect {
            statuses: vec!["SUCCESS"],
            at_vendor: false,
            on_socket: true,
            stored: false,
        },
        4 => Expect {
            statuses: vec!["FAIL"],
            at_vendor: false,
            on_socket: false,
            stored: false,
        },
        _ => unreachable!(),
    }
}

fn apns_token(i: usize) -> String {
    format!("{:064x}", 0xa000_0000_u64 + i as u64)
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Cell {
    strategy: u8,
    online: bool,
    v: Vendor,
    i: usize,
}

async fn cell(s: &TestServer, mocks: &MockVendors, p: &str, t: &str, c: Cell) {
    let Cell {
        strategy,
        online,
        v,
        i,
    } = c;
    let user = format!("m{strategy}{}{i}", if online { "on" } else { "off" });
    s.users(p, t, &[&user]).await;
    let token = apns_token(i);
    match v {
        Vendor::Ok | Vendor::Dead => {
            s.put(
                &format!("{p}/users/{user}/push/binding"),
                t,
                json!({"device_id": "phone", "notifier_name": "ios", "device_token": token}),
            )
            .await;
            if v == Vendor::Dead {
                mocks.apns().unregister(&token);
            }
        }
        Vendor::Down => {
            s.put(
                &format!("{p}/users/{user}/push/binding"),
                t,
                json!({"device_id": "phone", "notifier_name": "ios-down", "device_token": token}),
            )
            .await;
        }
        Vendor::None => {}
    }
    // The device is known to the Easemob channel; offline users leave again.
    let user_token = login(&s.base, "o", "a", &user, "pw").await.unwrap();
    let device = Device::connect(&s.base, "o", "a", &user_token, "phone")
        .await
        .unwrap();
    let mut device = if online {
        Some(device)
    } else {
        device.close().await.unwrap();
        None
    };
    let (st, b) = s
        .post(&format!("{p}/push/sync/{user}"), t, json!({"strategy": strategy, "pushMessage": {"title": "cell", "content": format!("{strategy} {online} {v:?}")}}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let want = expect(strategy, online, v);
    let statuses: Vec<String> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["pushStatus"].as_str().unwrap().to_owned())
        .collect();
    let ctx = format!("strategy {strategy}, online {online}, vendor {v:?}: {b}");
    assert_eq!(statuses, want.statuses, "{ctx}");
    if v == Vendor::None && want.statuses[0] == "FAIL" && strategy != 4 {
        assert_eq!(b["data"][0]["desc"], "no push binding", "{ctx}");
    }
    if v == Vendor::Dead && strategy != 1 && strategy != 4 && !(strategy == 3 && online) {
        assert_eq!(b["data"][0]["desc"], "bad device token", "{ctx}");
    }
    if strategy == 4 && !online {
        assert_eq!(b["data"][0]["desc"], "user offline", "{ctx}");
    }
    // At the vendor?
    let at_vendor = mocks
        .apns()
        .pushes()
        .iter()
        .any(|x| x.device_token == token);
    assert_eq!(at_vendor, want.at_vendor, "{ctx}");
    // On the socket? A strategy-4 probe is the next thing an online device sees otherwise.
    if let Some(device) = device.as_mut() {
        s.post(&format!("{p}/push/single"), t, json!({"targets": [user], "strategy": 4, "pushMessage": {"title": "probe", "content": "p"}})).await;
        let first = match tokio::time::timeout(Duration::from_secs(10), device.next()).await {
            Ok(Ok(Event::Push(n))) => n.message["title"].as_str().unwrap().to_owned(),
            other => panic!("{ctx}: {other:?}"),
        };
        assert_eq!(first == "cell", want.on_socket, "{ctx}");
    }
    // In the offline store?
    let app = s.store.app_by_name("o", "a").await.unwrap().unwrap();
    let kept = s
        .store
        .pending_for(
            app.id,
            &Username::parse(&user).unwrap(),
            &DeviceId::parse("phone").unwrap(),
            None,
            s.clock.now_ms(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(!kept.is_empty(), want.stored, "{ctx}");
}

#[tokio::test]
async fn every_strategy_online_and_offline_against_every_vendor_outcome() {
    let mocks = MockVendors::start().await.unwrap();
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    let c = mocks.apns_credentials();
    let creds: Value = json!({"key_p8": c.p8_pem(), "key_id": c.key_id, "team_id": c.team_id, "bundle_id": c.bundle_id});
    for (name, url) in [
        ("ios", mocks.apns_url()),
        ("ios-down", "http://127.0.0.1:1".to_owned()),
    ] {
        let (st, b) = s
            .post(
                &format!("{p}/notifiers"),
                &t,
                json!({"name": name, "vendor": "apns", "base_url": url, "credentials": creds}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }
    let mut cells = Vec::new();
    let mut i = 0;
    for strategy in 0..=4u8 {
        for online in [true, false] {
            for v in [Vendor::Ok, Vendor::Dead, Vendor::Down, Vendor::None] {
                i += 1;
                cells.push(cell(
                    &s,
                    &mocks,
                    &p,
                    &t,
                    Cell {
                        strategy,
                        online,
                        v,
                        i,
                    },
                ));
            }
        }
    }
    assert_eq!(cells.len(), 40);
    // Cells are independent (a user each); running them together keeps the vendor-down
    // retries from adding up.
    futures_util::future::join_all(cells).await;
    mocks.shutdown().await;
}
