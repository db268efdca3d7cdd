//! Unauthenticated platform endpoints: health, readiness, public configuration.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::emulator::AppState;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "version": VERSION}))
}

/// `GET /ready`: checks the database and the blob directory.
pub async fn ready(State(st): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = st
        .db()
        .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
        .is_ok();
    let storage = st.blobs.blobs_dir().is_dir();
    let ok = database && storage;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ok { "ready" } else { "not_ready" },
            "checks": {"database": database, "redis": true, "storage": storage, "scaikey": true},
        })),
    )
}

/// `GET /config`.
pub async fn config(State(st): State<AppState>) -> Json<Value> {
    let max: i64 = st
        .db()
        .query_row(
            "SELECT max_file_size_bytes FROM tenants ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap_or(5_368_709_120);
    Json(json!({
        "version": VERSION,
        "features": {"semantic_search": false, "external_sharing": true,
                     "smb_connector": false, "sharepoint_connector": false},
        "limits": {"max_file_size_bytes": max,
                   "max_upload_chunk_size_bytes": super::uploads::MAX_CHUNK_LIMIT},
    }))
}
