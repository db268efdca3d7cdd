//! Deletes in progress (`delete_intents`): a delete to ScaiDrive's trash renames the item first
//! (so that its name is free at once) and then trashes it; the row written before the rename
//! and removed after the trash call lets the sweep at the next start finish a delete a crash cut
//! in between (see `docs/mapping.md` § Deletes).

use std::fmt;

use rusqlite::params;

use super::{Backend, StateDb, StateError, pg};

/// What is being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentKind {
    File,
    Folder,
}

impl IntentKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Folder => "folder",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, StateError> {
        match s {
            "file" => Ok(Self::File),
            "folder" => Ok(Self::Folder),
            other => Err(StateError::BadValue {
                column: "delete_intents.kind",
                message: format!("unknown kind {other:?}"),
            }),
        }
    }
}

/// One delete in progress. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct DeleteIntent {
    /// The ScaiDrive `fil_…` or `fld_…` id.
    pub resource_id: String,
    pub kind: IntentKind,
    pub share_id: String,
    /// The name before the delete.
    pub name: String,
    /// The name the item gets just before the trash call.
    pub trash_name: String,
    /// The deleting user's ScaiDrive token (the sweep acts with it).
    pub token: String,
    /// When the delete started, Unix milliseconds.
    pub created_at_ms: i64,
}

impl fmt::Debug for DeleteIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeleteIntent")
            .field("resource_id", &self.resource_id)
            .field("kind", &self.kind)
            .field("share_id", &self.share_id)
            .field("name", &self.name)
            .field("trash_name", &self.trash_name)
            .field("token", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

pub(super) const COLUMNS: &str = "resource_id, kind, share_id, name, trash_name, token, created_at";

pub(super) fn to_text(ms: i64) -> String {
    super::locks::to_text(Some(ms)).unwrap_or_default()
}

pub(super) fn from_text(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).map_or(0, |t| t.timestamp_millis())
}

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DeleteIntent, String)> {
    let created: String = r.get(6)?;
    let kind: String = r.get(1)?;
    Ok((
        DeleteIntent {
            resource_id: r.get(0)?,
            kind: IntentKind::File,
            share_id: r.get(2)?,
            name: r.get(3)?,
            trash_name: r.get(4)?,
            token: r.get(5)?,
            created_at_ms: from_text(&created),
        },
        kind,
    ))
}

impl StateDb {
    /// Records a delete about to start (replacing an older row for the same item).
    pub async fn put_intent(&self, intent: DeleteIntent) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::put_intent(p, &intent).await,
        };
        sqlite
            .call(move |conn| {
                conn.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO delete_intents ({COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ))?
                .execute(params![
                    intent.resource_id,
                    intent.kind.as_str(),
                    intent.share_id,
                    intent.name,
                    intent.trash_name,
                    intent.token,
                    to_text(intent.created_at_ms),
                ])?;
                Ok(())
            })
            .await
    }

    /// Forgets the delete of this item (done, undone or abandoned); whether there was one.
    pub async fn delete_intent(&self, resource_id: &str) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::delete_intent(p, resource_id).await,
        };
        let id = resource_id.to_owned();
        sqlite
            .call(move |conn| {
                let n = conn
                    .prepare_cached("DELETE FROM delete_intents WHERE resource_id = ?1")?
                    .execute(params![id])?;
                Ok(n > 0)
            })
            .await
    }

    /// The deletes in progress that started before `before_ms` (Unix milliseconds; `None`:
    /// all), oldest first.
    pub async fn list_intents(
        &self,
        before_ms: Option<i64>,
    ) -> Result<Vec<DeleteIntent>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::list_intents(p, before_ms).await,
        };
        sqlite
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM delete_intents \
                     WHERE ?1 IS NULL OR created_at < ?1 ORDER BY created_at, resource_id"
                ))?;
                let rows = stmt.query_map(params![before_ms.map(to_text)], read)?;
                let mut out = Vec::new();
                for row in rows {
                    let (mut intent, kind) = row?;
                    intent.kind = IntentKind::parse(&kind)?;
                    out.push(intent);
                }
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testdb::Target;
    use super::*;

    fn intent(id: &str, kind: IntentKind, at: i64) -> DeleteIntent {
        DeleteIntent {
            resource_id: id.to_owned(),
            kind,
            share_id: "shr_1".to_owned(),
            name: "文".repeat(76) + ".txt",
            trash_name: "x (deleted 20260101T000000.000Z).txt".to_owned(),
            token: "tok-secret".to_owned(),
            created_at_ms: at,
        }
    }

    async fn intents_are_stored_listed_by_age_and_removed(target: Target) {
        let db = target.open().await;
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        db.put_intent(intent("fil_b", IntentKind::File, t0 + 2_000))
            .await
            .unwrap();
        db.put_intent(intent("fld_a", IntentKind::Folder, t0))
            .await
            .unwrap();
        // A second delete of the same item replaces the first row.
        db.put_intent(intent("fil_b", IntentKind::File, t0 + 1_000))
            .await
            .unwrap();
        // Another handle (a restart) sees them, oldest first.
        let other = target.open().await;
        let all = other.list_intents(None).await.unwrap();
        assert_eq!(
            all,
            vec![
                intent("fld_a", IntentKind::Folder, t0),
                intent("fil_b", IntentKind::File, t0 + 1_000)
            ]
        );
        assert_eq!(other.list_intents(Some(t0 + 1_000)).await.unwrap().len(), 1);
        assert!(!format!("{all:?}").contains("tok-secret"));
        assert!(other.delete_intent("fld_a").await.unwrap());
        assert!(!other.delete_intent("fld_a").await.unwrap());
        let left = db.list_intents(Some(t0 + 1_000_000_000)).await.unwrap();
        assert_eq!(left, vec![intent("fil_b", IntentKind::File, t0 + 1_000)]);
    }

    both_backends! {
        intents_on => intents_are_stored_listed_by_age_and_removed;
    }
}
