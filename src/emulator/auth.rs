//! Bearer-token authentication, share roles, and the access checks every handler uses.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rusqlite::{Connection, OptionalExtension};

use super::AppState;
use super::db::{self, FileRow, FolderRow, ShareRow};
use super::error::{ApiError, ApiResult};

/// The authenticated caller.
#[derive(Clone)]
pub struct Caller {
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
    pub name: String,
    pub display_name: String,
    pub is_admin: bool,
    pub groups: Vec<String>,
    /// Token scopes; `None` = no application scope (treated as tenant admin scope).
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("user_id", &self.user_id)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// 403 unless the token's scopes allow writes.
    pub fn require_write_scope(&self) -> ApiResult<()> {
        let ok = match &self.scopes {
            None => true,
            Some(s) => s.iter().any(|s| s == "files:write" || s.contains("admin")),
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "Insufficient scope: files:write required".into(),
            ))
        }
    }

    /// The caller and its groups, as share-member principals.
    fn principals(&self) -> Vec<&str> {
        let mut p = vec![self.user_id.as_str()];
        p.extend(self.groups.iter().map(String::as_str));
        p
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized("Not authenticated".into()))?;
        let token = match value.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => {
                return Err(ApiError::Unauthorized(
                    "Invalid authentication scheme; use Bearer".into(),
                ));
            }
        };
        let conn = st.db();
        load_caller(&conn, token)
    }
}

fn load_caller(conn: &Connection, token: &str) -> ApiResult<Caller> {
    let row: Option<(String, Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT user_id, scopes, expires_at FROM tokens WHERE token = ?1",
            [token],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((user_id, scopes, expires_at)) = row else {
        return Err(ApiError::Unauthorized("Invalid token".into()));
    };
    if let Some(exp) = expires_at {
        let expired = chrono::DateTime::parse_from_rfc3339(&exp)
            .map(|t| t < chrono::Utc::now())
            .unwrap_or(true);
        if expired {
            return Err(ApiError::Unauthorized("Token expired".into()));
        }
    }
    let scopes = scopes.map(|s| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default());
    let user = conn
        .query_row(
            "SELECT tenant_id, email, name, display_name, is_admin FROM users WHERE id = ?1",
            [&user_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((tenant_id, email, name, display_name, is_admin)) = user else {
        return Err(ApiError::Unauthorized("Invalid token".into()));
    };
    let mut stmt =
        conn.prepare("SELECT group_id FROM group_members WHERE user_id = ?1 ORDER BY group_id")?;
    let groups = stmt
        .query_map([&user_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Caller {
        user_id,
        tenant_id,
        email,
        name,
        display_name,
        is_admin,
        groups,
        scopes,
    })
}

/// Share roles, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Reader,
    Contributor,
    Admin,
    Owner,
}

impl Role {
    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reader" => Some(Self::Reader),
            "contributor" => Some(Self::Contributor),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Contributor => "contributor",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// Any role.
    Read,
    /// contributor, admin, owner (+ write scope).
    Write,
    /// admin, owner (external links, share settings).
    Manage,
    /// owner only (share delete).
    Owner,
}

/// The caller's highest direct or group membership role on a share.
pub fn member_role(conn: &Connection, caller: &Caller, share_id: &str) -> ApiResult<Option<Role>> {
    let mut stmt =
        conn.prepare("SELECT principal_id, role FROM share_members WHERE share_id = ?1")?;
    let principals = caller.principals();
    let mut best = None;
    let rows = stmt.query_map([share_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (principal, role) = row?;
        if principals.contains(&principal.as_str())
            && let Some(role) = Role::parse(&role)
        {
            best = best.max(Some(role));
        }
    }
    Ok(best)
}

/// Loads a live, visible share and the caller's effective role; 404 otherwise.
pub fn share_role(
    conn: &Connection,
    caller: &Caller,
    share_id: &str,
) -> ApiResult<(ShareRow, Role)> {
    let share = db::load_share(conn, share_id)?
        .filter(|s| s.tenant_id == caller.tenant_id && !s.is_deleted)
        .ok_or_else(|| ApiError::not_found("share", share_id))?;
    let role = if caller.is_admin {
        Some(Role::Owner)
    } else {
        member_role(conn, caller, share_id)?
    };
    let role = role.ok_or_else(|| ApiError::not_found("share", share_id))?;
    Ok((share, role))
}

/// 403 unless `role` (and the token scope) allow `perm`.
pub fn require(caller: &Caller, role: Role, perm: Perm, what: &str) -> ApiResult<()> {
    let ok = match perm {
        Perm::Read => true,
        Perm::Write => role >= Role::Contributor,
        Perm::Manage => role >= Role::Admin,
        Perm::Owner => role == Role::Owner,
    };
    if !ok {
        let name = match perm {
            Perm::Read => "READ",
            Perm::Write => "WRITE",
            Perm::Manage => "MANAGE_PERMISSIONS",
            Perm::Owner => "OWNER",
        };
        return Err(ApiError::Forbidden(format!(
            "Permission denied: {name} on {what}"
        )));
    }
    if perm != Perm::Read {
        caller.require_write_scope()?;
    }
    Ok(())
}

/// Shares checks: visible share with `perm`.
pub fn share_access(
    conn: &Connection,
    caller: &Caller,
    share_id: &str,
    perm: Perm,
) -> ApiResult<(ShareRow, Role)> {
    let (share, role) = share_role(conn, caller, share_id)?;
    require(caller, role, perm, &format!("share/{share_id}"))?;
    Ok((share, role))
}

/// Loads a file the caller may act on: 404 invisible, 410 trashed (unless `allow_deleted`),
/// 403 without `perm`.
pub fn file_access(
    conn: &Connection,
    caller: &Caller,
    file_id: &str,
    perm: Perm,
    allow_deleted: bool,
) -> ApiResult<(FileRow, ShareRow)> {
    let file = db::load_file(conn, file_id)?.ok_or_else(|| ApiError::not_found("file", file_id))?;
    let (share, role) = share_role(conn, caller, &file.share_id)
        .map_err(|_| ApiError::not_found("file", file_id))?;
    if file.is_deleted && !allow_deleted {
        return Err(ApiError::Gone(format!("file {file_id} is deleted")));
    }
    require(caller, role, perm, &format!("file/{file_id}"))?;
    Ok((file, share))
}

/// Loads a folder the caller may act on (same rules as [`file_access`]).
pub fn folder_access(
    conn: &Connection,
    caller: &Caller,
    folder_id: &str,
    perm: Perm,
    allow_deleted: bool,
) -> ApiResult<(FolderRow, ShareRow)> {
    let folder = db::load_folder(conn, folder_id)?
        .ok_or_else(|| ApiError::not_found("folder", folder_id))?;
    let (share, role) = share_role(conn, caller, &folder.share_id)
        .map_err(|_| ApiError::not_found("folder", folder_id))?;
    if folder.is_deleted && !allow_deleted {
        return Err(ApiError::Gone(format!("folder {folder_id} is deleted")));
    }
    require(caller, role, perm, &format!("folder/{folder_id}"))?;
    Ok((folder, share))
}

/// Resolves an optional parent folder id (`None`/`"root"` = share root) within a share:
/// 404 when missing or in another share, 410 when trashed.
pub fn resolve_parent(
    conn: &Connection,
    share_id: &str,
    folder_id: Option<&str>,
) -> ApiResult<Option<String>> {
    match folder_id {
        None | Some("root") | Some("") => Ok(None),
        Some(id) => {
            let f = db::load_folder(conn, id)?
                .filter(|f| f.share_id == share_id)
                .ok_or_else(|| ApiError::not_found("folder", id))?;
            if f.is_deleted {
                return Err(ApiError::Gone(format!("folder {id} is deleted")));
            }
            Ok(Some(f.id))
        }
    }
}
