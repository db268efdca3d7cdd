//! Hidden staging folders in ScaiDrive (`<share root>/.scaidrive-gateway-uploads/<name>/`):
//! where bytes that wait for a later request are kept when several instances serve one
//! deployment (S3 multipart parts, WebDAV chunk pieces), written with the uploader's token so
//! any instance can read them, and deleted permanently (never to the trash) after use.

use super::{Store, StoreError, StoreResult};
use crate::auth::Session;
use crate::namespace::STAGING_FOLDER;
use crate::scaidrive::{ErrorKind, Item};

impl Store {
    /// The id of the staging folder `name` in `share_id`, created when missing (with the
    /// top-level `.scaidrive-gateway-uploads`). Two requests creating it at once find the same
    /// folder. A file named `.scaidrive-gateway-uploads` at the top of the share is a
    /// [`StoreError::Conflict`].
    pub async fn staging_folder(
        &self,
        s: &Session,
        share_id: &str,
        name: &str,
    ) -> StoreResult<String> {
        let top = self.folder_named(s, share_id, None, STAGING_FOLDER).await?;
        self.folder_named(s, share_id, Some(&top), name).await
    }

    async fn folder_named(
        &self,
        s: &Session,
        share_id: &str,
        parent: Option<&str>,
        name: &str,
    ) -> StoreResult<String> {
        let client = self.client();
        match client
            .create_folder(s.token(), share_id, parent, name)
            .await
        {
            Ok(f) => Ok(f.id),
            Err(e) if e.kind() == ErrorKind::Conflict => {
                let listing = client.list_children(s.token(), share_id, parent).await?;
                listing
                    .items
                    .into_iter()
                    .find_map(|i| match i {
                        Item::Folder(f) if f.name == name && !f.is_deleted => Some(f.id),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        StoreError::Conflict(format!(
                            "the share holds a file named '{name}' where uploads are staged"
                        ))
                    })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a staged file permanently; one already gone is fine.
    pub async fn delete_staged_file(&self, s: &Session, file_id: &str) -> StoreResult<()> {
        match self.client().delete_file(s.token(), file_id, true).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a staging folder and what it holds permanently; one already gone is fine.
    pub async fn delete_staging_folder(&self, s: &Session, folder_id: &str) -> StoreResult<()> {
        match self
            .client()
            .delete_folder(s.token(), folder_id, true)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
