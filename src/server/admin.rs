//! The admin listener: `/healthz` (the process is up), `/readyz` (ScaiDrive answers
//! `/api/v1/ready` and the state DB, SQLite or PostgreSQL, answers `SELECT 1`) and `/metrics` (Prometheus text: front-end
//! requests, durations, bytes, connections, upstream calls, cache lookups, the state DB, the
//! lifecycle worker). With `lifecycle.admin_run`, `POST /lifecycle/run[?now=RFC 3339]` runs one
//! lifecycle pass at once, as of the given time (an operator's tool; see `docs/operations.md`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::metrics::{CacheStats, RequestMetrics};
use crate::scaidrive::Client;
use crate::state::StateDb;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the admin handlers need.
#[derive(Clone, Debug)]
pub struct AdminState {
    /// The state database.
    pub db: StateDb,
    /// The upstream ScaiDrive (or the embedded emulator).
    pub upstream: Client,
    /// Front-end request metrics.
    pub metrics: Arc<RequestMetrics>,
    /// The store's cache hits and misses.
    pub cache: Arc<CacheStats>,
    /// The lifecycle worker (its metrics, and the run-now tool).
    pub lifecycle: Option<crate::s3::Lifecycle>,
}

/// The admin router.
pub fn router(state: AdminState) -> Router {
    let run = state
        .lifecycle
        .as_ref()
        .is_some_and(|l| l.config().admin_run);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    let router = match run {
        true => router.route("/lifecycle/run", post(lifecycle_run)),
        false => router,
    };
    router.with_state(state)
}

/// `?now=` of `POST /lifecycle/run`.
#[derive(Debug, serde::Deserialize)]
struct RunQuery {
    now: Option<String>,
}

/// Runs one lifecycle pass as of `now` (default: the present) and answers its report as JSON;
/// 409 when another instance holds the pass's cluster lock.
async fn lifecycle_run(
    State(state): State<AdminState>,
    Query(q): Query<RunQuery>,
) -> (StatusCode, String) {
    let Some(lifecycle) = state.lifecycle.as_ref() else {
        return (StatusCode::NOT_FOUND, "no lifecycle worker\n".to_owned());
    };
    let now = match q.now.as_deref() {
        None => chrono::Utc::now(),
        Some(t) => match chrono::DateTime::parse_from_rfc3339(t) {
            Ok(t) => t.to_utc(),
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("now: not an RFC 3339 time ({e})\n"),
                );
            }
        },
    };
    match lifecycle.run_once(now).await {
        Some(report) => (
            StatusCode::OK,
            serde_json::to_string(&report).unwrap_or_default() + "\n",
        ),
        None => (
            StatusCode::CONFLICT,
            "another instance is running the lifecycle pass\n".to_owned(),
        ),
    }
}

/// Liveness: answers as long as the process serves requests.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 200 when both dependencies answer, else 503 naming the one that failed.
async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    let (upstream, db) = tokio::join!(check_upstream(&state.upstream), check_db(&state.db));
    let backend = state.db.backend_name();
    match (upstream, db) {
        (Ok(()), Ok(())) => (StatusCode::OK, format!("ok\nstate db: {backend}\n")),
        (upstream, db) => {
            let mut failures = Vec::new();
            if let Err(e) = upstream {
                failures.push(format!("scaidrive {}: {e}", state.upstream.base_url()));
            }
            if let Err(e) = db {
                failures.push(format!("state db ({backend}): {e}"));
            }
            let text = failures.join("; ");
            tracing::warn!(reason = %text, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {text}\n"),
            )
        }
    }
}

/// Prometheus text exposition.
async fn metrics(
    State(state): State<AdminState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let mut text = String::new();
    state.metrics.render(&mut text);
    state.upstream.upstream_stats().render(&mut text);
    state.cache.render(&mut text);
    if let Some(l) = &state.lifecycle {
        l.stats().render(&mut text);
    }
    render_state_db(&state.db, &mut text);
    crate::metrics::render_process(&mut text);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn check_upstream(client: &Client) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, client.ready()).await {
        Err(_) => Err("no answer from /api/v1/ready".to_owned()),
        Ok(Err(e)) => Err(e.detail()),
        Ok(Ok(ready)) if ready.is_ready() => Ok(()),
        Ok(Ok(ready)) => Err(format!("status {:?}", ready.status)),
    }
}

async fn check_db(db: &StateDb) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await {
        Err(_) => Err("SELECT 1 timed out".to_owned()),
        Ok(result) => result.map_err(|e| e.to_string()),
    }
}

/// The state database's series: operations run, and the PostgreSQL pool's connections.
fn render_state_db(db: &StateDb, out: &mut String) {
    use std::fmt::Write as _;
    let backend = db.backend_name();
    let _ = writeln!(
        out,
        "# HELP scaidrive_gateway_state_db_operations_total State-DB operations run (each one, or for a few, two or three round trips).\n\
         # TYPE scaidrive_gateway_state_db_operations_total counter\n\
         scaidrive_gateway_state_db_operations_total{{backend=\"{backend}\"}} {}",
        db.operations()
    );
    if let Some((size, idle)) = db.pool_status() {
        let _ = writeln!(
            out,
            "# HELP scaidrive_gateway_state_db_pool_connections PostgreSQL pool connections open and in use.\n\
             # TYPE scaidrive_gateway_state_db_pool_connections gauge\n\
             scaidrive_gateway_state_db_pool_connections{{state=\"open\"}} {size}\n\
             scaidrive_gateway_state_db_pool_connections{{state=\"in_use\"}} {}",
            size.saturating_sub(idle)
        );
    }
}
