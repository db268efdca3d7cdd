//! Every emulator error and its one mapping to an HTTP status and ScaiDrive error body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// One entry of a FastAPI-style 422 body.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    /// Path to the failing field, e.g. `["body", "name"]`.
    pub loc: Vec<String>,
    /// Human-readable message.
    pub msg: String,
    /// FastAPI error type, e.g. `value_error.missing`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An error answered to the client. Internal failures are logged, never echoed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed path or query input.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, unknown or expired token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: insufficient scope or role.
    #[error("{0}")]
    Forbidden(String),
    /// 404: not found or not visible.
    #[error("{0}")]
    NotFound(String),
    /// 409: name conflict, missing chunks.
    #[error("{0}")]
    Conflict(String),
    /// 410: soft-deleted resource or expired upload session.
    #[error("{0}")]
    Gone(String),
    /// 413: over the tenant per-file cap.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 416: the requested range lies outside the content of this size.
    #[error("range not satisfiable")]
    RangeNotSatisfiable(u64),
    /// 422: body validation, FastAPI array shape.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 507: a quota would be exceeded.
    #[error("{0}")]
    InsufficientStorage(String),
    /// Any other status with a `detail` text (fault injection, 405).
    #[error("{1}")]
    Status(StatusCode, String),
    /// SQLite failure (500).
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// Filesystem failure (500).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl ApiError {
    /// 422 for one body field.
    pub fn invalid(field: &str, msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
            kind: "value_error".into(),
        }])
    }

    /// 422 for a missing body field.
    pub fn missing(field: &str) -> Self {
        Self::Validation(vec![FieldError {
            loc: vec!["body".into(), field.into()],
            msg: "field required".into(),
            kind: "value_error.missing".into(),
        }])
    }

    /// 404 for a resource kind and id.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::NotFound(format!("{kind} not found: {id}"))
    }

    /// 409 `NAME_CONFLICT`.
    pub fn name_conflict(name: &str) -> Self {
        Self::Conflict(format!(
            "NAME_CONFLICT: a file or folder named '{name}' already exists"
        ))
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Status(s, _) => *s,
            Self::Db(_) | Self::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Validation(items) => json!({ "detail": items }),
            Self::Db(e) => {
                tracing::error!(error = %e, "emulator database error");
                json!({ "detail": "internal server error" })
            }
            Self::Io(e) => {
                tracing::error!(error = %e, "emulator i/o error");
                json!({ "detail": "internal server error" })
            }
            Self::RangeNotSatisfiable(_) => json!({ "detail": "Range Not Satisfiable" }),
            other => json!({ "detail": other.to_string() }),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        match &self {
            Self::Unauthorized(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RangeNotSatisfiable(size) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        resp
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status() {
        let table = [
            (ApiError::BadRequest(String::new()), 400),
            (ApiError::Unauthorized(String::new()), 401),
            (ApiError::Forbidden(String::new()), 403),
            (ApiError::not_found("file", "x"), 404),
            (ApiError::name_conflict("a"), 409),
            (ApiError::Gone(String::new()), 410),
            (ApiError::PayloadTooLarge(String::new()), 413),
            (ApiError::RangeNotSatisfiable(3), 416),
            (ApiError::missing("name"), 422),
            (ApiError::InsufficientStorage(String::new()), 507),
            (ApiError::Io(std::io::Error::other("x")), 500),
        ];
        for (err, status) in table {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
        }
    }
}
