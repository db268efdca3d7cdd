//! Authentication: turns S3 credentials or WebDAV Basic/Bearer credentials into a [`Session`]
//! (the ScaiDrive principal and the token every upstream call is made with).

use std::fmt;

use crate::scaidrive::Token;

/// Who is calling, and the ScaiDrive token their calls go upstream with.
#[derive(Clone)]
pub struct Session {
    principal: String,
    token: Token,
}

impl Session {
    /// A session for ScaiDrive user `principal` (a `usr_…` id) acting with `token`.
    pub fn new(principal: impl Into<String>, token: Token) -> Self {
        Self {
            principal: principal.into(),
            token,
        }
    }

    /// The ScaiDrive user id; every cache entry is keyed by it.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The token upstream calls are made with.
    pub fn token(&self) -> &Token {
        &self.token
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("principal", &self.principal)
            .field("token", &"<redacted>")
            .finish()
    }
}
