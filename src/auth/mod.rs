//! Authentication: turns S3 credentials or WebDAV Basic/Bearer credentials into a [`Session`]
//! (the ScaiDrive principal and the token every upstream call is made with).
//!
//! Credentials come from the state DB (`credentials create`) and from the configuration (one
//! static pair for single-user deployments). A bare ScaiDrive token (WebDAV Basic password or
//! Bearer) is checked with `GET /api/v1/users/me` once and then remembered for a minute.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::config::StaticCredential;
use crate::scaidrive::{Client, ErrorKind, Token};
use crate::state::StateDb;

/// Who is calling, and the ScaiDrive token their calls go upstream with. One per request.
#[derive(Clone)]
pub struct Session {
    principal: String,
    token: Token,
    /// What the store has checked once for this request (the share generations of several
    /// instances, see `store/coherence.rs`), shared by clones.
    checked: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Session {
    /// A session for ScaiDrive user `principal` (a `usr_…` id) acting with `token`.
    pub fn new(principal: impl Into<String>, token: Token) -> Self {
        Self {
            principal: principal.into(),
            token,
            checked: Arc::default(),
        }
    }

    /// Marks `key` as checked in this request; `false` when it was already.
    pub fn check_once(&self, key: &str) -> bool {
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        if checked.iter().any(|k| k == key) {
            return false;
        }
        checked.push(key.to_owned());
        true
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

/// Why a caller could not be authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential with this access key id.
    #[error("unknown access key id")]
    UnknownAccessKey,
    /// The secret or token does not match.
    #[error("bad credentials")]
    BadCredentials,
    /// ScaiDrive refused the token (expired, revoked, invalid).
    #[error("the ScaiDrive token was refused")]
    TokenRefused,
    /// ScaiDrive or the state DB could not be asked.
    #[error("authentication backend unavailable: {0}")]
    Unavailable(String),
}

/// An access key's secret and the session it opens.
#[derive(Clone)]
pub struct KeyPair {
    pub secret: String,
    pub session: Session,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("secret", &"<redacted>")
            .field("session", &self.session)
            .finish()
    }
}

/// Resolves credentials to sessions. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    db: StateDb,
    statics: HashMap<String, StaticCredential>,
    client: Client,
    /// sha256(token) → principal, for tokens checked upstream.
    tokens: Cache<[u8; 32], String>,
}

impl Authenticator {
    /// An authenticator over the stored credentials, the configured static ones, and
    /// ScaiDrive (for bare tokens).
    pub fn new(db: StateDb, statics: &[StaticCredential], client: Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                statics: statics
                    .iter()
                    .map(|c| (c.access_key_id.clone(), c.clone()))
                    .collect(),
                client,
                tokens: Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(60))
                    .build(),
            }),
        }
    }

    /// The secret of an access key and the session it opens (S3 signature checks need the
    /// secret; the caller verifies the signature).
    pub async fn by_access_key(&self, access_key_id: &str) -> Result<KeyPair, AuthError> {
        if let Some(c) = self.inner.statics.get(access_key_id) {
            let session = self.by_token(&c.token).await?;
            return Ok(KeyPair {
                secret: c.secret_access_key.clone(),
                session,
            });
        }
        let stored = self
            .inner
            .db
            .get_credential(access_key_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "credential lookup failed");
                AuthError::Unavailable("state database".into())
            })?
            .ok_or(AuthError::UnknownAccessKey)?;
        Ok(KeyPair {
            secret: stored.secret_access_key,
            session: Session::new(stored.user_id, Token::new(stored.token)),
        })
    }

    /// A session for a bare ScaiDrive token, checked with `GET /users/me` (cached a minute).
    pub async fn by_token(&self, token: &str) -> Result<Session, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let token = Token::new(token.to_owned());
        if let Some(principal) = self.inner.tokens.get(&key).await {
            return Ok(Session::new(principal, token));
        }
        match self.inner.client.me(&token).await {
            Ok(user) => {
                self.inner.tokens.insert(key, user.id.clone()).await;
                Ok(Session::new(user.id, token))
            }
            Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {
                Err(AuthError::TokenRefused)
            }
            Err(e) => {
                tracing::warn!(error = %e, "token check failed");
                Err(AuthError::Unavailable(e.message().to_owned()))
            }
        }
    }

    /// WebDAV Basic: an access key id and its secret, or any user name and a ScaiDrive token
    /// as the password.
    pub async fn basic(&self, user: &str, password: &str) -> Result<Session, AuthError> {
        match self.by_access_key(user).await {
            Ok(pair) if constant_time_eq(pair.secret.as_bytes(), password.as_bytes()) => {
                Ok(pair.session)
            }
            Ok(_) => Err(AuthError::BadCredentials),
            Err(AuthError::UnknownAccessKey) => {
                self.by_token(password).await.map_err(|e| match e {
                    AuthError::TokenRefused => AuthError::BadCredentials,
                    other => other,
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn session_debug_hides_the_token() {
        let s = Session::new("usr_1", Token::new("very-secret-token"));
        let text = format!("{s:?}");
        assert!(text.contains("usr_1"));
        assert!(!text.contains("very-secret-token"));
    }
}
