//! Folders: metadata, children listing, create, rename, move, delete, restore.

use http::Method;
use serde_json::json;

use super::client::{Client, Token};
use super::error::{Error, ErrorKind, Result};
use super::folder_types::{Folder, Listing};
use super::listing_stream::ListingParser;
use super::types::Target;

impl Client {
    /// `GET /folders/{id}`.
    pub async fn get_folder(&self, t: &Token, id: &str) -> Result<Folder> {
        self.get_json(Some(t), self.endpoint(&["folders", id])?)
            .await
    }

    /// `GET /folders/{id|root}/children?share_id=…`: every item in one answer (the API has no
    /// documented paging here), parsed entry by entry as the body arrives (`listing_stream`).
    /// `folder_id: None` lists the share root.
    pub async fn list_children(
        &self,
        t: &Token,
        share_id: &str,
        folder_id: Option<&str>,
    ) -> Result<Listing> {
        self.list_children_with(t, share_id, folder_id, false).await
    }

    /// [`list_children`](Self::list_children) with `include_deleted` (trash view).
    pub async fn list_children_with(
        &self,
        t: &Token,
        share_id: &str,
        folder_id: Option<&str>,
        include_deleted: bool,
    ) -> Result<Listing> {
        let mut url = self.endpoint(&["folders", folder_id.unwrap_or("root"), "children"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("share_id", share_id);
            if include_deleted {
                q.append_pair("include_deleted", "true");
            }
        }
        let req = self.req(Method::GET, url, Some(t));
        let mut attempt = 0;
        loop {
            let resp = self.send_streaming(&req).await?;
            match read_listing(resp).await {
                Ok(listing) => return Ok(listing),
                // The body broke off: asked again like any failed read of an idempotent call.
                Err(e) if e.kind() == ErrorKind::Transport => {
                    self.wait_or_fail(&req, e, attempt).await?;
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    /// `POST /folders` → 201. `parent_id: None` creates at the share root. Not retried on 5xx.
    pub async fn create_folder(
        &self,
        t: &Token,
        share_id: &str,
        parent_id: Option<&str>,
        name: &str,
    ) -> Result<Folder> {
        let mut body = json!({ "share_id": share_id, "name": name });
        if let Some(p) = parent_id {
            body["parent_id"] = json!(p);
        }
        self.send_json(Method::POST, t, self.endpoint(&["folders"])?, &body)
            .await
    }

    /// `PATCH /folders/{id}` with `{name}`.
    pub async fn rename_folder(&self, t: &Token, id: &str, name: &str) -> Result<Folder> {
        self.send_json(
            Method::PATCH,
            t,
            self.endpoint(&["folders", id])?,
            &json!({ "name": name }),
        )
        .await
    }

    /// `PATCH /folders/{id}` with `restore` and `name`: restores a soft-deleted folder under
    /// `name` in one call.
    pub async fn restore_folder_as(&self, t: &Token, id: &str, name: &str) -> Result<Folder> {
        self.send_json(
            Method::PATCH,
            t,
            self.endpoint(&["folders", id])?,
            &json!({ "restore": true, "name": name }),
        )
        .await
    }

    /// `PATCH /folders/{id}` with `{restore: true}`: restore a soft-deleted folder.
    pub async fn restore_folder(&self, t: &Token, id: &str) -> Result<Folder> {
        self.send_json(
            Method::PATCH,
            t,
            self.endpoint(&["folders", id])?,
            &json!({ "restore": true }),
        )
        .await
    }

    /// `POST /folders/{id}/move` into a folder or a share root.
    pub async fn move_folder(&self, t: &Token, id: &str, target: &Target) -> Result<Folder> {
        self.send_json(
            Method::POST,
            t,
            self.endpoint(&["folders", id, "move"])?,
            &target.to_body(None),
        )
        .await
    }

    /// `DELETE /folders/{id}[?permanent=true]` → 204 (soft delete is recursive).
    pub async fn delete_folder(&self, t: &Token, id: &str, permanent: bool) -> Result<()> {
        let mut url = self.endpoint(&["folders", id])?;
        if permanent {
            url.query_pairs_mut().append_pair("permanent", "true");
        }
        let mut req = self.req(Method::DELETE, url, Some(t));
        req.absent_ok_on_retry = true;
        self.no_content(&req).await
    }
}

/// Reads a listing body chunk by chunk; a body that breaks off is a transport error.
async fn read_listing(mut resp: reqwest::Response) -> Result<Listing> {
    let mut parser = ListingParser::new();
    while let Some(chunk) = resp.chunk().await.map_err(Error::transport)? {
        parser.feed(&chunk)?;
    }
    parser.finish()
}
