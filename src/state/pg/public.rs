//! Public links (gateway-made ScaiDrive external links) on PostgreSQL.

use super::super::StateError;
use super::super::credentials::time_text;
use super::super::public::{COLUMNS, PublicLink, finish};
use super::PgBackend;

fn from_row(row: &tokio_postgres::Row) -> Result<PublicLink, StateError> {
    let l = PublicLink {
        link_id: row.try_get(0)?,
        bucket: row.try_get(1)?,
        key: row.try_get(2)?,
        object: row.try_get::<_, i64>(3)? != 0,
        list: row.try_get::<_, i64>(4)? != 0,
        read: row.try_get::<_, i64>(5)? != 0,
        share_id: row.try_get(6)?,
        resource_type: row.try_get(7)?,
        resource_id: row.try_get(8)?,
        access_key_id: row.try_get(9)?,
        principal: row.try_get(10)?,
        created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    };
    finish((l, row.try_get(11)?))
}

pub(in crate::state) async fn put_public_link(
    db: &PgBackend,
    l: &PublicLink,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO public_links ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (link_id) DO UPDATE SET bucket = EXCLUDED.bucket, key = EXCLUDED.key, \
             object = EXCLUDED.object, list = EXCLUDED.list, read = EXCLUDED.read"
        ))
        .await?;
    let created_at = time_text(&l.created_at);
    conn.execute(
        &stmt,
        &[
            &l.link_id,
            &l.bucket,
            &l.key,
            &i64::from(l.object),
            &i64::from(l.list),
            &i64::from(l.read),
            &l.share_id,
            &l.resource_type,
            &l.resource_id,
            &l.access_key_id,
            &l.principal,
            &created_at,
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn public_links(
    db: &PgBackend,
    bucket: &str,
) -> Result<Vec<PublicLink>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM public_links WHERE bucket = $1 ORDER BY created_at, link_id"
        ))
        .await?;
    conn.query(&stmt, &[&bucket])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

pub(in crate::state) async fn delete_public_link(
    db: &PgBackend,
    link_id: &str,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM public_links WHERE link_id = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&link_id]).await? > 0)
}
