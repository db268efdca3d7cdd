//! `/external/links`: create, list, read, update and revoke external share links.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::emulator::AppState;
use crate::emulator::auth::{Caller, Perm, file_access, folder_access, share_access};
use crate::emulator::db::{self, fmt_time, new_id, now_iso};
use crate::emulator::error::{ApiError, ApiResult};
use crate::emulator::extract::{JsonBody, Qs, check_limit, check_offset, parse_json};

/// Optional link settings stored and echoed as given.
const OPTION_FIELDS: &[&str] = &[
    "max_downloads",
    "max_views",
    "allowed_ips",
    "allowed_emails",
    "require_email",
    "custom_name",
    "custom_message",
    "show_download_button",
    "allow_preview",
    "notify_on_access",
    "notify_on_download",
    "notify_on_upload",
    "notification_email",
    "upload_folder_id",
    "max_file_size",
    "allowed_extensions",
];

/// `POST /external/links` body (typed check of the documented fields).
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // fields are validated by type, then kept from the raw JSON
pub struct CreateLink {
    resource_type: String,
    resource_id: String,
    share_id: String,
    link_type: String,
    password: Option<String>,
    expires_in_days: Option<i64>,
    expires_at: Option<String>,
    max_downloads: Option<i64>,
    max_views: Option<i64>,
    allowed_ips: Option<Vec<String>>,
    allowed_emails: Option<Vec<String>>,
    require_email: Option<bool>,
    custom_name: Option<String>,
    custom_message: Option<String>,
    show_download_button: Option<bool>,
    allow_preview: Option<bool>,
    notify_on_access: Option<bool>,
    notify_on_download: Option<bool>,
    notify_on_upload: Option<bool>,
    notification_email: Option<String>,
    upload_folder_id: Option<String>,
    max_file_size: Option<i64>,
    allowed_extensions: Option<Vec<String>>,
}

fn hash_password(salt: &str, password: &str) -> String {
    hex::encode(Sha256::digest(format!("{salt}{password}").as_bytes()))
}

fn random_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..len)
        .map(|_| {
            let i = usize::try_from(rand::random::<u32>()).unwrap_or(0) % ALPHABET.len();
            char::from(ALPHABET.get(i).copied().unwrap_or(b'a'))
        })
        .collect()
}

/// Resolves `expires_in_days` / `expires_at` to a stored timestamp.
fn expiry(days: Option<i64>, at: Option<&str>) -> ApiResult<Option<String>> {
    if let Some(at) = at {
        let t = chrono::DateTime::parse_from_rfc3339(at)
            .map_err(|_| ApiError::invalid("expires_at", "must be an ISO 8601 timestamp"))?;
        return Ok(Some(fmt_time(t.with_timezone(&chrono::Utc))));
    }
    if let Some(d) = days {
        if !(1..=3650).contains(&d) {
            return Err(ApiError::invalid(
                "expires_in_days",
                "must be between 1 and 3650",
            ));
        }
        return Ok(Some(fmt_time(
            chrono::Utc::now() + chrono::Duration::days(d),
        )));
    }
    Ok(None)
}

struct LinkRow {
    id: String,
    tenant_id: String,
    share_id: String,
    resource_type: String,
    resource_id: String,
    link_type: String,
    token: String,
    short_code: String,
    status: String,
    password_hash: Option<String>,
    expires_at: Option<String>,
    options: Map<String, Value>,
    created_by: String,
    created_at: String,
}

fn load_link(conn: &Connection, id: &str) -> rusqlite::Result<Option<LinkRow>> {
    conn.query_row(
        "SELECT id, tenant_id, share_id, resource_type, resource_id, link_type, token, \
         short_code, status, password_hash, expires_at, options, created_by, created_at \
         FROM links WHERE id = ?1",
        [id],
        link_from_row,
    )
    .optional()
}

fn link_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LinkRow> {
    let options: String = r.get(11)?;
    Ok(LinkRow {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        share_id: r.get(2)?,
        resource_type: r.get(3)?,
        resource_id: r.get(4)?,
        link_type: r.get(5)?,
        token: r.get(6)?,
        short_code: r.get(7)?,
        status: r.get(8)?,
        password_hash: r.get(9)?,
        expires_at: r.get(10)?,
        options: serde_json::from_str(&options).unwrap_or_default(),
        created_by: r.get(12)?,
        created_at: r.get(13)?,
    })
}

fn effective_status(l: &LinkRow) -> String {
    if l.status == "active"
        && let Some(exp) = &l.expires_at
        && chrono::DateTime::parse_from_rfc3339(exp).is_ok_and(|t| t < chrono::Utc::now())
    {
        return "expired".into();
    }
    l.status.clone()
}

fn link_json(st: &AppState, l: &LinkRow) -> Value {
    let mut out = json!({
        "id": l.id, "tenant_id": l.tenant_id, "share_id": l.share_id,
        "resource_type": l.resource_type, "resource_id": l.resource_id,
        "link_type": l.link_type, "token": l.token, "short_code": l.short_code,
        "url": format!("{}/share/{}", st.public_url, l.token),
        "short_url": format!("{}/s/{}", st.public_url, l.short_code),
        "status": effective_status(l), "password_required": l.password_hash.is_some(),
        "download_count": 0, "view_count": 0,
        "created_by": l.created_by, "created_at": l.created_at, "expires_at": l.expires_at,
    });
    if let Some(obj) = out.as_object_mut() {
        for f in OPTION_FIELDS {
            let default = match *f {
                "require_email" | "notify_on_access" | "notify_on_download"
                | "notify_on_upload" => json!(false),
                "show_download_button" | "allow_preview" => json!(true),
                _ => Value::Null,
            };
            obj.insert(
                (*f).to_string(),
                l.options.get(*f).cloned().unwrap_or(default),
            );
        }
    }
    out
}

/// `POST /external/links`.
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let typed: CreateLink = parse_json(&body)?;
    let raw: Map<String, Value> = parse_json(&body)?;
    if !matches!(typed.resource_type.as_str(), "file" | "folder" | "share") {
        return Err(ApiError::invalid(
            "resource_type",
            "must be one of file, folder, share",
        ));
    }
    if !matches!(typed.link_type.as_str(), "VIEW" | "DOWNLOAD" | "UPLOAD") {
        return Err(ApiError::invalid(
            "link_type",
            "must be one of VIEW, DOWNLOAD, UPLOAD",
        ));
    }
    if typed.link_type == "UPLOAD" {
        if typed.resource_type == "file" {
            return Err(ApiError::invalid(
                "link_type",
                "UPLOAD links need a folder target",
            ));
        }
        if typed.upload_folder_id.is_none() {
            return Err(ApiError::missing("upload_folder_id"));
        }
    }
    let expires_at = expiry(typed.expires_in_days, typed.expires_at.as_deref())?;
    let conn = st.db();
    // SHARE on the resource itself (a folder or file ACL entry may grant it below the share).
    let missing = || ApiError::not_found(&typed.resource_type, &typed.resource_id);
    let share = match typed.resource_type.as_str() {
        "file" => {
            let (file, share) = file_access(&conn, &caller, &typed.resource_id, Perm::Share, true)
                .map_err(|e| match e {
                    ApiError::NotFound(_) => missing(),
                    other => other,
                })?;
            if file.is_deleted || share.id != typed.share_id {
                return Err(missing());
            }
            share
        }
        "folder" => {
            let (folder, share) =
                folder_access(&conn, &caller, &typed.resource_id, Perm::Share, true).map_err(
                    |e| match e {
                        ApiError::NotFound(_) => missing(),
                        other => other,
                    },
                )?;
            if folder.is_deleted || share.id != typed.share_id {
                return Err(missing());
            }
            share
        }
        _ => {
            let (share, _) = share_access(&conn, &caller, &typed.share_id, Perm::Share)?;
            if typed.resource_id != share.id {
                return Err(missing());
            }
            share
        }
    };
    if let Some(fid) = &typed.upload_folder_id
        && !db::load_folder(&conn, fid)?.is_some_and(|f| f.share_id == share.id && !f.is_deleted)
    {
        return Err(ApiError::not_found("folder", fid));
    }
    let options: Map<String, Value> = raw
        .into_iter()
        .filter(|(k, v)| OPTION_FIELDS.contains(&k.as_str()) && !v.is_null())
        .collect();
    let (salt, hash) = match &typed.password {
        Some(p) if !p.is_empty() => {
            let salt = random_string(16);
            let hash = hash_password(&salt, p);
            (Some(salt), Some(hash))
        }
        _ => (None, None),
    };
    let id = new_id("lnk");
    conn.execute(
        "INSERT INTO links (id, tenant_id, share_id, resource_type, resource_id, link_type, \
         token, short_code, status, password_salt, password_hash, expires_at, options, \
         created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'active', ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            id,
            share.tenant_id,
            share.id,
            typed.resource_type,
            typed.resource_id,
            typed.link_type,
            random_string(32),
            random_string(8),
            salt,
            hash,
            expires_at,
            Value::Object(options).to_string(),
            caller.user_id,
            now_iso()
        ],
    )?;
    let link = load_link(&conn, &id)?.ok_or_else(|| ApiError::not_found("link", &id))?;
    Ok((StatusCode::CREATED, Json(link_json(&st, &link))))
}

/// Query of `GET /external/links`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    share_id: Option<String>,
    resource_id: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /external/links`: the caller's links (every tenant link for a tenant admin).
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Qs(q): Qs<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = check_limit(q.limit, 50, 100)?;
    let offset = check_offset(q.offset)?;
    let conn = st.db();
    let mut stmt = conn.prepare(
        "SELECT id, tenant_id, share_id, resource_type, resource_id, link_type, token, \
         short_code, status, password_hash, expires_at, options, created_by, created_at \
         FROM links WHERE tenant_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt
        .query_map([&caller.tenant_id], link_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let items: Vec<Value> = rows
        .iter()
        .filter(|l| caller.is_admin || l.created_by == caller.user_id)
        .filter(|l| q.share_id.as_ref().is_none_or(|s| *s == l.share_id))
        .filter(|l| q.resource_id.as_ref().is_none_or(|r| *r == l.resource_id))
        .filter(|l| q.status.as_ref().is_none_or(|s| *s == effective_status(l)))
        .map(|l| link_json(&st, l))
        .collect();
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(50))
        .collect();
    Ok(Json(json!({"links": page, "total": total})))
}

fn visible_link(conn: &Connection, caller: &Caller, id: &str) -> ApiResult<LinkRow> {
    load_link(conn, id)?
        .filter(|l| {
            l.tenant_id == caller.tenant_id && (caller.is_admin || l.created_by == caller.user_id)
        })
        .ok_or_else(|| ApiError::not_found("link", id))
}

/// `GET /external/links/{id}`.
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = st.db();
    let link = visible_link(&conn, &caller, &id)?;
    Ok(Json(link_json(&st, &link)))
}

/// `PATCH /external/links/{id}`: any field but the resource and link type.
pub async fn patch(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    caller.require_write_scope()?;
    for fixed in ["resource_id", "resource_type", "link_type", "share_id"] {
        if body.contains_key(fixed) {
            return Err(ApiError::invalid(fixed, "cannot be changed"));
        }
    }
    let conn = st.db();
    let mut link = visible_link(&conn, &caller, &id)?;
    if link.status == "revoked" {
        return Err(ApiError::Gone(format!("link {id} is revoked")));
    }
    for (k, v) in &body {
        match k.as_str() {
            "password" => match v {
                Value::Null => {
                    conn.execute(
                        "UPDATE links SET password_salt = NULL, password_hash = NULL WHERE id = ?1",
                        [&id],
                    )?;
                }
                Value::String(p) => {
                    let salt = random_string(16);
                    conn.execute(
                        "UPDATE links SET password_salt = ?1, password_hash = ?2 WHERE id = ?3",
                        params![salt, hash_password(&salt, p), id],
                    )?;
                }
                _ => return Err(ApiError::invalid("password", "must be a string or null")),
            },
            "expires_at" | "expires_in_days" => {
                let exp = match (k.as_str(), v) {
                    (_, Value::Null) => None,
                    ("expires_at", Value::String(s)) => expiry(None, Some(s))?,
                    ("expires_in_days", Value::Number(n)) => expiry(n.as_i64(), None)?,
                    _ => return Err(ApiError::invalid(k, "invalid value")),
                };
                conn.execute(
                    "UPDATE links SET expires_at = ?1 WHERE id = ?2",
                    params![exp, id],
                )?;
            }
            "status" => match v.as_str() {
                Some(s @ ("active" | "disabled")) => {
                    conn.execute("UPDATE links SET status = ?1 WHERE id = ?2", params![s, id])?;
                }
                _ => return Err(ApiError::invalid("status", "must be active or disabled")),
            },
            key if OPTION_FIELDS.contains(&key) => {
                if v.is_null() {
                    link.options.remove(key);
                } else {
                    link.options.insert(key.to_string(), v.clone());
                }
            }
            other => return Err(ApiError::invalid(other, "unknown field")),
        }
    }
    conn.execute(
        "UPDATE links SET options = ?1 WHERE id = ?2",
        params![Value::Object(link.options).to_string(), id],
    )?;
    let link = visible_link(&conn, &caller, &id)?;
    Ok(Json(link_json(&st, &link)))
}

/// `DELETE /external/links/{id}`: permanent revocation.
pub async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_write_scope()?;
    let conn = st.db();
    visible_link(&conn, &caller, &id)?;
    conn.execute("UPDATE links SET status = 'revoked' WHERE id = ?1", [&id])?;
    Ok(StatusCode::NO_CONTENT)
}
