//! Deletes in progress on PostgreSQL.

use super::super::StateError;
use super::super::intents::{COLUMNS, DeleteIntent, IntentKind, from_text, to_text};
use super::PgBackend;

pub(in crate::state) async fn put_intent(
    db: &PgBackend,
    intent: &DeleteIntent,
) -> Result<(), StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO delete_intents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (resource_id) DO UPDATE SET kind = EXCLUDED.kind, \
             share_id = EXCLUDED.share_id, name = EXCLUDED.name, \
             trash_name = EXCLUDED.trash_name, token = EXCLUDED.token, \
             created_at = EXCLUDED.created_at"
        ))
        .await?;
    conn.execute(
        &stmt,
        &[
            &intent.resource_id,
            &intent.kind.as_str(),
            &intent.share_id,
            &intent.name,
            &intent.trash_name,
            &intent.token,
            &to_text(intent.created_at_ms),
        ],
    )
    .await?;
    Ok(())
}

pub(in crate::state) async fn delete_intent(
    db: &PgBackend,
    resource_id: &str,
) -> Result<bool, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached("DELETE FROM delete_intents WHERE resource_id = $1")
        .await?;
    Ok(conn.execute(&stmt, &[&resource_id]).await? > 0)
}

pub(in crate::state) async fn list_intents(
    db: &PgBackend,
    before_ms: Option<i64>,
) -> Result<Vec<DeleteIntent>, StateError> {
    let conn = db.conn().await?;
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM delete_intents \
             WHERE $1::text IS NULL OR created_at < $1 ORDER BY created_at, resource_id"
        ))
        .await?;
    let mut out = Vec::new();
    for r in conn.query(&stmt, &[&before_ms.map(to_text)]).await? {
        let kind: String = r.try_get(1)?;
        let created: String = r.try_get(6)?;
        out.push(DeleteIntent {
            resource_id: r.try_get(0)?,
            kind: IntentKind::parse(&kind)?,
            share_id: r.try_get(2)?,
            name: r.try_get(3)?,
            trash_name: r.try_get(4)?,
            token: r.try_get(5)?,
            created_at_ms: from_text(&created),
        });
    }
    Ok(out)
}
