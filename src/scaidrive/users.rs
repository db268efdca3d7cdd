//! Platform probes (`health`, `ready`, `config`, no token) and the current user (`/users/me*`).

use http::Method;

use super::client::{Client, Token, parse_json};
use super::error::{Error, Result};
use super::types::{Health, MyShare, Quota, Ready, ServerConfig, SharePage, User};

/// Page size used when the client follows `limit`/`offset` pages (the documented maximum).
pub(crate) const PAGE_LIMIT: u64 = 100;

/// Upper bound on pages followed, against a server whose `total` never converges.
pub(crate) const MAX_PAGES: u64 = 10_000;

impl Client {
    /// `GET /health`.
    pub async fn health(&self) -> Result<Health> {
        self.get_json(None, self.endpoint(&["health"])?).await
    }

    /// `GET /ready`. A 503 answer whose body is a readiness report is returned as `Ok` with
    /// `status: "not_ready"`, not retried.
    pub async fn ready(&self) -> Result<Ready> {
        let req = self.req(Method::GET, self.endpoint(&["ready"])?, None);
        let mut rb = self.http().get(req.url.clone());
        if let Some(t) = req.timeout {
            rb = rb.timeout(t);
        }
        let resp = rb.send().await.map_err(Error::transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(Error::transport)?;
        if status.is_success() {
            return parse_json(&body);
        }
        if status.as_u16() == 503
            && let Ok(ready) = serde_json::from_slice::<Ready>(&body)
        {
            return Ok(ready);
        }
        Err(Error::from_response(status.as_u16(), &headers, &body))
    }

    /// `GET /config`.
    pub async fn config(&self) -> Result<ServerConfig> {
        self.get_json(None, self.endpoint(&["config"])?).await
    }

    /// `GET /users/me`.
    pub async fn me(&self, t: &Token) -> Result<User> {
        self.get_json(Some(t), self.endpoint(&["users", "me"])?)
            .await
    }

    /// `GET /users/me/shares`, following `limit`/`offset` pages until `total`.
    pub async fn my_shares(&self, t: &Token) -> Result<Vec<MyShare>> {
        let url = self.endpoint(&["users", "me", "shares"])?;
        self.all_share_pages(t, url, &[]).await
    }

    /// `GET /users/me/quota`.
    pub async fn my_quota(&self, t: &Token) -> Result<Quota> {
        self.get_json(Some(t), self.endpoint(&["users", "me", "quota"])?)
            .await
    }

    /// Follow `{"shares": [...], "total": N}` pages.
    pub(crate) async fn all_share_pages<T: serde::de::DeserializeOwned>(
        &self,
        t: &Token,
        url: url::Url,
        extra: &[(&str, &str)],
    ) -> Result<Vec<T>> {
        let mut out: Vec<T> = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut page_url = url.clone();
            {
                let mut q = page_url.query_pairs_mut();
                for (k, v) in extra {
                    q.append_pair(k, v);
                }
                q.append_pair("limit", &PAGE_LIMIT.to_string());
                q.append_pair("offset", &out.len().to_string());
            }
            let page: SharePage<T> = self.get_json(Some(t), page_url).await?;
            let got = page.shares.len() as u64;
            out.extend(page.shares);
            match page.total {
                Some(total) if (out.len() as u64) < total && got > 0 => continue,
                // No total: a short page is the last one.
                None if got == PAGE_LIMIT => continue,
                _ => return Ok(out),
            }
        }
        Ok(out)
    }
}
