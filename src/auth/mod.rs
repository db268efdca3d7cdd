//! Authentication: turns S3 credentials or WebDAV Basic/Bearer credentials into a [`Session`]
//! (the ScaiDrive principal and the token every upstream call is made with).
//!
//! Credentials come from the state DB (`credentials create`, self-service keys, temporary
//! credentials from STS) and from the configuration (one static pair for single-user
//! deployments). A bare ScaiDrive token (WebDAV Basic password or Bearer) is checked with
//! `GET /api/v1/users/me` once and then remembered for a minute.
//!
//! Temporary credentials (`ASIA…` keys) must come with their session token, stop at their
//! expiration (`ExpiredToken`), and re-check their ScaiDrive token upstream at most once a
//! second ([`LIVE_CHECK`]), so a revoked token stops them at once even where a request would
//! be answered from the gateway's caches.

mod last_used;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::config::StaticCredential;
use crate::scaidrive::{Client, ErrorKind, Token};
use crate::state::{StateDb, session_token_digest};

pub use last_used::FLUSH_EVERY as LAST_USED_FLUSH_EVERY;

/// How long an upstream check that a temporary credential's ScaiDrive token is still valid
/// is trusted.
pub const LIVE_CHECK: Duration = Duration::from_secs(1);

/// Access key ids of temporary credentials start so (as AWS's do).
pub const TEMPORARY_KEY_PREFIX: &str = "ASIA";

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
    /// Temporary credentials past their expiration.
    #[error("the temporary credentials have expired")]
    Expired,
    /// A session token missing, wrong, or sent with a long-lived key.
    #[error("the session token is missing or invalid: {0}")]
    InvalidToken(&'static str),
    /// Temporary credentials while STS is turned off.
    #[error("temporary credentials are turned off on this gateway")]
    StsDisabled,
}

/// An access key's secret and the session it opens.
#[derive(Clone)]
pub struct KeyPair {
    pub secret: String,
    pub session: Session,
    /// What is known of temporary credentials; `None` for long-lived keys.
    pub temporary: Option<Temporary>,
}

/// What a temporary credential carries beyond its secret.
#[derive(Debug, Clone)]
pub struct Temporary {
    /// SHA-256 (hex) of its session token.
    session_token_sha256: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The `RoleSessionName` it was issued under.
    pub session_name: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("secret", &"<redacted>")
            .field("session", &self.session)
            .field("temporary", &self.temporary)
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
    /// sha256(token) of temporary credentials' tokens checked upstream within [`LIVE_CHECK`].
    live: Cache<[u8; 32], ()>,
    /// Whether temporary credentials are honoured (`sts.enabled`).
    sts_enabled: bool,
    /// Uses of long-lived keys not yet written.
    uses: last_used::UseLog,
    /// Called with a token whose check upstream starts (not remembered): lets the store fetch
    /// what the request will need beside the check (see [`Authenticator::on_token_check`]).
    on_check: std::sync::OnceLock<TokenHook>,
}

/// See [`Authenticator::on_token_check`].
type TokenHook = Box<dyn Fn(&Token) + Send + Sync>;

impl Authenticator {
    /// An authenticator over the stored credentials, the configured static ones, and
    /// ScaiDrive (for bare tokens).
    pub fn new(db: StateDb, statics: &[StaticCredential], client: Client) -> Self {
        Self::with_sts(db, statics, client, true)
    }

    /// [`Authenticator::new`], honouring temporary credentials only when `sts_enabled`.
    pub fn with_sts(
        db: StateDb,
        statics: &[StaticCredential],
        client: Client,
        sts_enabled: bool,
    ) -> Self {
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
                live: Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(LIVE_CHECK)
                    .build(),
                sts_enabled,
                uses: last_used::UseLog::default(),
                on_check: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Sets what runs when a token's check with `GET /users/me` starts (once; later calls are
    /// ignored). The hook may start work with the token beside the check, but nothing it
    /// fetches may be served before a [`Session`] exists, which only a passed check makes.
    pub fn on_token_check(&self, hook: impl Fn(&Token) + Send + Sync + 'static) {
        let _ = self.inner.on_check.set(Box::new(hook));
    }

    /// The state database credentials live in.
    pub fn db(&self) -> &StateDb {
        &self.inner.db
    }

    /// The ScaiDrive client tokens are checked with.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Whether temporary credentials are served and honoured.
    pub fn sts_enabled(&self) -> bool {
        self.inner.sts_enabled
    }

    /// The secret of an access key and the session it opens (S3 signature checks need the
    /// secret; the caller verifies the signature). Not a use of the key: [`Self::signed`] and
    /// [`Self::basic`] record those.
    pub async fn by_access_key(&self, access_key_id: &str) -> Result<KeyPair, AuthError> {
        self.key_pair(access_key_id, false).await
    }

    /// [`Self::by_access_key`] with a stored key read from the state database, never from
    /// memory: for work done in a key's name outside a request (lifecycle rules), which must
    /// stop the moment the key is revoked anywhere.
    pub async fn by_access_key_fresh(&self, access_key_id: &str) -> Result<KeyPair, AuthError> {
        self.key_pair(access_key_id, true).await
    }

    async fn key_pair(&self, access_key_id: &str, fresh: bool) -> Result<KeyPair, AuthError> {
        if let Some(c) = self.inner.statics.get(access_key_id) {
            let session = self.by_token(&c.token).await?;
            return Ok(KeyPair {
                secret: c.secret_access_key.clone(),
                session,
                temporary: None,
            });
        }
        // An `ASIA…` id is a temporary credential, unless an operator chose it for a stored key.
        if access_key_id.starts_with(TEMPORARY_KEY_PREFIX)
            && let Some(pair) = self.temporary(access_key_id).await?
        {
            return Ok(pair);
        }
        let db = &self.inner.db;
        let stored = if fresh {
            db.get_credential_fresh(access_key_id).await
        } else {
            db.get_credential(access_key_id).await
        };
        let stored = stored
            .map_err(|e| {
                tracing::error!(error = %e, "credential lookup failed");
                AuthError::Unavailable("state database".into())
            })?
            .ok_or(AuthError::UnknownAccessKey)?;
        Ok(KeyPair {
            secret: stored.secret_access_key,
            session: Session::new(stored.user_id, Token::new(stored.token)),
            temporary: None,
        })
    }

    /// A temporary credential (`None` when there is none of this id): refused when expired or
    /// STS is off.
    async fn temporary(&self, access_key_id: &str) -> Result<Option<KeyPair>, AuthError> {
        let Some(stored) = self
            .inner
            .db
            .get_sts_session(access_key_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "temporary credential lookup failed");
                AuthError::Unavailable("state database".into())
            })?
        else {
            return Ok(None);
        };
        if !self.inner.sts_enabled {
            return Err(AuthError::StsDisabled);
        }
        if Utc::now() >= stored.expires_at {
            return Err(AuthError::Expired);
        }
        Ok(Some(KeyPair {
            secret: stored.secret_access_key,
            session: Session::new(stored.user_id, Token::new(stored.token)),
            temporary: Some(Temporary {
                session_token_sha256: stored.session_token_sha256,
                expires_at: stored.expires_at,
                session_name: stored.session_name,
            }),
        }))
    }

    /// The session of a signed request: the key's, once the session token it carried (if any)
    /// is checked. Temporary credentials need theirs, and their ScaiDrive token is re-checked
    /// upstream ([`LIVE_CHECK`]); a long-lived key must not carry one.
    pub async fn signed(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<KeyPair, AuthError> {
        let pair = self.by_access_key(access_key_id).await?;
        self.check_session_token(&pair, session_token).await?;
        if pair.temporary.is_none() {
            self.note_use(access_key_id);
        }
        Ok(pair)
    }

    async fn check_session_token(
        &self,
        pair: &KeyPair,
        session_token: Option<&str>,
    ) -> Result<(), AuthError> {
        let session_token = session_token.filter(|t| !t.is_empty());
        let Some(temporary) = &pair.temporary else {
            return match session_token {
                Some(_) => Err(AuthError::InvalidToken(
                    "a session token was sent with a long-lived access key",
                )),
                None => Ok(()),
            };
        };
        let Some(given) = session_token else {
            return Err(AuthError::InvalidToken(
                "temporary credentials need their session token (x-amz-security-token)",
            ));
        };
        let digest = session_token_digest(given);
        if !constant_time_eq(digest.as_bytes(), temporary.session_token_sha256.as_bytes()) {
            return Err(AuthError::InvalidToken(
                "the session token does not belong to this access key",
            ));
        }
        self.check_live(pair.session.token()).await
    }

    /// Asks ScaiDrive whether `token` is still valid, at most once per [`LIVE_CHECK`].
    async fn check_live(&self, token: &Token) -> Result<(), AuthError> {
        let key: [u8; 32] = Sha256::digest(token.expose().as_bytes()).into();
        if self.inner.live.get(&key).await.is_some() {
            return Ok(());
        }
        match self.inner.client.me(token).await {
            Ok(_) => {
                self.inner.live.insert(key, ()).await;
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {
                self.inner.tokens.invalidate(&key).await;
                Err(AuthError::TokenRefused)
            }
            Err(e) => {
                tracing::warn!(error = %e, "token check failed");
                Err(AuthError::Unavailable(e.message().to_owned()))
            }
        }
    }

    /// Notes a use of a stored long-lived key; writes what is due in the background.
    fn note_use(&self, access_key_id: &str) {
        let due = self
            .inner
            .uses
            .note(access_key_id, Utc::now(), Instant::now());
        if due.is_empty() {
            return;
        }
        let db = self.inner.db.clone();
        tokio::spawn(async move {
            if let Err(e) = db.record_credential_use(due).await {
                tracing::warn!(error = %e, "could not record when keys were last used");
            }
        });
    }

    /// A session for a bare ScaiDrive token, checked with `GET /users/me` (cached a minute).
    pub async fn by_token(&self, token: &str) -> Result<Session, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let token = Token::new(token.to_owned());
        if let Some(principal) = self.inner.tokens.get(&key).await {
            return Ok(Session::new(principal, token));
        }
        if let Some(hook) = self.inner.on_check.get() {
            hook(&token);
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

    /// [`Authenticator::by_token`] asking ScaiDrive now, whatever was remembered (for what
    /// outlives the request: issuing credentials).
    pub async fn by_token_now(&self, token: &str) -> Result<Session, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.inner.tokens.invalidate(&key).await;
        self.by_token(token).await
    }

    /// WebDAV Basic: an access key id and its secret, or any user name and a ScaiDrive token
    /// as the password.
    pub async fn basic(&self, user: &str, password: &str) -> Result<Session, AuthError> {
        self.basic_with_session_token(user, password, None).await
    }

    /// [`Authenticator::basic`] with the `X-Amz-Security-Token` a client sent (temporary
    /// credentials need it).
    pub async fn basic_with_session_token(
        &self,
        user: &str,
        password: &str,
        session_token: Option<&str>,
    ) -> Result<Session, AuthError> {
        match self.by_access_key(user).await {
            Ok(pair) if constant_time_eq(pair.secret.as_bytes(), password.as_bytes()) => {
                self.check_session_token(&pair, session_token).await?;
                if pair.temporary.is_none() {
                    self.note_use(user);
                }
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
