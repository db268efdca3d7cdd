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

/// The documented permission bits (`Permissions bitfield`).
pub mod bits {
    pub const READ: u32 = 1;
    pub const WRITE: u32 = 2;
    pub const DELETE: u32 = 4;
    pub const CREATE: u32 = 8;
    pub const SHARE: u32 = 16;
    pub const MANAGE_PERMISSIONS: u32 = 32;
    pub const ALL: u32 = 63;
    /// Names in bit order, as request bodies spell them.
    pub const NAMES: [(&str, u32); 6] = [
        ("READ", READ),
        ("WRITE", WRITE),
        ("DELETE", DELETE),
        ("CREATE", CREATE),
        ("SHARE", SHARE),
        ("MANAGE_PERMISSIONS", MANAGE_PERMISSIONS),
    ];

    /// Parses one permission name (case-insensitive).
    pub fn parse(name: &str) -> Option<u32> {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, b)| *b)
    }
}

impl Role {
    /// The permission bits a share role grants (stated: reader = READ; contributor =
    /// READ|WRITE|DELETE|CREATE; admin manages members and creates links; owner everything).
    pub fn bits(self) -> u32 {
        match self {
            Self::Reader => bits::READ,
            Self::Contributor => bits::READ | bits::WRITE | bits::DELETE | bits::CREATE,
            Self::Admin | Self::Owner => bits::ALL,
        }
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    Read,
    Write,
    Delete,
    Create,
    /// External links.
    Share,
    /// ACLs, share settings.
    Manage,
    /// owner role only (share delete).
    Owner,
}

impl Perm {
    fn bit(self) -> u32 {
        match self {
            Self::Read => bits::READ,
            Self::Write => bits::WRITE,
            Self::Delete => bits::DELETE,
            Self::Create => bits::CREATE,
            Self::Share => bits::SHARE,
            Self::Manage | Self::Owner => bits::MANAGE_PERMISSIONS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::Delete => "DELETE",
            Self::Create => "CREATE",
            Self::Share => "SHARE",
            Self::Manage => "MANAGE_PERMISSIONS",
            Self::Owner => "OWNER",
        }
    }
}

/// The caller's standing on one resource.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// Share role (tenant admins count as owner).
    pub role: Option<Role>,
    /// Effective permission bits on the resource.
    pub bits: u32,
}

/// A resource in the ACL sense: (`file` | `folder` | `share`, id).
pub type Res = (&'static str, String);

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

/// True when an ACE's principal is the caller, one of its groups, or `everyone`.
fn ace_matches(caller: &Caller, principal_type: &str, principal_id: &str) -> bool {
    match principal_type {
        "everyone" => true,
        "user" => principal_id == caller.user_id,
        "group" => caller.groups.iter().any(|g| g == principal_id),
        _ => false,
    }
}

/// Whether a resource inherits from its parent (default true).
pub fn inherits(conn: &Connection, res: &Res) -> ApiResult<bool> {
    let v: Option<bool> = conn
        .query_row(
            "SELECT inherit_from_parent FROM acl_inheritance \
             WHERE resource_type = ?1 AND resource_id = ?2",
            [res.0, res.1.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.unwrap_or(true))
}

/// One ACE row.
#[derive(Debug, Clone)]
pub struct AceRow {
    pub id: String,
    pub principal_type: String,
    pub principal_id: String,
    pub permissions: u32,
    pub ace_type: String,
    pub inherit_to_children: bool,
}

/// The explicit ACEs on a resource, oldest first.
pub fn aces_on(conn: &Connection, res: &Res) -> ApiResult<Vec<AceRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, principal_type, principal_id, permissions, ace_type, inherit_to_children \
         FROM acl_entries WHERE resource_type = ?1 AND resource_id = ?2 ORDER BY rowid",
    )?;
    let rows = stmt.query_map([res.0, res.1.as_str()], |r| {
        Ok(AceRow {
            id: r.get(0)?,
            principal_type: r.get(1)?,
            principal_id: r.get(2)?,
            permissions: r.get(3)?,
            ace_type: r.get(4)?,
            inherit_to_children: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The ACEs that reach `chain[0]`: its own, then those of each ancestor marked
/// `inherit_to_children`, for as long as every resource on the way has `inherit_from_parent`.
/// Each with the resource it sits on.
pub fn applicable_aces(conn: &Connection, chain: &[Res]) -> ApiResult<Vec<(Res, AceRow)>> {
    let mut out = Vec::new();
    for (i, res) in chain.iter().enumerate() {
        for ace in aces_on(conn, res)? {
            if i == 0 || ace.inherit_to_children {
                out.push((res.clone(), ace));
            }
        }
        if !inherits(conn, res)? {
            break;
        }
    }
    Ok(out)
}

/// The resource, its folder ancestors (nearest first), and the share: the inheritance chain.
pub fn chain(conn: &Connection, share_id: &str, start: Res) -> ApiResult<Vec<Res>> {
    let mut out = Vec::new();
    let mut folder = match start.0 {
        "file" => conn
            .query_row(
                "SELECT folder_id FROM files WHERE id = ?1",
                [&start.1],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten(),
        "folder" => Some(start.1.clone()),
        _ => None,
    };
    if start.0 == "file" {
        out.push(start);
    }
    // Bounded walk (moves refuse cycles).
    for _ in 0..10_000 {
        let Some(id) = folder else { break };
        let parent: Option<Option<String>> = conn
            .query_row("SELECT parent_id FROM folders WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        out.push(("folder", id));
        folder = parent.flatten();
    }
    out.push(("share", share_id.to_string()));
    Ok(out)
}

/// The documented resolution: global admin → all; else share-role bits ∪ allow ACEs (user,
/// group, everyone; direct and inherited) − deny ACEs; nothing → nothing.
pub fn effective(
    conn: &Connection,
    caller: &Caller,
    share_id: &str,
    chain: &[Res],
) -> ApiResult<Access> {
    if caller.is_admin {
        return Ok(Access {
            role: Some(Role::Owner),
            bits: bits::ALL,
        });
    }
    let role = member_role(conn, caller, share_id)?;
    let mut allow = role.map(Role::bits).unwrap_or(0);
    let mut deny = 0;
    for (_, ace) in applicable_aces(conn, chain)? {
        if !ace_matches(caller, &ace.principal_type, &ace.principal_id) {
            continue;
        }
        if ace.ace_type == "deny" {
            deny |= ace.permissions;
        } else {
            allow |= ace.permissions;
        }
    }
    Ok(Access {
        role,
        bits: allow & !deny,
    })
}

/// True when some allow ACE anywhere in the share names the caller (directly, by group or as
/// `everyone`): such a share is visible to a caller without a role (**inferred**).
fn has_ace_in_share(conn: &Connection, caller: &Caller, share_id: &str) -> ApiResult<bool> {
    let mut stmt = conn.prepare(
        "SELECT principal_type, principal_id FROM acl_entries \
         WHERE share_id = ?1 AND ace_type = 'allow'",
    )?;
    let rows = stmt.query_map([share_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (t, id) = row?;
        if ace_matches(caller, &t, &id) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Loads a live share the caller can see: a tenant admin, a member, or a caller named by an
/// allow ACE somewhere in it. 404 otherwise (existence hidden).
pub fn visible_share(conn: &Connection, caller: &Caller, share_id: &str) -> ApiResult<ShareRow> {
    let share = db::load_share(conn, share_id)?
        .filter(|s| s.tenant_id == caller.tenant_id && !s.is_deleted)
        .ok_or_else(|| ApiError::not_found("share", share_id))?;
    if caller.is_admin
        || member_role(conn, caller, share_id)?.is_some()
        || has_ace_in_share(conn, caller, share_id)?
    {
        Ok(share)
    } else {
        Err(ApiError::not_found("share", share_id))
    }
}

/// 403 unless `access` (and the token scope) allow `perm`.
pub fn require(caller: &Caller, access: Access, perm: Perm, what: &str) -> ApiResult<()> {
    let ok = match perm {
        Perm::Owner => access.role == Some(Role::Owner),
        p => access.bits & p.bit() != 0,
    };
    if !ok {
        return Err(ApiError::Forbidden(format!(
            "Permission denied: {} on {what}",
            perm.name()
        )));
    }
    if perm != Perm::Read {
        caller.require_write_scope()?;
    }
    Ok(())
}

/// Share checks: visible share with `perm` on the share itself.
pub fn share_access(
    conn: &Connection,
    caller: &Caller,
    share_id: &str,
    perm: Perm,
) -> ApiResult<(ShareRow, Access)> {
    let share = visible_share(conn, caller, share_id)?;
    let access = effective(conn, caller, share_id, &[("share", share_id.to_string())])?;
    require(caller, access, perm, &format!("share/{share_id}"))?;
    Ok((share, access))
}

/// `perm` on a container: a folder, or the share root (`None`).
pub fn container_access(
    conn: &Connection,
    caller: &Caller,
    share_id: &str,
    folder_id: Option<&str>,
    perm: Perm,
) -> ApiResult<()> {
    let start: Res = match folder_id {
        Some(f) => ("folder", f.to_string()),
        None => ("share", share_id.to_string()),
    };
    let what = format!("{}/{}", start.0, start.1);
    let chain = chain(conn, share_id, start)?;
    let access = effective(conn, caller, share_id, &chain)?;
    require(caller, access, perm, &what)
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
    let share = visible_share(conn, caller, &file.share_id)
        .map_err(|_| ApiError::not_found("file", file_id))?;
    if file.is_deleted && !allow_deleted {
        return Err(ApiError::Gone(format!("file {file_id} is deleted")));
    }
    let chain = chain(conn, &share.id, ("file", file.id.clone()))?;
    let access = effective(conn, caller, &share.id, &chain)?;
    require(caller, access, perm, &format!("file/{file_id}"))?;
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
    let share = visible_share(conn, caller, &folder.share_id)
        .map_err(|_| ApiError::not_found("folder", folder_id))?;
    if folder.is_deleted && !allow_deleted {
        return Err(ApiError::Gone(format!("folder {folder_id} is deleted")));
    }
    let chain = chain(conn, &share.id, ("folder", folder.id.clone()))?;
    let access = effective(conn, caller, &share.id, &chain)?;
    require(caller, access, perm, &format!("folder/{folder_id}"))?;
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
