//! WebDAV locks (`webdav_locks`): persisted so they survive a restart and hold across gateway
//! instances sharing one state database. Expired locks are ignored by every read and purged
//! when locks are written.

use rusqlite::params;

use super::{Backend, StateDb, StateError, pg};

/// One stored lock. `path` is the gateway's share-qualified key (`shr_…/a/b`), not a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLock {
    pub token: String,
    pub path: String,
    pub principal: String,
    /// The client's `<D:owner>` XML, verbatim.
    pub owner: Option<String>,
    /// `true` = depth infinity.
    pub deep: bool,
    pub shared: bool,
    /// Unix milliseconds; `None` = infinite.
    pub timeout_at_ms: Option<i64>,
}

pub(super) const COLUMNS: &str = "token, path, principal, owner, depth, scope, timeout_at";

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(super) fn to_text(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredLock> {
    let depth: String = r.get(4)?;
    let scope: String = r.get(5)?;
    let timeout: Option<String> = r.get(6)?;
    Ok(StoredLock {
        token: r.get(0)?,
        path: r.get(1)?,
        principal: r.get(2)?,
        owner: r.get(3)?,
        deep: depth == "infinity",
        shared: scope == "shared",
        timeout_at_ms: timeout
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.timestamp_millis()),
    })
}

pub(super) fn live(lock: &StoredLock, now: i64) -> bool {
    lock.timeout_at_ms.is_none_or(|t| t > now)
}

impl StateDb {
    /// The live locks on `path`, on its ancestors and below it (`path` has no trailing `/`).
    pub async fn locks_related(&self, path: &str) -> Result<Vec<StoredLock>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::locks_related(p, path).await,
        };
        let path = path.to_owned();
        sqlite
            .call(move |conn| {
                let ancestors = ancestors_of(&path);
                let (lo, hi) = below_range(&path);
                let mut stmt = conn.prepare_cached(&related_sql(ancestors.len()))?;
                let mut args: Vec<String> = ancestors;
                args.push(lo);
                args.push(hi);
                let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), read)?;
                let now = now_ms();
                let mut out = Vec::new();
                for row in rows {
                    let lock = row?;
                    if live(&lock, now) {
                        out.push(lock);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Stores a new lock (and purges expired ones).
    pub async fn insert_lock(&self, lock: StoredLock) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::insert_lock(p, &lock).await,
        };
        sqlite
            .call(move |conn| {
                purge(conn)?;
                conn.prepare_cached(&format!(
                    "INSERT INTO webdav_locks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ))?
                .execute(params![
                    lock.token,
                    lock.path,
                    lock.principal,
                    lock.owner,
                    if lock.deep { "infinity" } else { "0" },
                    if lock.shared { "shared" } else { "exclusive" },
                    to_text(lock.timeout_at_ms),
                ])?;
                Ok(())
            })
            .await
    }

    /// The live lock with this token.
    pub async fn lock_by_token(&self, token: &str) -> Result<Option<StoredLock>, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::lock_by_token(p, token).await,
        };
        let token = token.to_owned();
        sqlite
            .call(move |conn| {
                use rusqlite::OptionalExtension as _;
                let lock = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM webdav_locks WHERE token = ?1"
                    ))?
                    .query_row(params![token], read)
                    .optional()?;
                Ok(lock.filter(|l| live(l, now_ms())))
            })
            .await
    }

    /// Sets a lock's new expiry; false when the lock is gone or expired.
    pub async fn refresh_lock(
        &self,
        token: &str,
        timeout_at_ms: Option<i64>,
    ) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::refresh_lock(p, token, timeout_at_ms).await,
        };
        let token = token.to_owned();
        sqlite
            .call(move |conn| {
                let now = to_text(Some(now_ms()));
                let n = conn
                    .prepare_cached(
                        "UPDATE webdav_locks SET timeout_at = ?2 WHERE token = ?1 \
                 AND (timeout_at IS NULL OR timeout_at > ?3)",
                    )?
                    .execute(params![token, to_text(timeout_at_ms), now])?;
                Ok(n > 0)
            })
            .await
    }

    /// Removes a lock; false when there was none.
    pub async fn delete_lock(&self, token: &str) -> Result<bool, StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::delete_lock(p, token).await,
        };
        let token = token.to_owned();
        sqlite
            .call(move |conn| {
                let n = conn
                    .prepare_cached("DELETE FROM webdav_locks WHERE token = ?1")?
                    .execute(params![token])?;
                Ok(n > 0)
            })
            .await
    }

    /// Removes every lock at `path` and below (after a MOVE or DELETE).
    pub async fn delete_locks_under(&self, path: &str) -> Result<(), StateError> {
        let sqlite = match &self.backend {
            Backend::Sqlite(s) => s,
            Backend::Postgres(p) => return pg::delete_locks_under(p, path).await,
        };
        let path = path.to_owned();
        sqlite
            .call(move |conn| {
                let (lo, hi) = below_range(&path);
                conn.prepare_cached(
                    "DELETE FROM webdav_locks WHERE path = ?1 OR (path >= ?2 AND path < ?3)",
                )?
                .execute(params![path, lo, hi])?;
                Ok(())
            })
            .await
    }
}

/// `locks_related`'s query for `n` ancestors (the path itself included).
fn related_sql(n: usize) -> String {
    let marks = vec!["?"; n].join(",");
    format!(
        "SELECT {COLUMNS} FROM webdav_locks WHERE path IN ({marks}) \
         OR (path >= ? AND path < ?)"
    )
}

fn purge(conn: &rusqlite::Connection) -> Result<(), StateError> {
    let now = to_text(Some(now_ms()));
    conn.prepare_cached(
        "DELETE FROM webdav_locks WHERE timeout_at IS NOT NULL AND timeout_at <= ?1",
    )?
    .execute(params![now])?;
    Ok(())
}

/// `path` and each of its ancestors (`a/b/c`, `a/b`, `a`).
pub(super) fn ancestors_of(path: &str) -> Vec<String> {
    let mut ancestors = vec![path.to_owned()];
    let mut p = path;
    while let Some((head, _)) = p.rsplit_once('/') {
        ancestors.push(head.to_owned());
        p = head;
    }
    ancestors
}

/// The key range holding exactly the paths below `path`: every key that starts with `path/`
/// lies in `[path/, path0)`, since `0` is the byte after `/` and keys compare bytewise (SQLite's
/// BINARY collation, PostgreSQL's `"C"`). A range, unlike `LIKE`, is served by the path index
/// in SQLite (whose `LIKE` ignores ASCII case, so it could neither use the index nor tell
/// `a/B` from `a/b`).
pub(super) fn below_range(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lock(token: &str, path: &str, timeout_at_ms: Option<i64>) -> StoredLock {
        StoredLock {
            token: token.into(),
            path: path.into(),
            principal: "usr_1".into(),
            owner: None,
            deep: true,
            shared: false,
            timeout_at_ms,
        }
    }

    both_backends! {
        locks_are_found_by_ancestor_and_descendant_and_expire_on =>
            locks_are_found_by_ancestor_and_descendant_and_expire;
    }

    async fn locks_are_found_by_ancestor_and_descendant_and_expire(
        target: crate::state::testdb::Target,
    ) {
        let db = target.open().await;
        db.insert_lock(lock("t1", "shr_1/a", None)).await.unwrap();
        db.insert_lock(lock("t2", "shr_1/a/b_c/d", None))
            .await
            .unwrap();
        db.insert_lock(lock("t3", "shr_1/ab", None)).await.unwrap();
        db.insert_lock(lock("t4", "shr_1/a/x", Some(now_ms() - 1)))
            .await
            .unwrap();
        let mut got: Vec<_> = db
            .locks_related("shr_1/a/b_c")
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.token)
            .collect();
        got.sort();
        assert_eq!(got, vec!["t1", "t2"]);
        assert!(db.lock_by_token("t4").await.unwrap().is_none());
        assert!(!db.refresh_lock("t4", None).await.unwrap());
        db.delete_locks_under("shr_1/a").await.unwrap();
        assert!(db.lock_by_token("t2").await.unwrap().is_none());
        assert!(db.lock_by_token("t3").await.unwrap().is_some());
    }

    both_backends! {
        related_locks_match_by_exact_path_bytes_on =>
            related_locks_match_by_exact_path_bytes;
    }

    /// Ancestors and descendants are found by exact, case-sensitive path; `%`, `_`, `\` and
    /// non-ASCII names are plain characters; a sibling that shares a prefix is not related.
    async fn related_locks_match_by_exact_path_bytes(target: crate::state::testdb::Target) {
        let db = target.open().await;
        let paths = [
            ("anc", "shr_1/d%_\\"),
            ("self", "shr_1/d%_\\/é_x"),
            ("child", "shr_1/d%_\\/é_x/f"),
            ("empty-name", "shr_1/d%_\\/é_x/"),
            ("deep", "shr_1/d%_\\/é_x/g/h%"),
            ("sibling-longer", "shr_1/d%_\\/é_xy"),
            ("sibling-dot", "shr_1/d%_\\/é_x.txt"),
            ("sibling-zero", "shr_1/d%_\\/é_x0"),
            ("like-underscore", "shr_1/d%_\\/éax/f"),
            ("like-percent", "shr_1/dzz_\\/é_x/f"),
            ("upper-case", "shr_1/D%_\\/é_x/f"),
            ("upper-child", "shr_1/d%_\\/É_X/f"),
            ("other-share", "shr_2/d%_\\/é_x/f"),
        ];
        for (token, path) in paths {
            db.insert_lock(lock(token, path, None)).await.unwrap();
        }
        let mut got: Vec<_> = db
            .locks_related("shr_1/d%_\\/é_x")
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.token)
            .collect();
        got.sort();
        assert_eq!(got, vec!["anc", "child", "deep", "empty-name", "self"]);
        db.delete_locks_under("shr_1/d%_\\/é_x").await.unwrap();
        for (token, _) in paths {
            let gone = ["self", "child", "deep", "empty-name"].contains(&token);
            assert_eq!(
                db.lock_by_token(token).await.unwrap().is_none(),
                gone,
                "{token}"
            );
        }
    }

    /// SQLite answers `locks_related` from the path index, never by scanning the table.
    #[tokio::test]
    async fn related_locks_use_the_path_index_in_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path().join("gateway.db")).unwrap();
        let Backend::Sqlite(sqlite) = &db.backend else {
            panic!("not SQLite")
        };
        let plan: Vec<String> = sqlite
            .call(|conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", related_sql(3)))?;
                let rows = stmt.query_map(
                    rusqlite::params!["a/b/c", "a/b", "a", "a/b/c/", "a/b/c0"],
                    |r| r.get::<_, String>(3),
                )?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .any(|step| step.contains("webdav_locks_by_path")),
            "{plan:?}"
        );
    }
}
