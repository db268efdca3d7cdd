//! Seeding: the built-in default (one admin, two shares, a persisted random token) or a TOML file.

use std::path::Path;

use anyhow::{Context as _, bail};
use rusqlite::{Connection, params};
use serde::Deserialize;

use super::auth::Role;
use super::db::{get_meta, new_id, now_iso, set_meta};

/// Default tenant per-file cap (5 GiB, the documented default).
const DEFAULT_MAX_FILE_SIZE: i64 = 5_368_709_120;

/// A token known to the emulator.
#[derive(Clone, PartialEq, Eq)]
pub struct SeedToken {
    /// The bearer string.
    pub token: String,
    /// The user it authenticates.
    pub user_id: String,
    /// That user's email.
    pub email: String,
}

impl std::fmt::Debug for SeedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedToken")
            .field("token", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .finish()
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    tenant: Option<SeedTenant>,
    #[serde(default)]
    groups: Vec<SeedGroup>,
    #[serde(default)]
    users: Vec<SeedUser>,
    #[serde(default)]
    tokens: Vec<SeedTokenDef>,
    #[serde(default)]
    shares: Vec<SeedShare>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SeedTenant {
    id: Option<String>,
    name: Option<String>,
    max_file_size_bytes: Option<i64>,
    quota_bytes: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedGroup {
    id: String,
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    id: String,
    email: String,
    name: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    is_admin: bool,
    quota_bytes: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTokenDef {
    token: String,
    user: String,
    scopes: Option<Vec<String>>,
    expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedShare {
    id: Option<String>,
    name: String,
    share_type: Option<String>,
    owner_id: String,
    description: Option<String>,
    quota_bytes: Option<i64>,
    #[serde(default)]
    members: Vec<SeedMember>,
    /// ACL entries on the share itself.
    #[serde(default)]
    acl: Vec<SeedAce>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedAce {
    /// `usr_…`, `grp_…` or `everyone`.
    principal: String,
    permissions: Vec<String>,
    #[serde(default = "seed_allow")]
    ace_type: String,
    #[serde(default = "seed_true")]
    inherit_to_children: bool,
}

fn seed_allow() -> String {
    "allow".into()
}

fn seed_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedMember {
    principal: String,
    role: String,
}

/// Seeds a fresh database (from `seed` or the default); a seeded database is left alone.
pub fn apply(conn: &mut Connection, seed: Option<&Path>) -> anyhow::Result<()> {
    if get_meta(conn, "seeded")?.is_some() {
        return Ok(());
    }
    let file = match seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading seed {}", path.display()))?;
            Some(
                toml::from_str::<SeedFile>(&text)
                    .with_context(|| format!("parsing seed {}", path.display()))?,
            )
        }
        None => None,
    };
    let tx = conn.transaction()?;
    match file {
        Some(f) => apply_file(&tx, f)?,
        None => apply_default(&tx)?,
    }
    set_meta(&tx, "seeded", &now_iso())?;
    tx.commit()?;
    Ok(())
}

fn apply_default(conn: &Connection) -> anyhow::Result<()> {
    let now = now_iso();
    let tenant = new_id("tnt");
    let user = new_id("usr");
    conn.execute(
        "INSERT INTO tenants (id, name, max_file_size_bytes, quota_bytes) VALUES (?1, ?2, ?3, NULL)",
        params![tenant, "Emulator", DEFAULT_MAX_FILE_SIZE],
    )?;
    conn.execute(
        "INSERT INTO users (id, tenant_id, email, name, display_name, is_admin, quota_bytes) \
         VALUES (?1, ?2, 'demo@example.com', 'Demo User', 'Demo', 1, NULL)",
        params![user, tenant],
    )?;
    let token = format!("sdemu_{}", hex::encode(rand::random::<[u8; 24]>()));
    conn.execute(
        "INSERT INTO tokens (token, user_id, scopes, expires_at) VALUES (?1, ?2, NULL, NULL)",
        params![token, user],
    )?;
    for name in ["Documents", "Photos"] {
        let id = new_id("shr");
        conn.execute(
            "INSERT INTO shares (id, tenant_id, name, description, share_type, owner_id, \
             quota_bytes, is_deleted, created_at, modified_at) \
             VALUES (?1, ?2, ?3, NULL, 'personal', ?4, NULL, 0, ?5, ?5)",
            params![id, tenant, name, user, now],
        )?;
        conn.execute(
            "INSERT INTO share_members (share_id, principal_id, role) VALUES (?1, ?2, 'owner')",
            params![id, user],
        )?;
    }
    Ok(())
}

fn apply_file(conn: &Connection, f: SeedFile) -> anyhow::Result<()> {
    let now = now_iso();
    let t = f.tenant.unwrap_or_default();
    let tenant = t.id.unwrap_or_else(|| new_id("tnt"));
    conn.execute(
        "INSERT INTO tenants (id, name, max_file_size_bytes, quota_bytes) VALUES (?1, ?2, ?3, ?4)",
        params![
            tenant,
            t.name.unwrap_or_else(|| "Emulator".into()),
            t.max_file_size_bytes.unwrap_or(DEFAULT_MAX_FILE_SIZE),
            t.quota_bytes
        ],
    )?;
    for u in &f.users {
        let name = u.name.clone().unwrap_or_else(|| u.email.clone());
        conn.execute(
            "INSERT INTO users (id, tenant_id, email, name, display_name, is_admin, quota_bytes) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                u.id,
                tenant,
                u.email,
                name,
                u.display_name.clone().unwrap_or_else(|| name.clone()),
                u.is_admin,
                u.quota_bytes
            ],
        )
        .with_context(|| format!("seed user {}", u.id))?;
    }
    let user_exists = |id: &str| f.users.iter().any(|u| u.id == id);
    for g in &f.groups {
        conn.execute(
            "INSERT INTO groups_ (id, tenant_id, name) VALUES (?1, ?2, ?3)",
            params![g.id, tenant, g.name],
        )
        .with_context(|| format!("seed group {}", g.id))?;
        for m in &g.members {
            if !user_exists(m) {
                bail!("seed group {} names unknown user {m}", g.id);
            }
            conn.execute(
                "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
                params![g.id, m],
            )?;
        }
    }
    for t in &f.tokens {
        if !user_exists(&t.user) {
            bail!("seed token names unknown user {}", t.user);
        }
        if let Some(exp) = &t.expires_at {
            chrono::DateTime::parse_from_rfc3339(exp)
                .with_context(|| format!("seed token expires_at {exp}"))?;
        }
        let scopes = t.scopes.as_ref().map(serde_json::to_string).transpose()?;
        conn.execute(
            "INSERT INTO tokens (token, user_id, scopes, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![t.token, t.user, scopes, t.expires_at],
        )
        .context("seed token")?;
    }
    let principal_exists = |id: &str| user_exists(id) || f.groups.iter().any(|g| g.id == id);
    for s in &f.shares {
        let id = s.id.clone().unwrap_or_else(|| new_id("shr"));
        if !principal_exists(&s.owner_id) {
            bail!("seed share {} has unknown owner {}", s.name, s.owner_id);
        }
        let share_type = s.share_type.clone().unwrap_or_else(|| "central".into());
        if !matches!(share_type.as_str(), "central" | "personal" | "project") {
            bail!("seed share {} has unknown share_type {share_type}", s.name);
        }
        conn.execute(
            "INSERT INTO shares (id, tenant_id, name, description, share_type, owner_id, \
             quota_bytes, is_deleted, created_at, modified_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
            params![
                id,
                tenant,
                s.name,
                s.description,
                share_type,
                s.owner_id,
                s.quota_bytes,
                now
            ],
        )
        .with_context(|| format!("seed share {id}"))?;
        for m in &s.members {
            if Role::parse(&m.role).is_none() {
                bail!("seed share {id}: unknown role {}", m.role);
            }
            if !principal_exists(&m.principal) {
                bail!("seed share {id}: unknown principal {}", m.principal);
            }
            conn.execute(
                "INSERT OR REPLACE INTO share_members (share_id, principal_id, role) \
                 VALUES (?1, ?2, ?3)",
                params![id, m.principal, m.role],
            )?;
        }
        for a in &s.acl {
            let ptype = match a.principal.as_str() {
                "everyone" => "everyone",
                p if p.starts_with("grp_") => "group",
                _ => "user",
            };
            if ptype != "everyone" && !principal_exists(&a.principal) {
                bail!("seed share {id}: unknown ACL principal {}", a.principal);
            }
            if a.ace_type != "allow" && a.ace_type != "deny" {
                bail!("seed share {id}: ace_type must be allow or deny");
            }
            let mut mask = 0;
            for p in &a.permissions {
                mask |= crate::emulator::auth::bits::parse(p)
                    .with_context(|| format!("seed share {id}: unknown permission {p}"))?;
            }
            conn.execute(
                "INSERT OR REPLACE INTO acl_entries (id, share_id, resource_type, resource_id, \
                 principal_type, principal_id, permissions, ace_type, inherit_to_children, \
                 created_by, created_at) VALUES (?1, ?2, 'share', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    crate::emulator::db::new_id("ace"),
                    id,
                    ptype,
                    a.principal,
                    mask,
                    a.ace_type,
                    a.inherit_to_children,
                    s.owner_id,
                    now
                ],
            )?;
        }
    }
    Ok(())
}

/// Every token with its user, in seed order.
pub fn tokens(conn: &Connection) -> rusqlite::Result<Vec<SeedToken>> {
    let mut stmt = conn.prepare(
        "SELECT t.token, t.user_id, u.email FROM tokens t JOIN users u ON u.id = t.user_id \
         ORDER BY t.ord",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SeedToken {
            token: r.get(0)?,
            user_id: r.get(1)?,
            email: r.get(2)?,
        })
    })?;
    rows.collect()
}
