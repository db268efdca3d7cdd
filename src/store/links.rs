//! ScaiDrive external links ("share links") of files and folders.

use super::{Entry, Store, StoreResult};
use crate::auth::Session;
use crate::scaidrive::{CreateLink, Link};

impl Store {
    /// A new external link with which anyone may view and download `entry` of share
    /// `share_id`. ScaiDrive decides whether the user may (SHARE on the resource).
    pub async fn create_link(
        &self,
        s: &Session,
        share_id: &str,
        entry: &Entry,
    ) -> StoreResult<Link> {
        let (resource_type, resource_id) = match entry {
            Entry::File(f) => ("file", &f.id),
            Entry::Folder(f) => ("folder", &f.id),
        };
        let req = CreateLink {
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.clone(),
            share_id: share_id.to_owned(),
            link_type: "DOWNLOAD".to_owned(),
            ..CreateLink::default()
        };
        Ok(self.inner.client.create_link(s.token(), &req).await?)
    }
}
