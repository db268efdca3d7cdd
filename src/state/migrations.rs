//! Ordered schema migrations, one list for both backends (per-dialect SQL), and the SQLite
//! runner, which tracks the version with `PRAGMA user_version` (PostgreSQL's runner is in
//! [`super::pg::migrate`]).
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`. Each runs in its own
//! transaction together with the version bump, so a crash leaves the database at a whole
//! version. Append new migrations; never edit one that has shipped.
//!
//! PostgreSQL keeps timestamps as RFC 3339 text like SQLite, in `COLLATE "C"` columns: every
//! writer stores UTC with one fixed format per column, so byte order is time order, and the
//! comparisons the queries make (`uploads_created_before`, lock expiry) and every `ORDER BY`
//! give the same answers on both backends whatever the database's default collation.

use rusqlite::Connection;

use super::StateError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// One schema step in each dialect.
pub(super) struct Migration {
    /// SQLite text (shipped; never edited).
    pub sqlite: &'static str,
    /// PostgreSQL text: the same tables, columns and indexes.
    pub postgres: &'static str,
}

pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: credentials (S3 access key → ScaiDrive token).
    Migration {
        sqlite: r#"
    CREATE TABLE credentials (
        access_key_id     TEXT PRIMARY KEY NOT NULL,
        secret_access_key TEXT NOT NULL,
        token             TEXT NOT NULL,
        label             TEXT,
        user_id           TEXT NOT NULL,
        created_at        TEXT NOT NULL          -- RFC 3339 UTC
    ) STRICT;
    "#,
        postgres: r#"
    CREATE TABLE credentials (
        access_key_id     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        secret_access_key TEXT NOT NULL,
        token             TEXT NOT NULL,
        label             TEXT,
        user_id           TEXT NOT NULL,
        created_at        TEXT COLLATE "C" NOT NULL  -- RFC 3339 UTC, seconds
    );
    "#,
    },
    // 2: tables for object attributes, S3 multipart uploads and WebDAV locks.
    Migration {
        sqlite: r#"
    CREATE TABLE object_attrs (
        file_id      TEXT PRIMARY KEY NOT NULL,  -- ScaiDrive fil_…
        size         INTEGER NOT NULL,           -- validates the entry with modified_at
        modified_at  TEXT,                       -- upstream modified_at the entry was made for;
                                                 -- NULL until first seen in a listing
        version_id   TEXT,                       -- upstream ver_… written through the gateway
        sha256       TEXT,                       -- upstream checksum_sha256 of that version
        etag         TEXT NOT NULL,
        content_type TEXT,
        headers      TEXT NOT NULL DEFAULT '{}', -- JSON: Cache-Control, Content-Disposition, …
        user_meta    TEXT NOT NULL DEFAULT '{}', -- JSON: x-amz-meta-*
        checksums    TEXT NOT NULL DEFAULT '{}', -- JSON: algorithm → value
        client_mtime TEXT,                       -- RFC 3339, from the client
        dead_props   TEXT NOT NULL DEFAULT '{}', -- JSON: WebDAV dead properties
        updated_at   TEXT NOT NULL
    ) STRICT;

    CREATE TABLE multipart_uploads (
        upload_id     TEXT PRIMARY KEY NOT NULL,
        access_key_id TEXT NOT NULL,
        principal     TEXT NOT NULL,             -- ScaiDrive user id
        bucket        TEXT NOT NULL,
        key           TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        attrs         TEXT NOT NULL DEFAULT '{}' -- JSON: content type, metadata, checksum algorithm
    ) STRICT;
    CREATE INDEX multipart_uploads_by_key ON multipart_uploads (principal, bucket, key);
    CREATE INDEX multipart_uploads_by_age ON multipart_uploads (created_at);

    CREATE TABLE multipart_parts (
        upload_id   TEXT NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
        part_number INTEGER NOT NULL,
        size        INTEGER NOT NULL,
        etag        TEXT NOT NULL,
        checksums   TEXT NOT NULL DEFAULT '{}',
        spool_path  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (upload_id, part_number)
    ) STRICT;

    CREATE TABLE webdav_locks (
        token      TEXT PRIMARY KEY NOT NULL,    -- opaquelocktoken:…
        path       TEXT NOT NULL,
        principal  TEXT NOT NULL,
        owner      TEXT,                         -- the client's <D:owner> XML, verbatim
        depth      TEXT NOT NULL CHECK (depth IN ('0', 'infinity')),
        scope      TEXT NOT NULL CHECK (scope IN ('shared', 'exclusive')),
        timeout_at TEXT                          -- RFC 3339; NULL = infinite
    ) STRICT;
    CREATE INDEX webdav_locks_by_path ON webdav_locks (path);
    "#,
        postgres: r#"
    CREATE TABLE object_attrs (
        file_id      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        size         BIGINT NOT NULL,
        modified_at  TEXT,
        version_id   TEXT,
        sha256       TEXT,
        etag         TEXT NOT NULL,
        content_type TEXT,
        headers      TEXT NOT NULL DEFAULT '{}',
        user_meta    TEXT NOT NULL DEFAULT '{}',
        checksums    TEXT NOT NULL DEFAULT '{}',
        client_mtime TEXT,
        dead_props   TEXT NOT NULL DEFAULT '{}',
        updated_at   TEXT NOT NULL
    );

    CREATE TABLE multipart_uploads (
        upload_id     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        access_key_id TEXT NOT NULL,
        principal     TEXT COLLATE "C" NOT NULL,
        bucket        TEXT COLLATE "C" NOT NULL,
        key           TEXT COLLATE "C" NOT NULL,
        created_at    TEXT COLLATE "C" NOT NULL,   -- RFC 3339 UTC
        attrs         TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX multipart_uploads_by_key ON multipart_uploads (principal, bucket, key);
    CREATE INDEX multipart_uploads_by_age ON multipart_uploads (created_at);

    CREATE TABLE multipart_parts (
        upload_id   TEXT COLLATE "C" NOT NULL
                    REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
        part_number INTEGER NOT NULL,
        size        BIGINT NOT NULL,
        etag        TEXT NOT NULL,
        checksums   TEXT NOT NULL DEFAULT '{}',
        spool_path  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (upload_id, part_number)
    );

    CREATE TABLE webdav_locks (
        token      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        path       TEXT COLLATE "C" NOT NULL,     -- "C": LIKE 'prefix/%' uses the index
        principal  TEXT NOT NULL,
        owner      TEXT,
        depth      TEXT NOT NULL CHECK (depth IN ('0', 'infinity')),
        scope      TEXT NOT NULL CHECK (scope IN ('shared', 'exclusive')),
        timeout_at TEXT COLLATE "C"               -- RFC 3339 UTC, milliseconds; NULL = infinite
    );
    CREATE INDEX webdav_locks_by_path ON webdav_locks (path);
    CREATE INDEX webdav_locks_by_timeout ON webdav_locks (timeout_at);
    "#,
    },
    // 3: deletes in progress (the item renamed to its trash name, not yet in the trash), so a
    // crash in between is finished by the sweep at the next start.
    Migration {
        sqlite: r#"
    CREATE TABLE delete_intents (
        resource_id TEXT PRIMARY KEY NOT NULL,   -- ScaiDrive fil_… / fld_…
        kind        TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
        share_id    TEXT NOT NULL,
        name        TEXT NOT NULL,               -- the name before the delete
        trash_name  TEXT NOT NULL,               -- the name given just before the trash call
        token       TEXT NOT NULL,               -- the deleting user's ScaiDrive token
        created_at  TEXT NOT NULL                -- RFC 3339 UTC, milliseconds
    ) STRICT;
    "#,
        postgres: r#"
    CREATE TABLE delete_intents (
        resource_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
        share_id    TEXT NOT NULL,
        name        TEXT NOT NULL,
        trash_name  TEXT NOT NULL,
        token       TEXT NOT NULL,
        created_at  TEXT COLLATE "C" NOT NULL      -- RFC 3339 UTC, milliseconds
    );
    "#,
    },
    // 4 (share generations): per share, a counter every gateway write bumps, so that other
    // instances know when their cached listings and attributes of the share are stale. The
    // empty share id counts changes to the share list itself.
    Migration {
        sqlite: r#"
    CREATE TABLE share_generations (
        share_id   TEXT PRIMARY KEY NOT NULL,
        generation INTEGER NOT NULL
    ) STRICT;
    "#,
        postgres: r#"
    CREATE TABLE share_generations (
        share_id   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        generation BIGINT NOT NULL
    );
    "#,
    },
    // 5: multipart parts staged as ScaiDrive files (any instance can reach them), and
    // completed uploads kept a while so a retried Complete gets the first answer.
    Migration {
        sqlite: r#"
    ALTER TABLE multipart_parts ADD COLUMN file_id TEXT;  -- staging file fil_…; NULL = spool_path

    CREATE TABLE multipart_completed (
        upload_id    TEXT PRIMARY KEY NOT NULL,
        principal    TEXT NOT NULL,
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        etag         TEXT NOT NULL,              -- unquoted, `md5-of-md5s-N`
        version_id   TEXT,
        parts_digest TEXT NOT NULL,              -- SHA-256 of the part list the object was made of
        result       TEXT NOT NULL DEFAULT '{}', -- JSON owned by the front end (checksums)
        completed_at TEXT NOT NULL               -- RFC 3339 UTC, milliseconds
    ) STRICT;
    CREATE INDEX multipart_completed_by_age ON multipart_completed (completed_at);
    "#,
        postgres: r#"
    ALTER TABLE multipart_parts ADD COLUMN file_id TEXT;

    CREATE TABLE multipart_completed (
        upload_id    TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        principal    TEXT COLLATE "C" NOT NULL,
        bucket       TEXT COLLATE "C" NOT NULL,
        key          TEXT COLLATE "C" NOT NULL,
        etag         TEXT NOT NULL,
        version_id   TEXT,
        parts_digest TEXT NOT NULL,
        result       TEXT NOT NULL DEFAULT '{}',
        completed_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX multipart_completed_by_age ON multipart_completed (completed_at);
    "#,
    },
    // 6: what each generation of a share changed (several instances): an instance that sees a
    // newer generation applies these to its cache instead of dropping it. Only the latest
    // records of each share are kept; an instance further behind drops its cache of the share.
    Migration {
        sqlite: r#"
    CREATE TABLE share_changes (
        share_id   TEXT NOT NULL,
        generation INTEGER NOT NULL,
        change     TEXT NOT NULL,  -- JSON owned by the store
        PRIMARY KEY (share_id, generation)
    ) STRICT;
    "#,
        postgres: r#"
    CREATE TABLE share_changes (
        share_id   TEXT COLLATE "C" NOT NULL,
        generation BIGINT NOT NULL,
        change     TEXT NOT NULL,
        PRIMARY KEY (share_id, generation)
    );
    "#,
    },
    // 7: temporary credentials (STS), and when each long-lived key was last used.
    Migration {
        sqlite: r#"
    ALTER TABLE credentials ADD COLUMN last_used_at TEXT;  -- RFC 3339 UTC, seconds; NULL = never

    CREATE TABLE sts_sessions (
        access_key_id     TEXT PRIMARY KEY NOT NULL,  -- ASIA…
        secret_access_key TEXT NOT NULL,
        session_token     TEXT NOT NULL,              -- SHA-256 (hex) of the session token
        token             TEXT NOT NULL,              -- the ScaiDrive token requests go with
        user_id           TEXT NOT NULL,
        source            TEXT NOT NULL,              -- `web-identity` or the parent access key id
        session_name      TEXT NOT NULL,
        created_at        TEXT NOT NULL,              -- RFC 3339 UTC, seconds
        expires_at        TEXT NOT NULL               -- RFC 3339 UTC, seconds
    ) STRICT;
    CREATE INDEX sts_sessions_by_expiry ON sts_sessions (expires_at);
    "#,
        postgres: r#"
    ALTER TABLE credentials ADD COLUMN last_used_at TEXT COLLATE "C";

    CREATE TABLE sts_sessions (
        access_key_id     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        secret_access_key TEXT NOT NULL,
        session_token     TEXT NOT NULL,
        token             TEXT NOT NULL,
        user_id           TEXT COLLATE "C" NOT NULL,
        source            TEXT NOT NULL,
        session_name      TEXT NOT NULL,
        created_at        TEXT COLLATE "C" NOT NULL,
        expires_at        TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX sts_sessions_by_expiry ON sts_sessions (expires_at);
    "#,
    },
    // 8: per-bucket configuration documents the gateway keeps and applies itself (lifecycle,
    // tagging, CORS), with the access key that put each (the lifecycle worker acts with it).
    Migration {
        sqlite: r#"
    CREATE TABLE bucket_configs (
        scope         TEXT NOT NULL,             -- share id, or `share id/folder` (folders mode)
        bucket        TEXT NOT NULL,             -- the bucket's name as its putter named it
        kind          TEXT NOT NULL,             -- `lifecycle`, `tagging`, `cors`
        document      TEXT NOT NULL,             -- the S3 XML document as stored
        access_key_id TEXT NOT NULL,             -- the key that put it
        principal     TEXT NOT NULL,             -- its ScaiDrive user id
        updated_at    TEXT NOT NULL,             -- RFC 3339 UTC, milliseconds
        PRIMARY KEY (scope, kind)
    ) STRICT;
    CREATE INDEX bucket_configs_by_kind ON bucket_configs (kind);
    CREATE INDEX bucket_configs_by_bucket ON bucket_configs (bucket, kind);
    "#,
        postgres: r#"
    CREATE TABLE bucket_configs (
        scope         TEXT COLLATE "C" NOT NULL,
        bucket        TEXT COLLATE "C" NOT NULL,
        kind          TEXT COLLATE "C" NOT NULL,
        document      TEXT NOT NULL,
        access_key_id TEXT NOT NULL,
        principal     TEXT NOT NULL,
        updated_at    TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (scope, kind)
    );
    CREATE INDEX bucket_configs_by_kind ON bucket_configs (kind);
    CREATE INDEX bucket_configs_by_bucket ON bucket_configs (bucket, kind);
    "#,
    },
    // 9: ScaiDrive external links the gateway made for public (anonymous) access.
    Migration {
        sqlite: r#"
    CREATE TABLE public_links (
        link_id       TEXT PRIMARY KEY NOT NULL,  -- lnk_… (ScaiDrive's id)
        bucket        TEXT NOT NULL,              -- the bucket name as its creator addressed it
        key           TEXT NOT NULL,              -- object key, or key prefix ('' = whole bucket)
        object        INTEGER NOT NULL,           -- 1: one object's link (key is its key)
        list          INTEGER NOT NULL,           -- 1: anonymous listing of the bucket under key
        read          INTEGER NOT NULL,           -- 1: anonymous GET/HEAD of objects under key
        share_id      TEXT NOT NULL,
        resource_type TEXT NOT NULL,              -- file, folder or share
        resource_id   TEXT NOT NULL,
        access_key_id TEXT NOT NULL,              -- the credential anonymous requests act for
        principal     TEXT NOT NULL,              -- its ScaiDrive user
        created_at    TEXT NOT NULL               -- RFC 3339 UTC, seconds
    ) STRICT;
    CREATE INDEX public_links_by_bucket ON public_links (bucket, key);
    "#,
        postgres: r#"
    CREATE TABLE public_links (
        link_id       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        bucket        TEXT COLLATE "C" NOT NULL,
        key           TEXT COLLATE "C" NOT NULL,
        object        BIGINT NOT NULL,
        list          BIGINT NOT NULL,
        read          BIGINT NOT NULL,
        share_id      TEXT COLLATE "C" NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id   TEXT COLLATE "C" NOT NULL,
        access_key_id TEXT COLLATE "C" NOT NULL,
        principal     TEXT COLLATE "C" NOT NULL,
        created_at    TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX public_links_by_bucket ON public_links (bucket, key);
    "#,
    },
    // 10: Nextcloud chunked uploads over WebDAV (upload collection → ScaiDrive upload session)
    // and the chunks each has received.
    Migration {
        sqlite: r#"
    CREATE TABLE webdav_uploads (
        principal       TEXT NOT NULL,          -- ScaiDrive user id
        upload          TEXT NOT NULL,          -- the upload collection's name
        destination     TEXT,                   -- target path below the WebDAV root, '/'-joined
        total_length    INTEGER,                -- OC-Total-Length, once known
        session_id      TEXT,                   -- the ScaiDrive upload session, once created
        chunk_size      INTEGER NOT NULL,       -- upstream chunk size (power of two)
        replace_file_id TEXT,                   -- the file the session makes a new version of
        created_at      TEXT NOT NULL,          -- RFC 3339 UTC, milliseconds
        updated_at      TEXT NOT NULL,          -- RFC 3339 UTC, milliseconds
        PRIMARY KEY (principal, upload)
    ) STRICT;
    CREATE INDEX webdav_uploads_by_update ON webdav_uploads (updated_at);
    CREATE TABLE webdav_upload_chunks (
        principal   TEXT NOT NULL,
        upload      TEXT NOT NULL,
        name        TEXT NOT NULL,              -- the chunk's name in the upload collection
        byte_offset INTEGER,                    -- where it starts in the file; NULL: not known yet
        size        INTEGER NOT NULL,
        created_at  TEXT NOT NULL,              -- RFC 3339 UTC, milliseconds
        PRIMARY KEY (principal, upload, name),
        FOREIGN KEY (principal, upload) REFERENCES webdav_uploads (principal, upload)
            ON DELETE CASCADE
    ) STRICT;
    "#,
        postgres: r#"
    CREATE TABLE webdav_uploads (
        principal       TEXT COLLATE "C" NOT NULL,
        upload          TEXT COLLATE "C" NOT NULL,
        destination     TEXT,
        total_length    BIGINT,
        session_id      TEXT,
        chunk_size      BIGINT NOT NULL,
        replace_file_id TEXT,
        created_at      TEXT COLLATE "C" NOT NULL,
        updated_at      TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (principal, upload)
    );
    CREATE INDEX webdav_uploads_by_update ON webdav_uploads (updated_at);
    CREATE TABLE webdav_upload_chunks (
        principal   TEXT COLLATE "C" NOT NULL,
        upload      TEXT COLLATE "C" NOT NULL,
        name        TEXT COLLATE "C" NOT NULL,
        byte_offset BIGINT,
        size        BIGINT NOT NULL,
        created_at  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (principal, upload, name),
        FOREIGN KEY (principal, upload) REFERENCES webdav_uploads (principal, upload)
            ON DELETE CASCADE
    );
    "#,
    },
    // 11: bucket policies (PutBucketPolicy), keyed by the share or folder that is the bucket.
    Migration {
        sqlite: r#"
    CREATE TABLE bucket_policies (
        resource_id TEXT PRIMARY KEY NOT NULL,  -- ScaiDrive share id (share mode) or folder id
        share_id    TEXT NOT NULL,
        policy      TEXT NOT NULL,              -- the JSON document as the client sent it
        updated_by  TEXT NOT NULL,              -- ScaiDrive user id
        updated_at  TEXT NOT NULL               -- RFC 3339 UTC, seconds
    ) STRICT;
    "#,
        postgres: r#"
    CREATE TABLE bucket_policies (
        resource_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        share_id    TEXT COLLATE "C" NOT NULL,
        policy      TEXT NOT NULL,
        updated_by  TEXT NOT NULL,
        updated_at  TEXT COLLATE "C" NOT NULL
    );
    "#,
    },
    // 12: where a WebDAV chunk's held pieces live when they are kept in ScaiDrive (several
    // instances): a JSON list of hidden staging files; NULL: local disk or nothing held.
    Migration {
        sqlite: r#"
    ALTER TABLE webdav_upload_chunks ADD COLUMN staged TEXT;
    "#,
        postgres: r#"
    ALTER TABLE webdav_upload_chunks ADD COLUMN staged TEXT;
    "#,
    },
];

/// Reads `PRAGMA user_version`.
pub(super) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Brings the schema up to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StateError> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Brings the schema up to `target` (tests stop part way to check upgrades).
fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), StateError> {
    let found = user_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let to = index as i64 + 1;
        if to <= found || to > target {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(migration.sqlite)?;
        tx.pragma_update(None, "user_version", to)?;
        tx.commit()?;
        tracing::info!(version = to, "state database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn migrations_apply_in_order_from_an_older_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert_eq!(tables(&conn), vec!["credentials"]);
        conn.execute(
            "INSERT INTO credentials VALUES ('AKIA1', 's', 't', NULL, 'usr_1', '2024-01-01T00:00:00Z')",
            [],
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(
            tables(&conn),
            vec![
                "bucket_configs",
                "bucket_policies",
                "credentials",
                "delete_intents",
                "multipart_completed",
                "multipart_parts",
                "multipart_uploads",
                "object_attrs",
                "public_links",
                "share_changes",
                "share_generations",
                "sts_sessions",
                "webdav_locks",
                "webdav_upload_chunks",
                "webdav_uploads"
            ]
        );
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM credentials", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        // Occupy a name migration 2 creates, so it fails half way.
        conn.execute_batch("CREATE TABLE webdav_locks (x INTEGER)")
            .unwrap();
        assert!(migrate(&mut conn).is_err());
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert!(!tables(&conn).contains(&"object_attrs".to_owned()));
    }
}
