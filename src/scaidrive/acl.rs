//! Permissions and ACLs (`/permissions`): effective permissions, ACL entries, inheritance.

use http::Method;
use serde::{Deserialize, Serialize};

use super::client::{Client, Token, json_body};
use super::error::Result;

/// What an ACL belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    File,
    Folder,
    Share,
}

impl ResourceType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Folder => "folder",
            Self::Share => "share",
        }
    }
}

/// The documented permission bits.
pub mod perm {
    pub const READ: u32 = 1;
    pub const WRITE: u32 = 2;
    pub const DELETE: u32 = 4;
    pub const CREATE: u32 = 8;
    pub const SHARE: u32 = 16;
    pub const MANAGE_PERMISSIONS: u32 = 32;
    pub const ALL: u32 = 63;

    /// Names of the bits set in `mask`, in bit order (request bodies take names).
    pub fn names(mask: u32) -> Vec<&'static str> {
        [
            ("READ", READ),
            ("WRITE", WRITE),
            ("DELETE", DELETE),
            ("CREATE", CREATE),
            ("SHARE", SHARE),
            ("MANAGE_PERMISSIONS", MANAGE_PERMISSIONS),
        ]
        .iter()
        .filter(|(_, b)| mask & b != 0)
        .map(|(n, _)| *n)
        .collect()
    }
}

/// One access control entry as answered.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Ace {
    #[serde(default)]
    pub id: Option<String>,
    /// `user`, `group` or `everyone`.
    pub principal_type: String,
    /// `usr_…`, `grp_…` or `everyone`.
    #[serde(default)]
    pub principal_id: Option<String>,
    /// Bitfield (responses carry ints).
    pub permissions: u32,
    /// `allow` or `deny`.
    pub ace_type: String,
    #[serde(default = "yes")]
    pub inherit_to_children: bool,
    /// Inherited from an ancestor (not removable here).
    #[serde(default)]
    pub inherited: bool,
}

fn yes() -> bool {
    true
}

/// `GET /permissions/acl/{type}/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Acl {
    #[serde(default = "yes")]
    pub inherit_from_parent: bool,
    #[serde(default)]
    pub entries: Vec<Ace>,
}

/// A new entry (`POST /permissions/acl/{type}/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct NewAce {
    pub principal_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Permission names.
    pub permissions: Vec<&'static str>,
    pub ace_type: String,
    pub inherit_to_children: bool,
}

/// Removes an entry (`DELETE /permissions/acl/{type}/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct AceKey {
    pub principal_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    pub ace_type: String,
}

/// `GET /permissions/effective`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct Effective {
    #[serde(default)]
    pub can_read: bool,
    #[serde(default)]
    pub can_write: bool,
    #[serde(default)]
    pub can_delete: bool,
    #[serde(default)]
    pub can_create: bool,
    #[serde(default)]
    pub can_share: bool,
    #[serde(default)]
    pub can_manage_permissions: bool,
}

/// Most checks one `POST /permissions/check/batch` takes.
pub const MAX_BATCH_CHECKS: usize = 100;

/// One question of `POST /permissions/check/batch`.
#[derive(Debug, Clone, Serialize)]
struct CheckQuestion<'a> {
    resource_type: &'static str,
    resource_id: &'a str,
    permission: &'static str,
}

#[derive(Debug, Deserialize)]
struct CheckAnswers {
    #[serde(default)]
    results: Vec<CheckAnswer>,
}

#[derive(Debug, Deserialize)]
struct CheckAnswer {
    resource_id: String,
    #[serde(default)]
    allowed: bool,
}

/// A user found by `GET /shares/search/principals`.
#[derive(Debug, Clone, Deserialize)]
pub struct PrincipalUser {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `GET /shares/search/principals` (users only are used).
#[derive(Debug, Clone, Deserialize)]
pub struct Principals {
    #[serde(default)]
    pub users: Vec<PrincipalUser>,
}

impl Client {
    /// `GET /shares/search/principals?q=…&principal_type=user`.
    pub async fn search_users(&self, t: &Token, q: &str) -> Result<Vec<PrincipalUser>> {
        let mut url = self.endpoint(&["shares", "search", "principals"])?;
        url.query_pairs_mut()
            .append_pair("q", q)
            .append_pair("principal_type", "user");
        let p: Principals = self.get_json(Some(t), url).await?;
        Ok(p.users)
    }

    /// `GET /permissions/acl/{type}/{id}` (needs MANAGE_PERMISSIONS).
    pub async fn get_acl(&self, t: &Token, rt: ResourceType, id: &str) -> Result<Acl> {
        self.get_json(
            Some(t),
            self.endpoint(&["permissions", "acl", rt.as_str(), id])?,
        )
        .await
    }

    /// `POST /permissions/acl/{type}/{id}` → 201. Not retried on 5xx (not idempotent).
    pub async fn add_ace(
        &self,
        t: &Token,
        rt: ResourceType,
        id: &str,
        ace: &NewAce,
    ) -> Result<Ace> {
        self.send_json(
            Method::POST,
            t,
            self.endpoint(&["permissions", "acl", rt.as_str(), id])?,
            ace,
        )
        .await
    }

    /// `DELETE /permissions/acl/{type}/{id}` with the entry's key → 204.
    pub async fn remove_ace(
        &self,
        t: &Token,
        rt: ResourceType,
        id: &str,
        key: &AceKey,
    ) -> Result<()> {
        let mut req = self.req(
            Method::DELETE,
            self.endpoint(&["permissions", "acl", rt.as_str(), id])?,
            Some(t),
        );
        req.body = json_body(key)?;
        self.no_content(&req).await
    }

    /// `POST /permissions/check/batch` for one permission on up to [`MAX_BATCH_CHECKS`]
    /// resources: the ids the caller holds it on. Asking twice is harmless, so it is retried
    /// like a read.
    pub async fn check_batch(
        &self,
        t: &Token,
        resources: &[(ResourceType, &str)],
        permission: u32,
    ) -> Result<std::collections::HashSet<String>> {
        let Some(&name) = perm::names(permission).first() else {
            return Ok(std::collections::HashSet::new());
        };
        if resources.len() > MAX_BATCH_CHECKS {
            return Err(super::error::Error::invalid(format!(
                "at most {MAX_BATCH_CHECKS} checks per batch"
            )));
        }
        let checks: Vec<CheckQuestion<'_>> = resources
            .iter()
            .map(|(rt, id)| CheckQuestion {
                resource_type: rt.as_str(),
                resource_id: id,
                permission: name,
            })
            .collect();
        let mut req = self.req(
            Method::POST,
            self.endpoint(&["permissions", "check", "batch"])?,
            Some(t),
        );
        req.body = json_body(&serde_json::json!({ "checks": checks }))?;
        req.idempotent = true;
        let answers: CheckAnswers = self.json(&req).await?;
        Ok(answers
            .results
            .into_iter()
            .filter(|a| a.allowed)
            .map(|a| a.resource_id)
            .collect())
    }

    /// `GET /permissions/effective?resource_type&resource_id`.
    pub async fn effective(&self, t: &Token, rt: ResourceType, id: &str) -> Result<Effective> {
        let mut url = self.endpoint(&["permissions", "effective"])?;
        url.query_pairs_mut()
            .append_pair("resource_type", rt.as_str())
            .append_pair("resource_id", id);
        self.get_json(Some(t), url).await
    }
}
