//! Wire types of folders and their listings (`GET /folders/{id|root}/children`), read in one
//! pass per entry (shared by the whole-body parse here and the streamed one in
//! `listing_stream.rs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::{Timestamp, ts};

/// The folder object.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Folder {
    /// `fld_…`.
    pub id: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub share_id: String,
    /// `None` directly under the share root.
    #[serde(default)]
    pub parent_id: Option<String>,
    pub name: String,
    /// Share-relative path, `/A/B`.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "ts::option")]
    pub modified_at: Option<Timestamp>,
    #[serde(default)]
    pub is_deleted: bool,
}

/// `GET /folders/{id|root}/children`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Listing {
    /// Folders and files; entries of unknown `type` are skipped.
    pub items: Vec<Item>,
    /// Path of the listed folder.
    pub path: String,
    /// Number of items the server reports.
    pub total: u64,
}

/// A listing entry, told apart by `type`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Item {
    Folder(FolderEntry),
    File(FileEntry),
}

impl Item {
    /// The entry's id.
    pub fn id(&self) -> &str {
        match self {
            Item::Folder(f) => &f.id,
            Item::File(f) => &f.id,
        }
    }

    /// The entry's name.
    pub fn name(&self) -> &str {
        match self {
            Item::Folder(f) => &f.name,
            Item::File(f) => &f.name,
        }
    }
}

/// A folder in a listing.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FolderEntry {
    pub id: String,
    pub name: String,
    /// Present with `include_deleted=true`.
    #[serde(default)]
    pub is_deleted: bool,
}

/// A file in a listing.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FileEntry {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    pub modified_at: Option<Timestamp>,
    /// Present with `include_deleted=true`.
    #[serde(default)]
    pub is_deleted: bool,
}

/// A listing entry of any type, read in one pass (no intermediate `Value` per entry: a listing
/// has as many entries as the folder).
#[derive(Deserialize)]
pub(crate) struct RawItem {
    #[serde(rename = "type", default)]
    kind: Option<Value>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default, deserialize_with = "ts::option")]
    modified_at: Option<Timestamp>,
    #[serde(default)]
    is_deleted: bool,
}

impl RawItem {
    /// The typed entry; `Ok(None)` for an entry of unknown `type` (skipped).
    pub(crate) fn into_item(self) -> Result<Option<Item>, &'static str> {
        let kind = self.kind.as_ref().and_then(Value::as_str);
        if !matches!(kind, Some("folder" | "file")) {
            tracing::debug!(kind = ?kind, "skipping listing entry of unknown type");
            return Ok(None);
        }
        let id = self.id.ok_or("id")?;
        let name = self.name.ok_or("name")?;
        Ok(Some(match kind {
            Some("folder") => Item::Folder(FolderEntry {
                id,
                name,
                is_deleted: self.is_deleted,
            }),
            _ => Item::File(FileEntry {
                id,
                name,
                size: self.size.unwrap_or_default(),
                mime_type: self.mime_type,
                modified_at: self.modified_at,
                is_deleted: self.is_deleted,
            }),
        }))
    }
}

impl<'de> Deserialize<'de> for Listing {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            items: Vec<RawItem>,
            #[serde(default)]
            path: Option<String>,
            #[serde(default)]
            total: Option<u64>,
        }
        let raw = Raw::deserialize(d)?;
        let mut items = Vec::with_capacity(raw.items.len());
        for v in raw.items {
            if let Some(item) = v.into_item().map_err(serde::de::Error::missing_field)? {
                items.push(item);
            }
        }
        let total = raw.total.unwrap_or(items.len() as u64);
        Ok(Listing {
            items,
            path: raw.path.unwrap_or_default(),
            total,
        })
    }
}
