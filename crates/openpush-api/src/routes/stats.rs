//! Statistics per app and day: Easemob's offline-push result call (`/push/data/offline-push`) and
//! a fuller daily view (every channel, arrivals and clicks) that Easemob shows only in its
//! console. Days are UTC; counters are written behind and fresh within about a second.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openpush_core::clock::{day_string, parse_day};
use openpush_store::DailyStat;
use serde_json::{json, Map, Value};

use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, QueryMap};
use crate::state::AppState;

/// The longest range one call may ask for, in days.
pub const MAX_DAYS: i64 = 366;

/// The platform names of Easemob's offline-push result call and the channel each counts.
const PLATFORMS: [(&str, &str); 8] = [
    ("APNS", "apns"),
    ("ANDROID", "fcm"),
    ("XIAOMIPUSH", "xiaomi"),
    ("HUAWEIPUSH", "huawei"),
    ("MEIZUPUSH", "meizu"),
    ("OPPOPUSH", "oppo"),
    ("VIVOPUSH", "vivo"),
    ("HONOR", "honor"),
];

/// The days `start..=end` (`yyyy-MM-dd`), checked: real days, in order, at most [`MAX_DAYS`].
fn day_range(start: &str, end: &str) -> ApiResult<(i64, i64)> {
    let day = |name: &str, s: &str| {
        parse_day(s).ok_or_else(|| {
            ApiError::illegal_argument(format!("{name} must be a day as yyyy-MM-dd, got {s:?}"))
        })
    };
    let (a, b) = (day("startTime", start)?, day("endTime", end)?);
    if b < a {
        return Err(ApiError::illegal_argument(format!(
            "endTime {end} is before startTime {start}"
        )));
    }
    if b - a + 1 > MAX_DAYS {
        return Err(ApiError::illegal_argument(format!(
            "at most {MAX_DAYS} days per query, asked for {}",
            b - a + 1
        )));
    }
    Ok((a, b))
}

async fn rows(state: &AppState, ctx: &AppCtx, a: i64, b: i64) -> ApiResult<Vec<DailyStat>> {
    Ok(state
        .store
        .daily_stats(ctx.app.id, &day_string(a), &day_string(b))
        .await?)
}

#[utoipa::path(get, path = "/{org}/{app}/push/data/offline-push/begin/{startTime}/end/{endTime}", tag = "statistics",
    params(("org" = String, Path), ("app" = String, Path),
           ("startTime" = String, Path, description = "yyyy-MM-dd (UTC)"),
           ("endTime" = String, Path, description = "yyyy-MM-dd (UTC), at most 366 days after startTime"),
           ("platform" = Option<String>, Query, description = "ALL (default), APNS, ANDROID (FCM), XIAOMIPUSH, HUAWEIPUSH, MEIZUPUSH, OPPOPUSH, VIVOPUSH or HONOR")),
    responses((status = 200, description = "`{\"status\":\"OK\",\"data\":{day:{platform:{successCount,failCount}}}}`: every day of the range; under it the platforms with any push that day (or the one asked for, zeros included)"),
              (status = 400, description = "a bad day, range or platform")))]
pub async fn offline_push(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, start, end)): Path<(String, String, String, String)>,
    q: QueryMap,
) -> ApiResult<Response> {
    let (a, b) = day_range(&start, &end)?;
    let platform = q
        .get("platform")
        .map(|p| p.trim().to_ascii_uppercase())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "ALL".into());
    let wanted: Vec<(&str, &str)> = if platform == "ALL" {
        PLATFORMS.to_vec()
    } else {
        let one = PLATFORMS
            .iter()
            .find(|(p, _)| *p == platform)
            .ok_or_else(|| {
                ApiError::illegal_argument(format!(
                    "platform must be ALL or one of {}, got {platform:?}",
                    PLATFORMS.map(|(p, _)| p).join(", ")
                ))
            })?;
        vec![*one]
    };
    let rows = rows(&state, &ctx, a, b).await?;
    let by_key: std::collections::HashMap<(&str, &str), &DailyStat> = rows
        .iter()
        .map(|r| ((r.day.as_str(), r.channel.as_str()), r))
        .collect();
    let mut data = Map::new();
    for d in a..=b {
        let day = day_string(d);
        let mut per = Map::new();
        for (name, channel) in &wanted {
            let r = by_key.get(&(day.as_str(), *channel));
            // A failure here is anything not delivered to the vendor: refused or errored.
            let (ok, failed) = r.map_or((0, 0), |r| (r.success, r.fail + r.unknown));
            if platform != "ALL" || ok + failed > 0 {
                per.insert(
                    (*name).to_owned(),
                    json!({"successCount": ok, "failCount": failed}),
                );
            }
        }
        data.insert(day, Value::Object(per));
    }
    Ok(Json(json!({"status": "OK", "data": data})).into_response())
}

#[utoipa::path(get, path = "/{org}/{app}/push/data/daily/begin/{startTime}/end/{endTime}", tag = "statistics",
    params(("org" = String, Path), ("app" = String, Path),
           ("startTime" = String, Path, description = "yyyy-MM-dd (UTC)"),
           ("endTime" = String, Path, description = "yyyy-MM-dd (UTC), at most 366 days after startTime")),
    responses((status = 200, description = "`data`: one entry per day of the range: `day`, totals (`success`, `fail`, `unknown`, `arrived`, `clicked`) and `channels` (easemob and each vendor) with the same counters"),
              (status = 400, description = "a bad day or range")))]
pub async fn daily(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, start, end)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let (a, b) = day_range(&start, &end)?;
    let rows = rows(&state, &ctx, a, b).await?;
    let counters = |it: &mut dyn Iterator<Item = &DailyStat>| {
        let mut t = [0i64; 5];
        for r in it {
            for (slot, v) in t
                .iter_mut()
                .zip([r.success, r.fail, r.unknown, r.arrived, r.clicked])
            {
                *slot += v;
            }
        }
        json!({"success": t[0], "fail": t[1], "unknown": t[2], "arrived": t[3], "clicked": t[4]})
    };
    let days: Vec<Value> = (a..=b)
        .map(|d| {
            let day = day_string(d);
            let of_day: Vec<&DailyStat> = rows.iter().filter(|r| r.day == day).collect();
            let mut v = counters(&mut of_day.iter().copied());
            let channels: Map<String, Value> = of_day
                .iter()
                .map(|r| (r.channel.clone(), counters(&mut std::iter::once(*r))))
                .collect();
            v["day"] = json!(day);
            v["channels"] = Value::Object(channels);
            v
        })
        .collect();
    Ok(envelope::push(&ctx, state.now_ms(), json!(days), &[]))
}
