//! Stored credentials: an S3 access key pair mapped to a ScaiDrive token.

use std::fmt;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::Rng;
use rusqlite::{OptionalExtension, params};

use super::{Backend, StateDb, StateError, pg};

/// A stored credential. `Debug` hides the secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// S3 access key id (also the WebDAV Basic user name).
    pub access_key_id: String,
    /// S3 secret access key (also the WebDAV Basic password).
    pub secret_access_key: String,
    /// The ScaiDrive token requests are made with.
    pub token: String,
    /// Free text to recognise the credential by.
    pub label: Option<String>,
    /// The ScaiDrive user the token belonged to when it was checked.
    pub user_id: String,
    /// When the credential was created (second precision).
    pub created_at: DateTime<Utc>,
    /// When it last opened a request, to about a minute (`None` = never since this was
    /// recorded). Written by [`StateDb::record_credential_use`].
    pub last_used_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("token", &"<redacted>")
            .field("label", &self.label)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

/// What [`StateDb::create_credential`] needs. Key id and secret are generated when `None`.
#[derive(Clone)]
pub struct NewCredential {
    /// Access key id to use, or `None` to generate one.
    pub access_key_id: Option<String>,
    /// Secret to use, or `None` to generate one.
    pub secret_access_key: Option<String>,
    /// The (already checked) ScaiDrive token.
    pub token: String,
    /// Optional label.
    pub label: Option<String>,
    /// The user `GET /users/me` answered for the token.
    pub user_id: String,
}

impl fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCredential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("token", &"<redacted>")
            .field("label", &self.label)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// Alphabet of generated access key ids: upper case and digits 2–7, like AWS's base32 ids.
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Alphabet of generated secrets: letters and digits (no `+` or `/`, which some tools mangle).
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A new AWS-style access key id: `AKIA` followed by 16 base32 characters (20 in all).
pub fn generate_access_key_id() -> String {
    format!("AKIA{}", random_string(KEY_ID_ALPHABET, 16))
}

/// A new temporary (STS) access key id: `ASIA` followed by 16 base32 characters, as AWS marks
/// temporary keys.
pub fn generate_temporary_access_key_id() -> String {
    format!("ASIA{}", random_string(KEY_ID_ALPHABET, 16))
}

/// A new session token of temporary credentials (96 characters, ~571 bits).
pub fn generate_session_token() -> String {
    random_string(SECRET_ALPHABET, 96)
}

/// A new 40-character secret access key (~238 bits from the OS-seeded CSPRNG).
pub fn generate_secret_access_key() -> String {
    random_string(SECRET_ALPHABET, 40)
}

/// The columns a new credential is inserted with.
pub(super) const INSERT_COLUMNS: &str =
    "access_key_id, secret_access_key, token, label, user_id, created_at";
/// The columns a credential is read from.
pub(super) const COLUMNS: &str =
    "access_key_id, secret_access_key, token, label, user_id, created_at, last_used_at";

/// A credential row and its time columns, not yet parsed.
pub(super) type RawCredential = (Credential, String, Option<String>);

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawCredential> {
    Ok((
        Credential {
            access_key_id: row.get(0)?,
            secret_access_key: row.get(1)?,
            token: row.get(2)?,
            label: row.get(3)?,
            user_id: row.get(4)?,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            last_used_at: None,
        },
        row.get(5)?,
        row.get(6)?,
    ))
}

/// Parses an RFC 3339 time column.
pub(super) fn parse_time(column: &'static str, text: &str) -> Result<DateTime<Utc>, StateError> {
    Ok(DateTime::parse_from_rfc3339(text)
        .map_err(|e| StateError::BadValue {
            column,
            message: e.to_string(),
        })?
        .with_timezone(&Utc))
}

/// Parses the time columns read by [`from_row`].
pub(super) fn finish(row: RawCredential) -> Result<Credential, StateError> {
    let (mut cred, created_at, last_used_at) = row;
    cred.created_at = parse_time("credentials.created_at", &created_at)?;
    cred.last_used_at = last_used_at
        .map(|t| parse_time("credentials.last_used_at", &t))
        .transpose()?;
    Ok(cred)
}

/// How long a stored credential read from the database is used from memory
/// ([`StateDb::with_credential_cache`]): a key revoked by another process (the `credentials
/// revoke` command, another instance sharing PostgreSQL) is refused within this. Revoking
/// through this process drops it at once.
pub const CREDENTIAL_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Stored credentials read recently, by access key id (only those found: an unknown key is
/// asked again each time, so a key made elsewhere works at once).
#[derive(Clone)]
pub(crate) struct CredentialCache {
    entries: moka::sync::Cache<String, Credential>,
    /// Bumped by every revocation through this process, under the lock: a read that started
    /// before one does not put back what it read.
    revocations: std::sync::Arc<std::sync::Mutex<u64>>,
}

impl CredentialCache {
    fn revocations(&self) -> std::sync::MutexGuard<'_, u64> {
        self.revocations.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A time as the credential and session tables keep it: RFC 3339 UTC, whole seconds.
pub(super) fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl StateDb {
    /// Stores a new credential, generating the key id and secret when not given.
    /// An access key id in use already → [`StateError::DuplicateAccessKey`].
    pub async fn create_credential(&self, new: NewCredential) -> Result<Credential, StateError> {
        // Second precision, so what is returned equals what is read back.
        let created_at = Utc::now().trunc_subsecs(0);
        let cred = Credential {
            access_key_id: new.access_key_id.unwrap_or_else(generate_access_key_id),
            secret_access_key: new
                .secret_access_key
                .unwrap_or_else(generate_secret_access_key),
            token: new.token,
            label: new.label,
            user_id: new.user_id,
            created_at,
            last_used_at: None,
        };
        let stored = cred.clone();
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => {
                pg::create_credential(p, &cred).await?;
                tracing::info!(access_key_id = %cred.access_key_id, user_id = %cred.user_id, "credential created");
                return Ok(cred);
            }
        };
        sqlite
            .call(move |conn| {
                let result = conn.execute(
                    &format!(
                        "INSERT INTO credentials ({INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ),
                    params![
                        stored.access_key_id,
                        stored.secret_access_key,
                        stored.token,
                        stored.label,
                        stored.user_id,
                        time_text(&stored.created_at),
                    ],
                );
                match result {
                    Ok(_) => Ok(()),
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        Err(StateError::DuplicateAccessKey(stored.access_key_id))
                    }
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
        tracing::info!(access_key_id = %cred.access_key_id, user_id = %cred.user_id, "credential created");
        Ok(cred)
    }

    /// Keeps credentials read by [`StateDb::get_credential`] in memory for [`CREDENTIAL_TTL`]:
    /// a request signed with a stored key then costs no state-DB round trip.
    #[must_use]
    pub fn with_credential_cache(mut self) -> Self {
        self.credentials = Some(CredentialCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CREDENTIAL_TTL)
                .build(),
            revocations: std::sync::Arc::default(),
        });
        self
    }

    /// The credential with this access key id, if any. With the credential cache on
    /// ([`StateDb::with_credential_cache`]) it may come from memory, up to [`CREDENTIAL_TTL`]
    /// old (`last_used_at` included).
    pub async fn get_credential(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Credential>, StateError> {
        let cache = self.credentials.as_ref();
        if let Some(hit) = cache.and_then(|c| c.entries.get(access_key_id)) {
            return Ok(Some(hit));
        }
        let seen = cache.map(|c| *c.revocations());
        let found = self.read_credential(access_key_id).await?;
        if let (Some(c), Some(seen), Some(cred)) = (cache, seen, &found) {
            let revocations = c.revocations();
            if *revocations == seen {
                c.entries.insert(access_key_id.to_owned(), cred.clone());
            }
        }
        Ok(found)
    }

    /// [`StateDb::get_credential`] read from the database, never from memory.
    pub async fn get_credential_fresh(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Credential>, StateError> {
        self.read_credential(access_key_id).await
    }

    async fn read_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::get_credential(p, access_key_id).await,
        };
        let id = access_key_id.to_owned();
        sqlite
            .call(move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} FROM credentials WHERE access_key_id = ?1"),
                    [id],
                    from_row,
                )
                .optional()?
                .map(finish)
                .transpose()
            })
            .await
    }

    /// Every stored credential, oldest first.
    pub async fn list_credentials(&self) -> Result<Vec<Credential>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::list_credentials(p).await,
        };
        sqlite
            .call(|conn| {
                let mut stmt = conn.prepare(&format!(
                    "SELECT {COLUMNS} FROM credentials ORDER BY created_at, access_key_id"
                ))?;
                let rows = stmt.query_map([], from_row)?;
                rows.map(|row| finish(row?)).collect()
            })
            .await
    }

    /// Deletes the credential; `false` when there was none with this id.
    pub async fn revoke_credential(&self, access_key_id: &str) -> Result<bool, StateError> {
        let id = access_key_id.to_owned();
        let removed = match &self.backend {
            Backend::Sqlite(s) => {
                s.call(move |conn| {
                    Ok(conn.execute("DELETE FROM credentials WHERE access_key_id = ?1", [id])? > 0)
                })
                .await?
            }
            Backend::Postgres(p) => pg::revoke_credential(p, access_key_id).await?,
        };
        if let Some(c) = &self.credentials {
            let mut revocations = c.revocations();
            c.entries.invalidate(access_key_id);
            *revocations = revocations.wrapping_add(1);
        }
        if removed {
            tracing::info!(access_key_id, "credential revoked");
        }
        Ok(removed)
    }

    /// Records when keys were last used: each `(access key id, time)` moves `last_used_at`
    /// forward (never back; unknown ids are ignored). One statement per key.
    pub async fn record_credential_use(
        &self,
        uses: Vec<(String, DateTime<Utc>)>,
    ) -> Result<(), StateError> {
        let uses: Vec<(String, String)> = uses
            .into_iter()
            .map(|(id, t)| (id, time_text(&t.trunc_subsecs(0))))
            .collect();
        match &self.backend {
            Backend::Sqlite(s) => {
                s.call(move |conn| {
                    let tx = conn.transaction()?;
                    {
                        let mut stmt = tx.prepare_cached(
                            "UPDATE credentials SET last_used_at = ?2 WHERE access_key_id = ?1 \
                             AND (last_used_at IS NULL OR last_used_at < ?2)",
                        )?;
                        for (id, at) in &uses {
                            stmt.execute(params![id, at])?;
                        }
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
            }
            Backend::Postgres(p) => pg::record_credential_use(p, &uses).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn new_cred(token: &str) -> NewCredential {
        NewCredential {
            access_key_id: None,
            secret_access_key: None,
            token: token.to_owned(),
            label: Some("laptop".to_owned()),
            user_id: "usr_01DEMO".to_owned(),
        }
    }

    use crate::state::testdb::Target;

    #[test]
    fn generated_keys_look_like_aws_keys() {
        let id = generate_access_key_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA"));
        assert!(id.bytes().all(|b| KEY_ID_ALPHABET.contains(&b)));
        let secret = generate_secret_access_key();
        assert_eq!(secret.len(), 40);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(generate_secret_access_key(), secret);
    }

    both_backends! {
        create_get_list_revoke_round_trip_on => create_get_list_revoke_round_trip;
        duplicate_access_key_id_is_refused_on => duplicate_access_key_id_is_refused;
        unknown_access_key_is_none_on => unknown_access_key_is_none;
        last_use_only_moves_forward_on => last_use_only_moves_forward;
    }

    async fn last_use_only_moves_forward(target: Target) {
        let db = target.open().await;
        let cred = db.create_credential(new_cred("t")).await.unwrap();
        assert_eq!(cred.last_used_at, None);
        let later = Utc::now().trunc_subsecs(0) + chrono::Duration::seconds(30);
        let earlier = later - chrono::Duration::seconds(20);
        db.record_credential_use(vec![
            (cred.access_key_id.clone(), later),
            ("AKIAUNKNOWN".to_owned(), later),
        ])
        .await
        .unwrap();
        db.record_credential_use(vec![(cred.access_key_id.clone(), earlier)])
            .await
            .unwrap();
        let read = db
            .get_credential(&cred.access_key_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.last_used_at, Some(later));
    }

    async fn create_get_list_revoke_round_trip(target: Target) {
        let db = target.open().await;
        let created = db.create_credential(new_cred("token-1")).await.unwrap();
        assert_eq!(created.access_key_id.len(), 20);
        assert_eq!(created.secret_access_key.len(), 40);

        let fetched = db.get_credential(&created.access_key_id).await.unwrap();
        assert_eq!(fetched.as_ref(), Some(&created));

        let second = db
            .create_credential(NewCredential {
                access_key_id: Some("AKIAGIVEN".to_owned()),
                secret_access_key: Some("given-secret".to_owned()),
                label: None,
                ..new_cred("token-2")
            })
            .await
            .unwrap();
        assert_eq!(second.access_key_id, "AKIAGIVEN");
        assert_eq!(second.secret_access_key, "given-secret");

        let all = db.list_credentials().await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.contains(&created) && all.contains(&second));

        assert!(db.revoke_credential(&created.access_key_id).await.unwrap());
        assert!(!db.revoke_credential(&created.access_key_id).await.unwrap());
        assert_eq!(
            db.get_credential(&created.access_key_id).await.unwrap(),
            None
        );
        assert_eq!(db.list_credentials().await.unwrap(), vec![second]);
    }

    async fn duplicate_access_key_id_is_refused(target: Target) {
        let db = target.open().await;
        let given = NewCredential {
            access_key_id: Some("AKIADUP".to_owned()),
            ..new_cred("t")
        };
        db.create_credential(given.clone()).await.unwrap();
        match db.create_credential(given).await {
            Err(StateError::DuplicateAccessKey(id)) => assert_eq!(id, "AKIADUP"),
            other => panic!("expected DuplicateAccessKey, got {other:?}"),
        }
    }

    async fn unknown_access_key_is_none(target: Target) {
        let db = target.open().await;
        assert_eq!(db.get_credential("AKIANOPE").await.unwrap(), None);
    }

    #[test]
    fn debug_hides_secret_and_token() {
        let cred = Credential {
            access_key_id: "AKIASHOWN".to_owned(),
            secret_access_key: "very-secret".to_owned(),
            token: "very-token".to_owned(),
            label: None,
            user_id: "usr_1".to_owned(),
            created_at: Utc::now(),
            last_used_at: None,
        };
        let shown = format!("{cred:?}");
        assert!(shown.contains("AKIASHOWN"));
        assert!(
            !shown.contains("very-secret") && !shown.contains("very-token"),
            "{shown}"
        );
    }
}
