//! Temporary credentials (STS sessions) on PostgreSQL.

use super::super::StateError;
use super::super::credentials::time_text;
use super::super::sts::{COLUMNS, StsSession, finish};
use super::PgBackend;

fn from_row(row: &tokio_postgres::Row) -> Result<StsSession, StateError> {
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let s = StsSession {
        access_key_id: row.try_get(0)?,
        secret_access_key: row.try_get(1)?,
        session_token_sha256: row.try_get(2)?,
        token: row.try_get(3)?,
        user_id: row.try_get(4)?,
        source: row.try_get(5)?,
        session_name: row.try_get(6)?,
        created_at: epoch,
        expires_at: epoch,
    };
    finish((s, row.try_get(7)?, row.try_get(8)?))
}

pub(in crate::state) async fn create_sts_session(
    db: &PgBackend,
    s: &StsSession,
    stale: &str,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let purge = conn
        .prepare_cached("DELETE FROM sts_sessions WHERE expires_at < $1")
        .await?;
    conn.execute(&purge, &[&stale]).await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO sts_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .await?;
    let created_at = time_text(&s.created_at);
    let expires_at = time_text(&s.expires_at);
    conn.execute(
        &stmt,
        &[
            &s.access_key_id,
            &s.secret_access_key,
            &s.session_token_sha256,
            &s.token,
            &s.user_id,
            &s.source,
            &s.session_name,
            &created_at,
            &expires_at,
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn get_sts_session(
    db: &PgBackend,
    access_key_id: &str,
) -> Result<Option<StsSession>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sts_sessions WHERE access_key_id = $1"
        ))
        .await?;
    conn.query_opt(&stmt, &[&access_key_id])
        .await?
        .map(|row| from_row(&row))
        .transpose()
}
