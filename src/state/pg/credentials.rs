//! Credentials on PostgreSQL.

use chrono::SecondsFormat;

use super::super::StateError;
use super::super::credentials::{COLUMNS, Credential, INSERT_COLUMNS, finish};
use super::{PgBackend, is_unique_violation};

fn from_row(row: &tokio_postgres::Row) -> Result<Credential, StateError> {
    let cred = Credential {
        access_key_id: row.try_get(0)?,
        secret_access_key: row.try_get(1)?,
        token: row.try_get(2)?,
        label: row.try_get(3)?,
        user_id: row.try_get(4)?,
        created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        last_used_at: None,
    };
    finish((cred, row.try_get(5)?, row.try_get(6)?))
}

pub(in crate::state) async fn create_credential(
    db: &PgBackend,
    cred: &Credential,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO credentials ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .await?;
    let created_at = cred.created_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let result = conn
        .execute(
            &stmt,
            &[
                &cred.access_key_id,
                &cred.secret_access_key,
                &cred.token,
                &cred.label,
                &cred.user_id,
                &created_at,
            ],
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            Err(StateError::DuplicateAccessKey(cred.access_key_id.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

pub(in crate::state) async fn get_credential(
    db: &PgBackend,
    access_key_id: &str,
) -> Result<Option<Credential>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM credentials WHERE access_key_id = $1"
        ))
        .await?;
    conn.query_opt(&stmt, &[&access_key_id])
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

pub(in crate::state) async fn list_credentials(
    db: &PgBackend,
) -> Result<Vec<Credential>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM credentials ORDER BY created_at, access_key_id"
        ))
        .await?;
    conn.query(&stmt, &[]).await?.iter().map(from_row).collect()
}

pub(in crate::state) async fn revoke_credential(
    db: &PgBackend,
    access_key_id: &str,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM credentials WHERE access_key_id = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&access_key_id]).await? > 0)
}

pub(in crate::state) async fn record_credential_use(
    db: &PgBackend,
    uses: &[(String, String)],
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(
            "UPDATE credentials SET last_used_at = $2 WHERE access_key_id = $1 \
             AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .await?;
    for (id, at) in uses {
        conn.execute(&stmt, &[id, at]).await?;
    }
    Ok(())
}
