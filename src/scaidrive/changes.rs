//! The change feed (`/sync/changes`).

use std::time::Duration;

use reqwest::Method;

use super::client::{Client, Token};
use super::error::{Error, ErrorKind, Result};
use super::types::{ChangePage, Cursor};

impl Client {
    /// `GET /sync/changes?share_id=…[&cursor=…][&limit=…]`. Without a cursor the answer is
    /// empty and carries the current head. The cursor is opaque; pass back the one received.
    pub async fn changes(
        &self,
        t: &Token,
        share_id: &str,
        cursor: Option<&Cursor>,
        limit: Option<u32>,
    ) -> Result<ChangePage> {
        let mut url = self.endpoint(&["sync", "changes"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("share_id", share_id);
            if let Some(c) = cursor {
                q.append_pair("cursor", &c.to_query_value());
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
        }
        self.get_json(Some(t), url).await
    }

    /// [`changes`](Self::changes) as one attempt bounded by `timeout` in all (the rate pacer's
    /// wait included), without the retry policy: for a poll loop, which is the retry itself and
    /// must not stall for several request timeouts in a row.
    pub async fn poll_changes(
        &self,
        t: &Token,
        share_id: &str,
        cursor: Option<&Cursor>,
        limit: Option<u32>,
        timeout: Duration,
    ) -> Result<ChangePage> {
        let mut url = self.endpoint(&["sync", "changes"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("share_id", share_id);
            if let Some(c) = cursor {
                q.append_pair("cursor", &c.to_query_value());
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
        }
        let mut req = self.req(Method::GET, url, Some(t));
        req.timeout = Some(timeout);
        req.retries = false;
        match tokio::time::timeout(timeout, self.json(&req)).await {
            Ok(answer) => answer,
            Err(_) => Err(Error::new(
                ErrorKind::Transport,
                format!("no answer from /sync/changes within {timeout:?}"),
            )),
        }
    }
}
