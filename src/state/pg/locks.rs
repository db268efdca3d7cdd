//! WebDAV locks on PostgreSQL.

use super::super::StateError;
use super::super::locks::{COLUMNS, StoredLock, ancestors_of, below_range, live, now_ms, to_text};
use super::PgBackend;

fn read(r: &tokio_postgres::Row) -> Result<StoredLock, StateError> {
    let depth: String = r.try_get(4)?;
    let scope: String = r.try_get(5)?;
    let timeout: Option<String> = r.try_get(6)?;
    Ok(StoredLock {
        token: r.try_get(0)?,
        path: r.try_get(1)?,
        principal: r.try_get(2)?,
        owner: r.try_get(3)?,
        deep: depth == "infinity",
        shared: scope == "shared",
        timeout_at_ms: timeout
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.timestamp_millis()),
    })
}

pub(in crate::state) async fn locks_related(
    db: &PgBackend,
    path: &str,
) -> Result<Vec<StoredLock>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webdav_locks WHERE path = ANY($1) \
             OR (path >= $2 AND path < $3)"
        ))
        .await?;
    let ancestors = ancestors_of(path);
    let (lo, hi) = below_range(path);
    let now = now_ms();
    let mut out = Vec::new();
    for row in conn.query(&stmt, &[&ancestors, &lo, &hi]).await? {
        let lock = read(&row)?;
        if live(&lock, now) {
            out.push(lock);
        }
    }
    Ok(out)
}

/// Purges expired locks and inserts the new one in one statement.
pub(in crate::state) async fn insert_lock(
    db: &PgBackend,
    lock: &StoredLock,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "WITH purged AS (DELETE FROM webdav_locks \
             WHERE timeout_at IS NOT NULL AND timeout_at <= $8) \
             INSERT INTO webdav_locks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .await?;
    let depth = if lock.deep { "infinity" } else { "0" };
    let scope = if lock.shared { "shared" } else { "exclusive" };
    conn.execute(
        &stmt,
        &[
            &lock.token,
            &lock.path,
            &lock.principal,
            &lock.owner,
            &depth,
            &scope,
            &to_text(lock.timeout_at_ms),
            &to_text(Some(now_ms())),
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn lock_by_token(
    db: &PgBackend,
    token: &str,
) -> Result<Option<StoredLock>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webdav_locks WHERE token = $1"
        ))
        .await?;
    let lock = conn
        .query_opt(&stmt, &[&token])
        .await?
        .map(|r| read(&r))
        .transpose()?;
    Ok(lock.filter(|l| live(l, now_ms())))
}

pub(in crate::state) async fn refresh_lock(
    db: &PgBackend,
    token: &str,
    timeout_at_ms: Option<i64>,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "UPDATE webdav_locks SET timeout_at = $2 WHERE token = $1 \
             AND (timeout_at IS NULL OR timeout_at > $3)",
        )
        .await?;
    let n = conn
        .execute(
            &stmt,
            &[&token, &to_text(timeout_at_ms), &to_text(Some(now_ms()))],
        )
        .await?;
    Ok(n > 0)
}

pub(in crate::state) async fn delete_lock(db: &PgBackend, token: &str) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM webdav_locks WHERE token = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&token]).await? > 0)
}

pub(in crate::state) async fn delete_locks_under(
    db: &PgBackend,
    path: &str,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM webdav_locks WHERE path = $1 OR (path >= $2 AND path < $3)")
        .await?;
    let (lo, hi) = below_range(path);
    conn.execute(&stmt, &[&path, &lo, &hi]).await?;
    Ok(())
}
