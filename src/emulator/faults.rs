//! Fault injection: error rates, 429 bursts, latency and cut downloads (`/_emulator/faults`).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::ratelimit::{self, is_api_path};

/// Fault settings; every field is optional in JSON (missing = default).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share (0.0–1.0) of `/api/v1/` requests answered with an error status.
    pub error_rate: f64,
    /// Statuses drawn from for `error_rate` (empty = `[500, 503]`).
    pub error_statuses: Vec<u16>,
    /// The next N requests answer 429.
    pub burst_429: u32,
    /// `Retry-After` of injected 429s (0 = 1).
    pub retry_after_secs: u64,
    /// Added before every `/api/v1/` response.
    pub latency_ms: u64,
    /// Content downloads send this many bytes, then the connection is cut.
    pub reset_after_bytes: Option<u64>,
    /// How many downloads are cut (0 = 1); afterwards `reset_after_bytes` clears.
    pub reset_count: u32,
    /// Path prefixes (`/api/v1/sync/changes`) the faults above apply to; empty = every API path.
    pub paths: Vec<String>,
}

enum Injected {
    Burst(u64),
    Error(u16),
}

/// Middleware applying latency, bursts and error rates.
pub async fn middleware(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if !is_api_path(req.uri().path()) {
        return next.run(req).await;
    }
    let elsewhere = {
        let f = st.faults();
        !f.paths.is_empty() && !f.paths.iter().any(|p| req.uri().path().starts_with(p))
    };
    if elsewhere {
        return next.run(req).await;
    }
    let (latency, injected) = {
        let mut f = st.faults();
        let injected = if f.burst_429 > 0 {
            f.burst_429 -= 1;
            Some(Injected::Burst(f.retry_after_secs.max(1)))
        } else if f.error_rate > 0.0 && rand::random::<f64>() < f.error_rate {
            let statuses = if f.error_statuses.is_empty() {
                vec![500, 503]
            } else {
                f.error_statuses.clone()
            };
            let pick = rand::random::<u64>() % statuses.len() as u64;
            let status = usize::try_from(pick)
                .ok()
                .and_then(|i| statuses.get(i).copied())
                .unwrap_or(500);
            Some(Injected::Error(status))
        } else {
            None
        };
        (f.latency_ms, injected)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match injected {
        None => next.run(req).await,
        Some(Injected::Burst(secs)) => ratelimit::limited_response(secs, 0),
        Some(Injected::Error(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp =
                ApiError::Status(status, format!("fault injection: status {code}")).into_response();
            if code == 503 || code == 429 {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            resp
        }
    }
}

/// Takes one cut from the reset budget: `Some(n)` = cut this download after `n` bytes.
pub fn take_reset(st: &AppState) -> Option<u64> {
    let mut f = st.faults();
    let n = f.reset_after_bytes?;
    let count = f.reset_count.max(1);
    if count <= 1 {
        f.reset_after_bytes = None;
        f.reset_count = 0;
    } else {
        f.reset_count = count - 1;
    }
    Some(n)
}

/// `GET /_emulator/faults`.
pub async fn get_faults(State(st): State<AppState>) -> axum::Json<Faults> {
    axum::Json(st.faults().clone())
}

/// `PUT /_emulator/faults`.
pub async fn put_faults(
    State(st): State<AppState>,
    super::extract::JsonBody(f): super::extract::JsonBody<Faults>,
) -> Result<axum::Json<Faults>, ApiError> {
    if !(0.0..=1.0).contains(&f.error_rate) {
        return Err(ApiError::invalid(
            "error_rate",
            "must be between 0.0 and 1.0",
        ));
    }
    if f.error_statuses
        .iter()
        .any(|s| StatusCode::from_u16(*s).is_err() || *s < 400)
    {
        return Err(ApiError::invalid(
            "error_statuses",
            "statuses must be HTTP error codes",
        ));
    }
    *st.faults() = f.clone();
    Ok(axum::Json(f))
}
