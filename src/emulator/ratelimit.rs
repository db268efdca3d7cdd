//! Per-token sliding-window rate limiting with ScaiDrive's cost units and headers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

const WINDOW: Duration = Duration::from_secs(60);

/// Sliding 60-second windows, one per token.
pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<String, VecDeque<(Instant, u32)>>>,
}

/// Outcome of one request's charge.
struct Verdict {
    allowed: bool,
    remaining: u32,
    reset_epoch: u64,
    retry_after: u64,
}

impl RateLimiter {
    /// A limiter allowing `limit` units per minute per token.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn charge(&self, token: &str, cost: u32) -> Verdict {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let win = windows.entry(token.to_string()).or_default();
        while win
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW)
        {
            win.pop_front();
        }
        let used: u32 = win.iter().map(|(_, c)| *c).sum();
        let allowed = used + cost <= self.limit;
        let mut retry_after = 0;
        if allowed {
            win.push_back((now, cost));
        } else {
            // Seconds until enough old entries leave the window.
            let mut freed = 0;
            retry_after = WINDOW.as_secs();
            for (t, c) in win.iter() {
                freed += c;
                if used - freed + cost <= self.limit {
                    let left = WINDOW.saturating_sub(now.duration_since(*t));
                    retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                    break;
                }
            }
            retry_after = retry_after.max(1);
        }
        let used_now: u32 = win.iter().map(|(_, c)| *c).sum();
        let until_reset = win
            .front()
            .map(|(t, _)| WINDOW.saturating_sub(now.duration_since(*t)))
            .unwrap_or(WINDOW);
        let reset_epoch = epoch_secs() + until_reset.as_secs() + 1;
        Verdict {
            allowed,
            remaining: self.limit.saturating_sub(used_now),
            reset_epoch,
            retry_after,
        }
    }
}

/// True for paths fault injection and rate limiting apply to.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/v1/")
        && !matches!(path, "/api/v1/health" | "/api/v1/ready" | "/api/v1/config")
}

fn epoch_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Documented cost units of a request (inferred 1 for other reads, 2 for other writes).
pub fn cost(method: &Method, path: &str) -> u32 {
    if (*method == Method::GET && path.ends_with("/content"))
        || (*method == Method::PUT && path.contains("/chunks/"))
    {
        5
    } else if *method == Method::GET && path.ends_with("/children") {
        2
    } else if *method == Method::GET || *method == Method::HEAD {
        1
    } else {
        2
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The documented 429 envelope with `Retry-After`.
pub fn limited_response(retry_after: u64, limit: u32) -> Response {
    let body = json!({
        "status": "error",
        "error": {
            "code": "RATE_LIMITED",
            "message": format!("Rate limit exceeded; retry after {retry_after} seconds"),
            "retry_after": retry_after,
            "details": {"dimension": "token", "limit": limit, "window_seconds": 60},
        },
        "meta": {"request_id": format!("req_{}", ulid::Ulid::new())},
    });
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// Middleware charging each authenticated `/api/v1/` request.
pub async fn middleware(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(limiter) = st.limiter.as_ref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if !is_api_path(path) {
        return next.run(req).await;
    }
    let Some(token) = bearer(req.headers()) else {
        return next.run(req).await;
    };
    let v = limiter.charge(&token, cost(req.method(), path));
    let mut resp = if v.allowed {
        next.run(req).await
    } else {
        limited_response(v.retry_after, limiter.limit)
    };
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limiter.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(v.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(v.reset_epoch));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_documented_classes() {
        assert_eq!(cost(&Method::GET, "/api/v1/files/fil_1"), 1);
        assert_eq!(cost(&Method::GET, "/api/v1/files/fil_1/content"), 5);
        assert_eq!(cost(&Method::PUT, "/api/v1/uploads/s/chunks/0"), 5);
        assert_eq!(cost(&Method::GET, "/api/v1/folders/root/children"), 2);
        assert_eq!(cost(&Method::PATCH, "/api/v1/files/fil_1"), 2);
    }

    #[test]
    fn budget_runs_out_then_reports_retry_after() {
        let rl = RateLimiter::new(10);
        assert!(rl.charge("t", 5).allowed);
        let v = rl.charge("t", 5);
        assert!(v.allowed);
        assert_eq!(v.remaining, 0);
        let v = rl.charge("t", 1);
        assert!(!v.allowed);
        assert!((1..=60).contains(&v.retry_after));
        assert!(rl.charge("other", 1).allowed);
    }
}
