//! SQLite metadata: schema, row types, and the shared queries (names, paths, quotas, changes).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, max_file_size_bytes INTEGER NOT NULL,
    quota_bytes INTEGER);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL,
    display_name TEXT NOT NULL, is_admin INTEGER NOT NULL, quota_bytes INTEGER);
CREATE TABLE IF NOT EXISTS groups_ (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id));
CREATE TABLE IF NOT EXISTS tokens (
    ord INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
    scopes TEXT, expires_at TEXT);
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
    share_type TEXT NOT NULL, owner_id TEXT NOT NULL, quota_bytes INTEGER,
    is_deleted INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, modified_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS share_members (
    share_id TEXT NOT NULL, principal_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (share_id, principal_id));
CREATE TABLE IF NOT EXISTS folders (
    id TEXT PRIMARY KEY, share_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
    owner_id TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0, deleted_op TEXT);
CREATE INDEX IF NOT EXISTS folders_parent ON folders (share_id, parent_id, name);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, share_id TEXT NOT NULL, folder_id TEXT, name TEXT NOT NULL,
    mime_type TEXT NOT NULL, owner_id TEXT NOT NULL, created_by TEXT NOT NULL,
    modified_by TEXT NOT NULL, created_at TEXT NOT NULL, modified_at TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0, deleted_op TEXT);
CREATE INDEX IF NOT EXISTS files_parent ON files (share_id, folder_id, name);
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY, file_id TEXT NOT NULL, version_number INTEGER NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (file_id, version_number));
CREATE INDEX IF NOT EXISTS versions_sha ON versions (sha256);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    share_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
    change_type TEXT NOT NULL, changed_by TEXT NOT NULL, changed_at TEXT NOT NULL,
    old_path TEXT, new_path TEXT, version_id TEXT, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_share ON changes (share_id, seq);
CREATE TABLE IF NOT EXISTS upload_sessions (
    id TEXT PRIMARY KEY, share_id TEXT NOT NULL, folder_id TEXT, file_name TEXT NOT NULL,
    file_size INTEGER NOT NULL, chunk_size INTEGER NOT NULL, total_chunks INTEGER NOT NULL,
    mime_type TEXT, checksum_sha256 TEXT, replace_file_id TEXT, user_id TEXT NOT NULL,
    status TEXT NOT NULL, file_id TEXT, expires_at_ms INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upload_chunks (
    session_id TEXT NOT NULL, idx INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (session_id, idx));
CREATE TABLE IF NOT EXISTS acl_entries (
    id TEXT PRIMARY KEY, share_id TEXT NOT NULL, resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL, principal_type TEXT NOT NULL, principal_id TEXT NOT NULL,
    permissions INTEGER NOT NULL, ace_type TEXT NOT NULL, inherit_to_children INTEGER NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (resource_type, resource_id, principal_type, principal_id, ace_type));
CREATE INDEX IF NOT EXISTS acl_entries_share ON acl_entries (share_id);
CREATE TABLE IF NOT EXISTS acl_inheritance (
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, inherit_from_parent INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_id));
CREATE TABLE IF NOT EXISTS links (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, share_id TEXT NOT NULL,
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, link_type TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE, short_code TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    password_salt TEXT, password_hash TEXT, expires_at TEXT, options TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL);
-- Bytes stored per share and per creating user, kept by triggers on every version written or
-- removed and every file moved between shares (a `used_bytes` or quota check is then one row,
-- not a sum over every version), and rebuilt from the versions on every start (USAGE_REBUILD).
CREATE TABLE IF NOT EXISTS share_usage (share_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_usage (user_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS versions_usage_insert AFTER INSERT ON versions BEGIN
    INSERT INTO share_usage (share_id, bytes) SELECT share_id, NEW.size FROM files
        WHERE id = NEW.file_id ON CONFLICT (share_id) DO UPDATE SET bytes = bytes + excluded.bytes;
    INSERT INTO user_usage (user_id, bytes) VALUES (NEW.created_by, NEW.size)
        ON CONFLICT (user_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS versions_usage_delete AFTER DELETE ON versions BEGIN
    UPDATE share_usage SET bytes = bytes - OLD.size
        WHERE share_id = (SELECT share_id FROM files WHERE id = OLD.file_id);
    UPDATE user_usage SET bytes = bytes - OLD.size WHERE user_id = OLD.created_by;
END;
CREATE TRIGGER IF NOT EXISTS files_usage_move AFTER UPDATE OF share_id ON files
    WHEN OLD.share_id IS NOT NEW.share_id BEGIN
    UPDATE share_usage SET bytes = bytes - (SELECT COALESCE(SUM(size), 0) FROM versions
        WHERE file_id = NEW.id) WHERE share_id = OLD.share_id;
    INSERT INTO share_usage (share_id, bytes) SELECT NEW.share_id, COALESCE(SUM(size), 0)
        FROM versions WHERE file_id = NEW.id
        ON CONFLICT (share_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
"#;

/// Recomputes the usage tables from the versions (a database written before they existed, or
/// changed by hand, starts right).
const USAGE_REBUILD: &str = r#"
BEGIN;
DELETE FROM share_usage;
INSERT INTO share_usage (share_id, bytes) SELECT f.share_id, SUM(v.size) FROM versions v
    JOIN files f ON f.id = v.file_id GROUP BY f.share_id;
DELETE FROM user_usage;
INSERT INTO user_usage (user_id, bytes) SELECT created_by, SUM(size) FROM versions
    GROUP BY created_by;
COMMIT;
"#;

/// Opens (creating if needed) the metadata database in WAL mode.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(USAGE_REBUILD)?;
    Ok(conn)
}

/// A new prefixed ULID id, e.g. `fil_01J…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// Now as ISO 8601 UTC, second precision, `Z`.
pub fn now_iso() -> String {
    fmt_time(chrono::Utc::now())
}

/// Formats a time the API way.
pub fn fmt_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Now in epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Formats epoch milliseconds the API way.
pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(fmt_time)
        .unwrap_or_default()
}

/// Converts a stored non-negative integer.
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Converts a size for storage.
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Validates a file or folder name (strict rules of docs/emulator.md); 422 on `field`.
pub fn validate_name(name: &str, field: &str) -> ApiResult<()> {
    let bad = if name.is_empty() || name.len() > 255 {
        Some("name must be 1-255 bytes")
    } else if name == "." || name == ".." {
        Some("name must not be '.' or '..'")
    } else if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_ascii_control())
    {
        Some("name must not contain '/', '\\' or control characters")
    } else {
        None
    };
    match bad {
        Some(msg) => Err(ApiError::invalid(field, msg)),
        None => Ok(()),
    }
}

/// A share row.
#[derive(Debug, Clone)]
pub struct ShareRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub share_type: String,
    pub owner_id: String,
    pub quota_bytes: Option<i64>,
    pub is_deleted: bool,
    pub created_at: String,
    pub modified_at: String,
}

const SHARE_COLS: &str = "id, tenant_id, name, description, share_type, owner_id, quota_bytes, \
                          is_deleted, created_at, modified_at";

fn share_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShareRow> {
    Ok(ShareRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        share_type: r.get(4)?,
        owner_id: r.get(5)?,
        quota_bytes: r.get(6)?,
        is_deleted: r.get(7)?,
        created_at: r.get(8)?,
        modified_at: r.get(9)?,
    })
}

/// Loads a share by id.
pub fn load_share(conn: &Connection, id: &str) -> rusqlite::Result<Option<ShareRow>> {
    conn.query_row(
        &format!("SELECT {SHARE_COLS} FROM shares WHERE id = ?1"),
        [id],
        share_from_row,
    )
    .optional()
}

/// Loads shares matching a WHERE clause (columns prefixed `s.`).
pub fn query_shares(
    conn: &Connection,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<ShareRow>> {
    let cols = SHARE_COLS
        .split(", ")
        .map(|c| format!("s.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {cols} FROM shares s WHERE {where_sql} ORDER BY s.rowid");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(args, share_from_row)?;
    rows.collect()
}

/// Bytes stored for a share (every version of every file, trash included).
pub fn share_used(conn: &Connection, share_id: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE((SELECT bytes FROM share_usage WHERE share_id = ?1), 0)",
        [share_id],
        |r| r.get(0),
    )
}

/// Bytes stored by versions a user created.
pub fn user_used(conn: &Connection, user_id: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE((SELECT bytes FROM user_usage WHERE user_id = ?1), 0)",
        [user_id],
        |r| r.get(0),
    )
}

/// Bytes stored in a tenant.
pub fn tenant_used(conn: &Connection, tenant_id: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(SUM(u.bytes), 0) FROM share_usage u JOIN shares s ON s.id = u.share_id \
         WHERE s.tenant_id = ?1",
        [tenant_id],
        |r| r.get(0),
    )
}

/// The full share JSON object.
pub fn share_json(conn: &Connection, s: &ShareRow) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": s.id, "tenant_id": s.tenant_id, "name": s.name, "description": s.description,
        "share_type": s.share_type, "owner_id": s.owner_id, "is_public": false,
        "is_deleted": s.is_deleted, "quota_bytes": s.quota_bytes,
        "used_bytes": share_used(conn, &s.id)?, "settings": {},
        "created_at": s.created_at, "modified_at": s.modified_at,
    }))
}

/// Tenant limits.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: String,
    pub max_file_size_bytes: i64,
    pub quota_bytes: Option<i64>,
}

/// Loads a tenant.
pub fn load_tenant(conn: &Connection, id: &str) -> rusqlite::Result<TenantRow> {
    conn.query_row(
        "SELECT id, max_file_size_bytes, quota_bytes FROM tenants WHERE id = ?1",
        [id],
        |r| {
            Ok(TenantRow {
                id: r.get(0)?,
                max_file_size_bytes: r.get(1)?,
                quota_bytes: r.get(2)?,
            })
        },
    )
}

/// 413 when `size` is over the tenant's per-file cap.
pub fn check_file_size(tenant: &TenantRow, size: u64) -> ApiResult<()> {
    if to_i64(size) > tenant.max_file_size_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "PAYLOAD_TOO_LARGE: {size} bytes exceeds the maximum file size of {} bytes",
            tenant.max_file_size_bytes
        )));
    }
    Ok(())
}

/// 507 when adding `add` bytes would exceed the share, user or tenant quota.
pub fn check_quota(conn: &Connection, share: &ShareRow, user_id: &str, add: u64) -> ApiResult<()> {
    let add = to_i64(add);
    if let Some(q) = share.quota_bytes {
        let used = share_used(conn, &share.id)?;
        if used + add > q {
            return Err(ApiError::InsufficientStorage(format!(
                "QUOTA_EXCEEDED: share quota of {q} bytes exceeded ({used} used, {add} more requested)"
            )));
        }
    }
    let user_quota: Option<i64> = conn
        .query_row(
            "SELECT quota_bytes FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if let Some(q) = user_quota {
        let used = user_used(conn, user_id)?;
        if used + add > q {
            return Err(ApiError::InsufficientStorage(format!(
                "QUOTA_EXCEEDED: user quota of {q} bytes exceeded ({used} used, {add} more requested)"
            )));
        }
    }
    let tenant = load_tenant(conn, &share.tenant_id)?;
    if let Some(q) = tenant.quota_bytes {
        let used = tenant_used(conn, &tenant.id)?;
        if used + add > q {
            return Err(ApiError::InsufficientStorage(format!(
                "QUOTA_EXCEEDED: tenant quota of {q} bytes exceeded ({used} used, {add} more requested)"
            )));
        }
    }
    Ok(())
}

/// A folder row.
#[derive(Debug, Clone)]
pub struct FolderRow {
    pub id: String,
    pub share_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub owner_id: String,
    pub created_by: String,
    pub created_at: String,
    pub modified_at: String,
    pub is_deleted: bool,
}

/// Loads a folder by id.
pub fn load_folder(conn: &Connection, id: &str) -> rusqlite::Result<Option<FolderRow>> {
    conn.query_row(
        "SELECT id, share_id, parent_id, name, owner_id, created_by, created_at, modified_at, \
         is_deleted FROM folders WHERE id = ?1",
        [id],
        |r| {
            Ok(FolderRow {
                id: r.get(0)?,
                share_id: r.get(1)?,
                parent_id: r.get(2)?,
                name: r.get(3)?,
                owner_id: r.get(4)?,
                created_by: r.get(5)?,
                created_at: r.get(6)?,
                modified_at: r.get(7)?,
                is_deleted: r.get(8)?,
            })
        },
    )
    .optional()
}

/// Share-relative path of a folder (`""` for the root, `/A/B` otherwise).
pub fn folder_path(conn: &Connection, folder_id: Option<&str>) -> rusqlite::Result<String> {
    let mut parts = Vec::new();
    let mut cur = folder_id.map(str::to_string);
    // Bounded walk: a cycle cannot exist (moves refuse descendants), but stay safe.
    for _ in 0..10_000 {
        let Some(id) = cur else { break };
        let row: Option<(String, Option<String>)> = conn
            .query_row(
                "SELECT name, parent_id FROM folders WHERE id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((name, parent)) => {
                parts.push(name);
                cur = parent;
            }
            None => break,
        }
    }
    parts.reverse();
    Ok(parts.iter().map(|p| format!("/{p}")).collect())
}

/// Path of an item named `name` inside `parent`.
pub fn child_path(conn: &Connection, parent: Option<&str>, name: &str) -> rusqlite::Result<String> {
    Ok(format!("{}/{name}", folder_path(conn, parent)?))
}

/// The folder JSON object.
pub fn folder_json(conn: &Connection, tenant_id: &str, f: &FolderRow) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": f.id, "tenant_id": tenant_id, "share_id": f.share_id, "parent_id": f.parent_id,
        "name": f.name, "path": folder_path(conn, Some(&f.id))?, "owner_id": f.owner_id,
        "created_by": f.created_by, "created_at": f.created_at, "modified_at": f.modified_at,
        "is_deleted": f.is_deleted,
    }))
}

/// A file row joined with its current version.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: String,
    pub tenant_id: String,
    pub share_id: String,
    pub folder_id: Option<String>,
    pub name: String,
    pub mime_type: String,
    pub owner_id: String,
    pub created_by: String,
    pub modified_by: String,
    pub created_at: String,
    pub modified_at: String,
    pub is_deleted: bool,
    pub version_id: String,
    pub version: i64,
    pub size: i64,
    pub sha256: String,
}

/// Loads a file with its current version.
pub fn load_file(conn: &Connection, id: &str) -> rusqlite::Result<Option<FileRow>> {
    conn.query_row(
        "SELECT f.id, s.tenant_id, f.share_id, f.folder_id, f.name, f.mime_type, f.owner_id, \
         f.created_by, f.modified_by, f.created_at, f.modified_at, f.is_deleted, v.id, \
         v.version_number, v.size, v.sha256 FROM files f JOIN shares s ON s.id = f.share_id \
         JOIN versions v ON v.file_id = f.id AND v.version_number = \
         (SELECT MAX(version_number) FROM versions WHERE file_id = f.id) WHERE f.id = ?1",
        [id],
        |r| {
            Ok(FileRow {
                id: r.get(0)?,
                tenant_id: r.get(1)?,
                share_id: r.get(2)?,
                folder_id: r.get(3)?,
                name: r.get(4)?,
                mime_type: r.get(5)?,
                owner_id: r.get(6)?,
                created_by: r.get(7)?,
                modified_by: r.get(8)?,
                created_at: r.get(9)?,
                modified_at: r.get(10)?,
                is_deleted: r.get(11)?,
                version_id: r.get(12)?,
                version: r.get(13)?,
                size: r.get(14)?,
                sha256: r.get(15)?,
            })
        },
    )
    .optional()
}

/// The full file JSON object.
pub fn file_json(conn: &Connection, f: &FileRow) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": f.id, "tenant_id": f.tenant_id, "share_id": f.share_id, "folder_id": f.folder_id,
        "name": f.name, "path": child_path(conn, f.folder_id.as_deref(), &f.name)?,
        "mime_type": f.mime_type, "size": f.size, "checksum_sha256": f.sha256,
        "version": f.version, "version_id": f.version_id, "owner_id": f.owner_id,
        "created_by": f.created_by, "modified_by": f.modified_by, "created_at": f.created_at,
        "modified_at": f.modified_at, "is_deleted": f.is_deleted, "vectorized_at": null,
    }))
}

/// True when a file or folder (live or trashed) named `name` exists in the parent,
/// other than `except`.
pub fn name_taken(
    conn: &Connection,
    share_id: &str,
    parent: Option<&str>,
    name: &str,
    except: Option<&str>,
) -> rusqlite::Result<bool> {
    let except = except.unwrap_or("");
    let n: i64 = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM folders WHERE share_id = ?1 AND parent_id IS ?2 \
         AND name = ?3 AND id != ?4) + (SELECT COUNT(*) FROM files WHERE share_id = ?1 \
         AND folder_id IS ?2 AND name = ?3 AND id != ?4)",
        params![share_id, parent, name, except],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// 409 when the name is taken in the parent.
pub fn ensure_name_free(
    conn: &Connection,
    share_id: &str,
    parent: Option<&str>,
    name: &str,
    except: Option<&str>,
) -> ApiResult<()> {
    if name_taken(conn, share_id, parent, name, except)? {
        return Err(ApiError::name_conflict(name));
    }
    Ok(())
}

/// One change-feed entry to record.
pub struct Change<'a> {
    pub tenant_id: &'a str,
    pub share_id: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub change_type: &'a str,
    pub changed_by: &'a str,
    pub old_path: Option<&'a str>,
    pub new_path: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub metadata: Value,
}

impl<'a> Change<'a> {
    /// A change with no paths, version or metadata.
    pub fn new(
        tenant_id: &'a str,
        share_id: &'a str,
        resource_type: &'a str,
        resource_id: &'a str,
        change_type: &'a str,
        changed_by: &'a str,
    ) -> Self {
        Self {
            tenant_id,
            share_id,
            resource_type,
            resource_id,
            change_type,
            changed_by,
            old_path: None,
            new_path: None,
            version_id: None,
            metadata: json!({}),
        }
    }

    /// Sets old and new paths.
    pub fn paths(mut self, old: Option<&'a str>, new: Option<&'a str>) -> Self {
        self.old_path = old;
        self.new_path = new;
        self
    }

    /// Sets the version id.
    pub fn version(mut self, v: &'a str) -> Self {
        self.version_id = Some(v);
        self
    }

    /// Sets metadata.
    pub fn meta(mut self, m: Value) -> Self {
        self.metadata = m;
        self
    }

    /// Records the entry.
    pub fn record(self, conn: &Connection) -> rusqlite::Result<()> {
        record_change(conn, self)
    }
}

/// Appends a change-feed entry.
pub fn record_change(conn: &Connection, c: Change<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO changes (id, tenant_id, share_id, resource_type, resource_id, change_type, \
         changed_by, changed_at, old_path, new_path, version_id, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            new_id("chg"),
            c.tenant_id,
            c.share_id,
            c.resource_type,
            c.resource_id,
            c.change_type,
            c.changed_by,
            now_iso(),
            c.old_path,
            c.new_path,
            c.version_id,
            c.metadata.to_string(),
        ],
    )?;
    Ok(())
}

/// Every folder id in the subtree under `root` (excluding `root`), parents before children.
pub fn descendant_folders(conn: &Connection, root: &str) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut frontier = vec![root.to_string()];
    let mut stmt = conn.prepare("SELECT id FROM folders WHERE parent_id = ?1 ORDER BY name")?;
    while let Some(id) = frontier.pop() {
        let kids: Vec<String> = stmt
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for k in kids {
            out.push(k.clone());
            frontier.push(k);
        }
    }
    Ok(out)
}

/// File ids directly in any of the given folders.
pub fn files_in(conn: &Connection, folders: &[String]) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM files WHERE folder_id = ?1 ORDER BY name")?;
    let mut out = Vec::new();
    for f in folders {
        let ids: Vec<String> = stmt
            .query_map([f], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        out.extend(ids);
    }
    Ok(out)
}

/// Reads a meta value.
pub fn get_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// Writes a meta value.
pub fn set_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_reject_strict_cases() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b", "a\nb", "a\u{7f}"] {
            assert!(validate_name(bad, "name").is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(256), "name").is_err());
        for good in ["a.txt", "é &+-\"", " spaced ", "x".repeat(255).as_str()] {
            assert!(validate_name(good, "name").is_ok(), "{good:?}");
        }
    }
}
