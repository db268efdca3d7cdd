//! Request extractors whose failures use ScaiDrive's error shapes (422 arrays, 400 details).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// Largest JSON body accepted.
const MAX_JSON_BODY: usize = 1 << 20;

/// A JSON body; serde failures become FastAPI-style 422 arrays.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|e| ApiError::BadRequest(format!("could not read request body: {e}")))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body into `T`, mapping errors to 422 entries.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError {
            loc: vec!["body".into()],
            msg: "field required".into(),
            kind: "value_error.missing".into(),
        }]));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let text = inner.to_string();
        let mut loc = vec!["body".to_string()];
        loc.extend(
            path.split('.')
                .filter(|s| !s.is_empty() && *s != "?")
                .map(str::to_string),
        );
        let (msg, kind) = if let Some(rest) = text.strip_prefix("missing field `") {
            if let Some(field) = rest.split('`').next() {
                loc.push(field.to_string());
            }
            ("field required".to_string(), "value_error.missing")
        } else if inner.is_syntax() || inner.is_eof() {
            (
                format!("JSON decode error: {text}"),
                "value_error.jsondecode",
            )
        } else {
            (text, "type_error")
        };
        ApiError::Validation(vec![FieldError {
            loc,
            msg,
            kind: kind.into(),
        }])
    })
}

/// Query parameters; failures become 400 `{"detail": ...}`.
pub struct Qs<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Qs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Qs)
            .map_err(|e| ApiError::BadRequest(format!("invalid query parameters: {e}")))
    }
}

/// Checks a `limit` query value against `1..=max`, 422 otherwise (FastAPI query validation).
pub fn check_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError {
            loc: vec!["query".into(), "limit".into()],
            msg: format!("ensure this value is between 1 and {max}"),
            kind: "value_error.number".into(),
        }]));
    }
    Ok(limit)
}

/// Checks an `offset` query value (≥ 0).
pub fn check_offset(offset: Option<i64>) -> Result<i64, ApiError> {
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::Validation(vec![FieldError {
            loc: vec!["query".into(), "offset".into()],
            msg: "ensure this value is greater than or equal to 0".into(),
            kind: "value_error.number".into(),
        }]));
    }
    Ok(offset)
}
