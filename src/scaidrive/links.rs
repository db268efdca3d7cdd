//! External links (`/external/links`).

use http::Method;
use serde::Serialize;

use super::client::{Client, Token};
use super::error::Result;
use super::types::{CreateLink, Link, LinkPage, LinkQuery};
use super::users::{MAX_PAGES, PAGE_LIMIT};

impl Client {
    /// `POST /external/links` → 201. Not retried on 5xx.
    pub async fn create_link(&self, t: &Token, req: &CreateLink) -> Result<Link> {
        self.send_json(Method::POST, t, self.endpoint(&["external", "links"])?, req)
            .await
    }

    /// `GET /external/links`: one page when `q.limit` is set, else every page.
    pub async fn list_links(&self, t: &Token, q: &LinkQuery) -> Result<Vec<Link>> {
        let base = self.endpoint(&["external", "links"])?;
        let single = q.limit.is_some();
        let limit = q.limit.map_or(PAGE_LIMIT, u64::from);
        let mut offset = q.offset.unwrap_or(0);
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut url = base.clone();
            {
                let mut qp = url.query_pairs_mut();
                for (k, v) in [
                    ("share_id", &q.share_id),
                    ("resource_id", &q.resource_id),
                    ("status", &q.status),
                ] {
                    if let Some(v) = v {
                        qp.append_pair(k, v);
                    }
                }
                qp.append_pair("limit", &limit.to_string());
                qp.append_pair("offset", &offset.to_string());
            }
            let page: LinkPage = self.get_json(Some(t), url).await?;
            let got = page.links.len() as u64;
            out.extend(page.links);
            offset += got;
            let more = match page.total {
                Some(total) => offset < total && got > 0,
                None => got == limit,
            };
            if single || !more {
                break;
            }
        }
        Ok(out)
    }

    /// `GET /external/links/{id}`.
    pub async fn get_link(&self, t: &Token, id: &str) -> Result<Link> {
        self.get_json(Some(t), self.endpoint(&["external", "links", id])?)
            .await
    }

    /// `PATCH /external/links/{id}` with a [`LinkPatch`](super::LinkPatch) or any JSON value.
    pub async fn update_link<P: Serialize + ?Sized + Sync>(
        &self,
        t: &Token,
        id: &str,
        patch: &P,
    ) -> Result<Link> {
        self.send_json(
            Method::PATCH,
            t,
            self.endpoint(&["external", "links", id])?,
            patch,
        )
        .await
    }

    /// `DELETE /external/links/{id}` → 204 (revocation is permanent).
    pub async fn delete_link(&self, t: &Token, id: &str) -> Result<()> {
        let req = self.req(
            Method::DELETE,
            self.endpoint(&["external", "links", id])?,
            Some(t),
        );
        self.no_content(&req).await
    }
}
