//! Shares: list, get, create, update, delete (`/shares`).

use http::Method;

use super::client::{Client, Token};
use super::error::Result;
use super::types::{CreateShare, Share, UpdateShare};

impl Client {
    /// `GET /shares`, every page: all shares of the tenant for a tenant admin, else the
    /// caller's own.
    pub async fn list_shares(&self, t: &Token) -> Result<Vec<Share>> {
        self.list_shares_with(t, false).await
    }

    /// `GET /shares?include_trashed=…`, every page.
    pub async fn list_shares_with(&self, t: &Token, include_trashed: bool) -> Result<Vec<Share>> {
        let url = self.endpoint(&["shares"])?;
        let extra: &[(&str, &str)] = if include_trashed {
            &[("include_trashed", "true")]
        } else {
            &[]
        };
        self.all_share_pages(t, url, extra).await
    }

    /// `GET /shares/{id}`.
    pub async fn get_share(&self, t: &Token, id: &str) -> Result<Share> {
        self.get_json(Some(t), self.endpoint(&["shares", id])?)
            .await
    }

    /// `POST /shares` → 201. Not retried on 5xx (not idempotent).
    pub async fn create_share(&self, t: &Token, req: &CreateShare) -> Result<Share> {
        self.send_json(Method::POST, t, self.endpoint(&["shares"])?, req)
            .await
    }

    /// `PATCH /shares/{id}`.
    pub async fn update_share(&self, t: &Token, id: &str, req: &UpdateShare) -> Result<Share> {
        self.send_json(Method::PATCH, t, self.endpoint(&["shares", id])?, req)
            .await
    }

    /// `DELETE /shares/{id}` (soft delete, owner only) → 204.
    pub async fn delete_share(&self, t: &Token, id: &str) -> Result<()> {
        let req = self.req(Method::DELETE, self.endpoint(&["shares", id])?, Some(t));
        self.no_content(&req).await
    }
}
