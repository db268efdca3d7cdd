//! Upload sessions: create, chunk PUTs (idempotent, retried), progress, complete.

use bytes::Bytes;
use http::Method;
use http::header::HeaderValue;
use sha2::{Digest, Sha256};

use super::client::{Client, ReqBody, Token};
use super::error::Result;
use super::types::{CompletedUpload, CreateUploadSession, UploadProgress, UploadSession};

/// Header carrying a chunk's hex SHA-256; the emulator verifies it (400 on mismatch).
pub const CHUNK_SHA256_HEADER: &str = "x-chunk-sha256";

impl Client {
    /// `POST /uploads` → 201 session. With `replace_file_id` the upload becomes a new version.
    pub async fn create_upload_session(
        &self,
        t: &Token,
        req: &CreateUploadSession,
    ) -> Result<UploadSession> {
        self.send_json(Method::POST, t, self.endpoint(&["uploads"])?, req)
            .await
    }

    /// `PUT /uploads/{sid}/chunks/{index}` (0-based) with the raw bytes and their SHA-256 in
    /// `X-Chunk-SHA256`. Idempotent: retried on 5xx, 429 and transport errors. Its total
    /// timeout grows with the chunk: `request_timeout` per started MiB.
    pub async fn put_chunk(
        &self,
        t: &Token,
        session_id: &str,
        index: u64,
        data: Bytes,
    ) -> Result<()> {
        let i = index.to_string();
        let url = self.endpoint(&["uploads", session_id, "chunks", &i])?;
        let digest = hex::encode(Sha256::digest(&data));
        let mib = u32::try_from(data.len() >> 20).unwrap_or(u32::MAX);
        let mut req = self.req(Method::PUT, url, Some(t));
        req.timeout = req.timeout.map(|d| d.saturating_mul(mib.saturating_add(1)));
        if let Ok(v) = HeaderValue::from_str(&digest) {
            req.headers.push((
                http::header::HeaderName::from_static(CHUNK_SHA256_HEADER),
                v,
            ));
        }
        req.body = ReqBody::Raw(data, "application/octet-stream");
        self.no_content(&req).await
    }

    /// `GET /uploads/{sid}`.
    pub async fn upload_progress(&self, t: &Token, session_id: &str) -> Result<UploadProgress> {
        self.get_json(Some(t), self.endpoint(&["uploads", session_id])?)
            .await
    }

    /// `POST /uploads/{sid}/complete`. Not retried on 5xx (a repeat after success gets 410).
    /// Missing chunks → `Conflict`; whole-file checksum mismatch → `ChecksumMismatch`.
    pub async fn complete_upload(&self, t: &Token, session_id: &str) -> Result<CompletedUpload> {
        let url = self.endpoint(&["uploads", session_id, "complete"])?;
        self.json(&self.req(Method::POST, url, Some(t))).await
    }
}
