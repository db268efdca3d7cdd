//! Temporary credentials (STS sessions): an `ASIA…` access key, its secret, the SHA-256 of its
//! session token and the ScaiDrive token it acts with, until `expires_at`. Kept in the state
//! database so every instance of a cluster honours them; rows are removed a day after they
//! expire (until then a request with them is answered `ExpiredToken`, as AWS does).

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::credentials::{parse_time, time_text};
use super::{Backend, StateDb, StateError, pg};

/// How long an expired session stays stored (so its use is answered `ExpiredToken`).
pub const EXPIRED_KEPT: chrono::Duration = chrono::Duration::days(1);

/// A stored temporary credential. `Debug` hides the secret and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct StsSession {
    /// `ASIA` and 16 base32 characters.
    pub access_key_id: String,
    /// The secret requests are signed with.
    pub secret_access_key: String,
    /// SHA-256 (lower-case hex) of the session token; the token itself is not stored.
    pub session_token_sha256: String,
    /// The ScaiDrive token requests are made with.
    pub token: String,
    /// The ScaiDrive user.
    pub user_id: String,
    /// `web-identity`, or the access key id the session was asked for with.
    pub source: String,
    /// The `RoleSessionName` the client gave.
    pub session_name: String,
    /// When it was issued (seconds).
    pub created_at: DateTime<Utc>,
    /// When it stops working (seconds).
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for StsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsSession")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("token", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("source", &self.source)
            .field("session_name", &self.session_name)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// SHA-256 of a session token, as stored.
pub fn session_token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(super) const COLUMNS: &str = "access_key_id, secret_access_key, session_token, token, \
     user_id, source, session_name, created_at, expires_at";

/// A session row with its time columns not yet parsed.
pub(super) type RawSession = (StsSession, String, String);

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawSession> {
    Ok((
        StsSession {
            access_key_id: row.get(0)?,
            secret_access_key: row.get(1)?,
            session_token_sha256: row.get(2)?,
            token: row.get(3)?,
            user_id: row.get(4)?,
            source: row.get(5)?,
            session_name: row.get(6)?,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        },
        row.get(7)?,
        row.get(8)?,
    ))
}

/// Parses the time columns read by [`from_row`].
pub(super) fn finish(row: RawSession) -> Result<StsSession, StateError> {
    let (mut s, created_at, expires_at) = row;
    s.created_at = parse_time("sts_sessions.created_at", &created_at)?;
    s.expires_at = parse_time("sts_sessions.expires_at", &expires_at)?;
    Ok(s)
}

impl StateDb {
    /// Stores a new temporary credential (times are cut to whole seconds), and removes the
    /// sessions that expired more than [`EXPIRED_KEPT`] ago.
    pub async fn create_sts_session(&self, session: &StsSession) -> Result<(), StateError> {
        let mut s = session.clone();
        s.created_at = s.created_at.trunc_subsecs(0);
        s.expires_at = s.expires_at.trunc_subsecs(0);
        let stale = time_text(&(Utc::now() - EXPIRED_KEPT));
        let sqlite = match &self.backend {
            Backend::Sqlite(db) => db,
            Backend::Postgres(p) => return pg::create_sts_session(p, &s, &stale).await,
        };
        sqlite
            .call(move |conn| {
                conn.execute("DELETE FROM sts_sessions WHERE expires_at < ?1", [stale])?;
                conn.execute(
                    &format!(
                        "INSERT INTO sts_sessions ({COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                    ),
                    params![
                        s.access_key_id,
                        s.secret_access_key,
                        s.session_token_sha256,
                        s.token,
                        s.user_id,
                        s.source,
                        s.session_name,
                        time_text(&s.created_at),
                        time_text(&s.expires_at),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    /// The temporary credential with this access key id, expired or not.
    pub async fn get_sts_session(
        &self,
        access_key_id: &str,
    ) -> Result<Option<StsSession>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(db) => db,
            Backend::Postgres(p) => return pg::get_sts_session(p, access_key_id).await,
        };
        let id = access_key_id.to_owned();
        sqlite
            .call(move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} FROM sts_sessions WHERE access_key_id = ?1"),
                    [id],
                    from_row,
                )
                .optional()?
                .map(finish)
                .transpose()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::state::testdb::Target;

    fn session(id: &str, expires_at: DateTime<Utc>) -> StsSession {
        StsSession {
            access_key_id: id.to_owned(),
            secret_access_key: "secret".to_owned(),
            session_token_sha256: session_token_digest("session-token"),
            token: "scaidrive-token".to_owned(),
            user_id: "usr_1".to_owned(),
            source: "web-identity".to_owned(),
            session_name: "me".to_owned(),
            created_at: Utc::now().trunc_subsecs(0),
            expires_at,
        }
    }

    both_backends! {
        sessions_round_trip_and_old_ones_go_on => sessions_round_trip_and_old_ones_go;
    }

    async fn sessions_round_trip_and_old_ones_go(target: Target) {
        let db = target.open().await;
        let long_gone = session("ASIAOLD", Utc::now() - chrono::Duration::days(2));
        db.create_sts_session(&long_gone).await.unwrap();
        let just_expired = session("ASIAEXPIRED", Utc::now() - chrono::Duration::hours(1));
        db.create_sts_session(&just_expired).await.unwrap();
        let live = session(
            "ASIALIVE",
            Utc::now().trunc_subsecs(0) + chrono::Duration::hours(1),
        );
        db.create_sts_session(&live).await.unwrap();

        assert_eq!(db.get_sts_session("ASIALIVE").await.unwrap(), Some(live));
        // An expired session stays a day, so its use is answered ExpiredToken.
        assert!(db.get_sts_session("ASIAEXPIRED").await.unwrap().is_some());
        assert_eq!(db.get_sts_session("ASIAOLD").await.unwrap(), None);
        assert_eq!(db.get_sts_session("ASIANONE").await.unwrap(), None);
    }

    #[test]
    fn debug_hides_secret_and_token() {
        let s = session("ASIASHOWN", Utc::now());
        let text = format!("{s:?}");
        assert!(text.contains("ASIASHOWN"));
        assert!(
            !text.contains("secret\"") && !text.contains("scaidrive-token"),
            "{text}"
        );
    }
}
