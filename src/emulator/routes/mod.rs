//! The HTTP surface: one module per endpoint group, one router, JSON 404/405 fallbacks.

pub mod changes;
pub mod files;
pub mod folders;
pub mod links;
pub mod permissions;
pub mod platform;
pub mod shares;
pub mod uploads;
pub mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};

use super::AppState;
use super::error::ApiError;
use super::{faults, ratelimit};

/// Builds the full router with middleware.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(platform::health))
        .route("/ready", get(platform::ready))
        .route("/config", get(platform::config))
        .route("/users/me", get(users::me))
        .route("/users/me/shares", get(users::my_shares))
        .route("/users/me/quota", get(users::my_quota))
        .route("/shares", get(shares::list).post(shares::create))
        .route("/shares/search/principals", get(shares::search_principals))
        .route(
            "/shares/{id}",
            get(shares::get_one)
                .patch(shares::patch)
                .delete(shares::delete),
        )
        .route("/folders", post(folders::create))
        .route(
            "/folders/{id}",
            get(folders::get_one)
                .patch(folders::patch)
                .delete(folders::delete),
        )
        .route("/folders/{id}/children", get(folders::children))
        .route("/folders/{id}/move", post(folders::move_folder))
        .route("/files", post(files::upload))
        .route(
            "/files/{id}",
            get(files::get_one)
                .patch(files::patch)
                .delete(files::delete),
        )
        .route("/files/{id}/content", get(files::content))
        .route("/files/{id}/copy", post(files::copy))
        .route("/files/{id}/move", post(files::move_file))
        .route("/files/{id}/versions", get(files::versions))
        .route(
            "/files/{id}/versions/{n}/restore",
            post(files::restore_version),
        )
        .route("/uploads", post(uploads::create))
        .route("/uploads/{sid}", get(uploads::status))
        .route("/uploads/{sid}/chunks/{i}", put(uploads::put_chunk))
        .route("/uploads/{sid}/complete", post(uploads::complete))
        .route(
            "/permissions/check",
            get(permissions::check_get).post(permissions::check_post),
        )
        .route("/permissions/check/batch", post(permissions::check_batch))
        .route("/permissions/effective", get(permissions::effective_get))
        .route(
            "/permissions/acl/{rtype}/{rid}",
            get(permissions::acl_get)
                .post(permissions::acl_add)
                .delete(permissions::acl_delete),
        )
        .route(
            "/permissions/acl/{rtype}/{rid}/inheritance",
            put(permissions::inheritance),
        )
        .route("/sync/changes", get(changes::list))
        .route("/external/links", get(links::list).post(links::create))
        .route(
            "/external/links/{id}",
            get(links::get_one)
                .patch(links::patch)
                .delete(links::delete),
        );
    Router::new()
        .nest("/api/v1", api)
        .route(
            "/_emulator/faults",
            get(faults::get_faults).put(faults::put_faults),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), ratelimit::middleware))
        .layer(from_fn_with_state(state.clone(), faults::middleware))
        // Bodies are streamed to disk; JSON bodies carry their own limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::Status(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed".into())
}

/// Deserializes a field that may be absent, `null`, or a value: absent → `None`,
/// `null` → `Some(None)`.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Option::<T>::deserialize(de).map(Some)
}
