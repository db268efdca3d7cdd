//! `state migrate`: copies every row of a SQLite state database into a PostgreSQL one, in one
//! PostgreSQL transaction, so a single instance's state moves over whole or not at all.

use std::fmt;

use tokio_postgres::types::ToSql;

use super::{Backend, StateDb, StateError};

/// The kind of a column, as both dialects store it.
#[derive(Clone, Copy)]
enum Kind {
    /// TEXT (nullable or not).
    Text,
    /// SQLite INTEGER ↔ PostgreSQL BIGINT.
    Big,
    /// SQLite INTEGER ↔ PostgreSQL INTEGER.
    Int,
}

/// The tables, in an order that satisfies the foreign keys, with every column.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "credentials",
        &[
            ("access_key_id", Kind::Text),
            ("secret_access_key", Kind::Text),
            ("token", Kind::Text),
            ("label", Kind::Text),
            ("user_id", Kind::Text),
            ("created_at", Kind::Text),
            ("last_used_at", Kind::Text),
        ],
    ),
    (
        "sts_sessions",
        &[
            ("access_key_id", Kind::Text),
            ("secret_access_key", Kind::Text),
            ("session_token", Kind::Text),
            ("token", Kind::Text),
            ("user_id", Kind::Text),
            ("source", Kind::Text),
            ("session_name", Kind::Text),
            ("created_at", Kind::Text),
            ("expires_at", Kind::Text),
        ],
    ),
    (
        "public_links",
        &[
            ("link_id", Kind::Text),
            ("bucket", Kind::Text),
            ("key", Kind::Text),
            ("object", Kind::Big),
            ("list", Kind::Big),
            ("read", Kind::Big),
            ("share_id", Kind::Text),
            ("resource_type", Kind::Text),
            ("resource_id", Kind::Text),
            ("access_key_id", Kind::Text),
            ("principal", Kind::Text),
            ("created_at", Kind::Text),
        ],
    ),
    (
        "object_attrs",
        &[
            ("file_id", Kind::Text),
            ("size", Kind::Big),
            ("modified_at", Kind::Text),
            ("version_id", Kind::Text),
            ("sha256", Kind::Text),
            ("etag", Kind::Text),
            ("content_type", Kind::Text),
            ("headers", Kind::Text),
            ("user_meta", Kind::Text),
            ("checksums", Kind::Text),
            ("client_mtime", Kind::Text),
            ("dead_props", Kind::Text),
            ("updated_at", Kind::Text),
        ],
    ),
    (
        "multipart_uploads",
        &[
            ("upload_id", Kind::Text),
            ("access_key_id", Kind::Text),
            ("principal", Kind::Text),
            ("bucket", Kind::Text),
            ("key", Kind::Text),
            ("created_at", Kind::Text),
            ("attrs", Kind::Text),
        ],
    ),
    (
        "multipart_parts",
        &[
            ("upload_id", Kind::Text),
            ("part_number", Kind::Int),
            ("size", Kind::Big),
            ("etag", Kind::Text),
            ("checksums", Kind::Text),
            ("spool_path", Kind::Text),
            ("created_at", Kind::Text),
            ("file_id", Kind::Text),
        ],
    ),
    (
        "multipart_completed",
        &[
            ("upload_id", Kind::Text),
            ("principal", Kind::Text),
            ("bucket", Kind::Text),
            ("key", Kind::Text),
            ("etag", Kind::Text),
            ("version_id", Kind::Text),
            ("parts_digest", Kind::Text),
            ("result", Kind::Text),
            ("completed_at", Kind::Text),
        ],
    ),
    (
        "webdav_locks",
        &[
            ("token", Kind::Text),
            ("path", Kind::Text),
            ("principal", Kind::Text),
            ("owner", Kind::Text),
            ("depth", Kind::Text),
            ("scope", Kind::Text),
            ("timeout_at", Kind::Text),
        ],
    ),
    (
        "webdav_uploads",
        &[
            ("principal", Kind::Text),
            ("upload", Kind::Text),
            ("destination", Kind::Text),
            ("total_length", Kind::Big),
            ("session_id", Kind::Text),
            ("chunk_size", Kind::Big),
            ("replace_file_id", Kind::Text),
            ("created_at", Kind::Text),
            ("updated_at", Kind::Text),
        ],
    ),
    (
        "bucket_policies",
        &[
            ("resource_id", Kind::Text),
            ("share_id", Kind::Text),
            ("policy", Kind::Text),
            ("updated_by", Kind::Text),
            ("updated_at", Kind::Text),
        ],
    ),
    (
        "webdav_upload_chunks",
        &[
            ("principal", Kind::Text),
            ("upload", Kind::Text),
            ("name", Kind::Text),
            ("byte_offset", Kind::Big),
            ("size", Kind::Big),
            ("created_at", Kind::Text),
            ("staged", Kind::Text),
        ],
    ),
    (
        "delete_intents",
        &[
            ("resource_id", Kind::Text),
            ("kind", Kind::Text),
            ("share_id", Kind::Text),
            ("name", Kind::Text),
            ("trash_name", Kind::Text),
            ("token", Kind::Text),
            ("created_at", Kind::Text),
        ],
    ),
    (
        "bucket_configs",
        &[
            ("scope", Kind::Text),
            ("bucket", Kind::Text),
            ("kind", Kind::Text),
            ("document", Kind::Text),
            ("access_key_id", Kind::Text),
            ("principal", Kind::Text),
            ("updated_at", Kind::Text),
        ],
    ),
];

/// One value read from SQLite, ready to bind on PostgreSQL.
enum Value {
    Text(Option<String>),
    Big(Option<i64>),
    Int(Option<i32>),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Text(v) => v,
            Self::Big(v) => v,
            Self::Int(v) => v,
        }
    }
}

/// Rows copied per table (and rows skipped because the target had their key already).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferCounts {
    /// `(table, copied, skipped)` in copy order.
    pub tables: Vec<(&'static str, u64, u64)>,
}

impl fmt::Display for TransferCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (table, copied, skipped) in &self.tables {
            write!(f, "{table}: {copied} copied")?;
            if *skipped > 0 {
                write!(f, ", {skipped} already there (kept)")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Copies every row of `from` (SQLite) into `to` (PostgreSQL) in one transaction. A target that
/// holds any row is refused unless `force`; then rows whose key exists already are kept as they
/// are and counted as skipped.
pub async fn copy_state(
    from: &StateDb,
    to: &StateDb,
    force: bool,
) -> Result<TransferCounts, StateError> {
    let Backend::Sqlite(source) = &from.backend else {
        return Err(StateError::Config(
            "state migrate copies from a SQLite database (--from sqlite://PATH)".to_owned(),
        ));
    };
    let Backend::Postgres(target) = &to.backend else {
        return Err(StateError::Config(
            "state migrate copies into a PostgreSQL database (--to postgres://…)".to_owned(),
        ));
    };
    // Read everything first (the source is a local file; the state of one instance fits in
    // memory), then write in one transaction.
    let tables: Vec<Vec<Vec<Value>>> = source
        .call(|conn| {
            let mut out = Vec::new();
            for (table, columns) in TABLES {
                let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
                let mut stmt = conn.prepare(&format!(
                    "SELECT {} FROM {table} ORDER BY rowid",
                    names.join(", ")
                ))?;
                let mut rows = stmt.query([])?;
                let mut values = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut one = Vec::with_capacity(columns.len());
                    for (i, (_, kind)) in columns.iter().enumerate() {
                        one.push(match kind {
                            Kind::Text => Value::Text(row.get(i)?),
                            Kind::Big => Value::Big(row.get(i)?),
                            Kind::Int => Value::Int(row.get(i)?),
                        });
                    }
                    values.push(one);
                }
                out.push(values);
            }
            Ok(out)
        })
        .await?;

    let mut conn = target.conn().await?;
    let tx = conn.transaction().await?;
    let mut present = Vec::new();
    for (table, _) in TABLES {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await?
            .get(0);
        if n > 0 {
            present.push(format!("{table}: {n}"));
        }
    }
    if !present.is_empty() && !force {
        return Err(StateError::TargetNotEmpty(present.join(", ")));
    }
    let mut counts = TransferCounts::default();
    for ((table, columns), rows) in TABLES.iter().zip(tables) {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                names.join(", "),
                marks.join(", ")
            ))
            .await?;
        let (mut copied, mut skipped) = (0, 0);
        for row in &rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Value::as_sql).collect();
            match tx.execute(&stmt, &params).await? {
                0 => skipped += 1,
                _ => copied += 1,
            }
        }
        counts.tables.push((table, copied, skipped));
    }
    tx.commit().await?;
    Ok(counts)
}
