//! The bearer token every call is made with; its `Debug` never shows the value.

use std::fmt;

use http::header::HeaderValue;

use super::error::{Error, ErrorKind, Result};

/// A ScaiDrive bearer token. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wrap a bearer token string (without the `Bearer ` prefix).
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// The secret value. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn header_value(&self) -> Result<HeaderValue> {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0)).map_err(|_| {
            Error::new(ErrorKind::Unauthorized, "token is not a valid header value")
        })?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}
