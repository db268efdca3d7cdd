//! CompleteMultipartUpload. The part list is checked (InvalidPart, InvalidPartOrder,
//! EntityTooSmall), then the concatenation of the staged parts is written to the store by a
//! task of its own: a client that goes away does not stop it, so the object, its attributes
//! (ETag, metadata, version id) and the completed-upload record all land. The record (upload id
//! → key, ETag, version id, part list digest) is kept [`COMPLETED_KEEP`] in the state DB, so a
//! retried Complete through any instance gets the first answer, and Abort after Complete is
//! NoSuchUpload. A retry that arrives while the first is still writing waits for it: on one
//! instance behind a lock per upload, across instances sharing PostgreSQL behind a cluster-wide
//! advisory lock per upload.

use std::sync::Arc;
use std::time::Duration;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::error::{internal, store_error};
use super::multipart::{PartError, db_err, multipart_etag, no_such_upload, now, validate_parts};
use super::put::check_write_conditions;
use super::staging::meta_of;
use super::{Gateway, etag};
use crate::auth::Session;
use crate::state::{ClusterLease, CompletedUpload, MultipartPart, StateDb};
use crate::store::WriteRequest;

/// How long CompleteMultipartUpload waits for the upload to ScaiDrive before it answers with
/// s3s's keep-alive body (whitespace until the result); well below SDK read timeouts (60 s).
const COMPLETE_INLINE_WAIT: Duration = Duration::from_secs(10);
/// How long a completed upload's answer is kept for retries.
pub(crate) const COMPLETED_KEEP: Duration = Duration::from_secs(3600);

type Checksums = std::collections::BTreeMap<String, String>;

/// What the completed-upload record keeps besides its columns.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Answer {
    #[serde(default)]
    checksums: Checksums,
}

/// Digest of a part list: (number, MD5 hex) pairs.
fn parts_digest<'a>(parts: impl Iterator<Item = (i64, &'a str)>) -> String {
    let mut h = sha2::Sha256::new();
    for (n, tag) in parts {
        h.update(format!("{n}:{}\n", tag.trim_matches('"')).as_bytes());
    }
    hex::encode(h.finalize())
}

/// The part list as the client named it, a part named twice in a row counting once (with the
/// later ETag), as [`validate_parts`] reads it.
fn named_parts(requested: &[(i32, String)]) -> Vec<(i64, &str)> {
    let mut named: Vec<(i64, &str)> = Vec::with_capacity(requested.len());
    for (n, tag) in requested {
        match named.last_mut() {
            Some(last) if last.0 == i64::from(*n) => last.1 = tag.as_str(),
            _ => named.push((i64::from(*n), tag.as_str())),
        }
    }
    named
}

fn output(
    bucket: String,
    key: String,
    etag_value: &str,
    version_id: Option<String>,
    sums: &Checksums,
) -> CompleteMultipartUploadOutput {
    let sum = |k: &str| sums.get(k).cloned();
    CompleteMultipartUploadOutput {
        bucket: Some(bucket),
        key: Some(key),
        e_tag: Some(etag(etag_value)),
        version_id,
        checksum_crc32: sum("crc32"),
        checksum_crc32c: sum("crc32c"),
        checksum_crc64nvme: sum("crc64nvme"),
        checksum_sha1: sum("sha1"),
        checksum_sha256: sum("sha256"),
        // A composite value ends in `-N`; a full-object one does not.
        checksum_type: sums.values().next().map(|v| {
            ChecksumType::from_static(if v.contains('-') {
                ChecksumType::COMPOSITE
            } else {
                ChecksumType::FULL_OBJECT
            })
        }),
        ..Default::default()
    }
}

/// For a `FULL_OBJECT` upload, a whole-object checksum sent with Complete must match the one
/// combined from the parts (nothing is written otherwise: BadDigest).
fn check_full_object(
    input: &CompleteMultipartUploadInput,
    computed: &Checksums,
    full_object: bool,
) -> S3Result<()> {
    if !full_object {
        return Ok(());
    }
    let sent = [
        ("crc32", input.checksum_crc32.as_deref()),
        ("crc32c", input.checksum_crc32c.as_deref()),
        ("crc64nvme", input.checksum_crc64nvme.as_deref()),
    ];
    for (algo, value) in sent {
        if let (Some(value), Some(ours)) = (value, computed.get(algo))
            && value != ours
        {
            return Err(s3_error!(
                BadDigest,
                "The {algo} you specified ({value}) did not match the checksum of the object \
                 combined from its parts ({ours})."
            ));
        }
    }
    Ok(())
}

fn keep_cutoff() -> String {
    let keep = chrono::Duration::from_std(COMPLETED_KEEP).unwrap_or(chrono::Duration::hours(1));
    (chrono::Utc::now() - keep).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Gateway {
    /// The lock one instance's Completes of an upload take in turn.
    fn completing(&self, upload_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.completing.get_with(upload_id.to_owned(), || {
            Arc::new(tokio::sync::Mutex::new(()))
        })
    }
}

/// This instance's turn among the cluster's Completes of one upload: a cluster-wide lock while
/// other instances may share the state DB (PostgreSQL), released when dropped. Without it, a
/// Complete retried through another instance while the first still runs would write the object
/// again (or fail on staged parts the first has just removed).
struct ClusterTurn {
    db: StateDb,
    lease: Option<ClusterLease>,
}

/// How often a Complete waiting for another instance's Complete of the same upload looks again.
const CLUSTER_TURN_POLL: Duration = Duration::from_millis(100);

impl ClusterTurn {
    async fn take(db: &StateDb, upload_id: &str) -> S3Result<Self> {
        let mut turn = Self {
            db: db.clone(),
            lease: None,
        };
        if !db.is_shared() {
            return Ok(turn);
        }
        let name = format!("complete {upload_id}");
        loop {
            if let Some(lease) = db.try_cluster_lock(&name).await.map_err(db_err)? {
                turn.lease = Some(lease);
                return Ok(turn);
            }
            tokio::time::sleep(CLUSTER_TURN_POLL).await;
        }
    }
}

impl Drop for ClusterTurn {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            let db = self.db.clone();
            tokio::spawn(async move { db.release_cluster_lock(lease).await });
        }
    }
}

/// A Complete for an upload that is gone: the first answer when it completed a moment ago
/// with this part list.
async fn completed_again(
    gw: &Gateway,
    s: &Session,
    input: &CompleteMultipartUploadInput,
    requested: &[(i32, String)],
) -> S3Result<CompleteMultipartUploadOutput> {
    if ulid::Ulid::from_string(&input.upload_id).is_err() {
        return Err(no_such_upload());
    }
    let done = gw
        .store()
        .db()
        .get_completed(&input.upload_id, &keep_cutoff())
        .await
        .map_err(db_err)?
        .filter(|d| d.principal == s.principal() && d.bucket == input.bucket && d.key == input.key)
        .ok_or_else(no_such_upload)?;
    if parts_digest(named_parts(requested).into_iter()) != done.parts_digest {
        return Err(s3_error!(
            InvalidPart,
            "The upload was completed with another part list; one or more of the specified parts could not be found."
        ));
    }
    let answer: Answer = serde_json::from_str(&done.result).unwrap_or_default();
    Ok(output(
        done.bucket,
        done.key,
        &done.etag,
        done.version_id,
        &answer.checksums,
    ))
}

pub(crate) async fn complete_multipart_upload(
    gw: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    // All of it in a task of its own: past `COMPLETE_INLINE_WAIT` the work goes on inside the
    // response body, which the connection drops when its client hangs up; the task does not
    // stop with it.
    let gw2 = gw.clone();
    // The task keeps the request's span, so its lines carry the request id.
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        let done = complete(gw2, req).await;
        if let Err(e) = &done {
            // Logged here: the client may be gone and never see it.
            tracing::info!(code = ?e.code(), message = ?e.message(), "CompleteMultipartUpload failed");
        }
        done
    }));
    let future = async move {
        match task.await {
            Ok(done) => done,
            Err(e) => Err(internal("the completion task failed", e)),
        }
    };
    // The version id is ScaiDrive's, known only once the file is stored, and a header must be
    // sent before s3s's keep-alive body starts. So wait for the upload a while: most finish
    // within it and get a complete answer (with `x-amz-version-id`, and a real error status);
    // longer ones continue inside the keep-alive body, which has no room for the header.
    let mut future: futures::future::BoxFuture<'static, S3Result<CompleteMultipartUploadOutput>> =
        Box::pin(future);
    match tokio::time::timeout(COMPLETE_INLINE_WAIT, &mut future).await {
        Ok(done) => Ok(S3Response::new(done?)),
        Err(_) => Ok(S3Response::new(CompleteMultipartUploadOutput {
            future: Some(future),
            ..Default::default()
        })),
    }
}

/// The whole Complete: checks, the write, the record, the staging's removal.
async fn complete(
    gw: Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<CompleteMultipartUploadOutput> {
    let gw = &gw;
    let s = gw.session(&req).await?;
    let input = req.input;
    let requested: Vec<(i32, String)> = input
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.as_ref())
        .map(|parts| {
            parts
                .iter()
                .map(|p| {
                    (
                        p.part_number.unwrap_or(0),
                        p.e_tag
                            .as_ref()
                            .map(|e| e.value().to_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // Held until the upload is written: a retry on this instance (or, with PostgreSQL, on any
    // instance) waits, then finds the record.
    let turn = gw.completing(&input.upload_id).lock_owned().await;
    let cluster_turn = ClusterTurn::take(gw.store().db(), &input.upload_id).await?;
    let Some(up) = gw
        .find_upload(&s, &input.upload_id, &input.bucket, &input.key)
        .await?
    else {
        drop((turn, cluster_turn));
        return completed_again(gw, &s, &input, &requested).await;
    };
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let path = bucket.path(&input.key)?;
    gw.require_write(&s, &bucket).await?;
    let stored = gw
        .store()
        .db()
        .list_parts(&up.upload_id)
        .await
        .map_err(db_err)?;
    let parts = validate_parts(&requested, &stored).map_err(|e| match e {
        PartError::Empty => s3_error!(MalformedXML, "You must specify at least one part"),
        PartError::Order => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        ),
        PartError::Missing(n) => s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found (part {n})."
        ),
        PartError::TooSmall(n) => s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size (part {n})."
        ),
    })?;
    check_write_conditions(
        gw,
        &s,
        &bucket,
        &path,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )
    .await?;
    let etag_value = multipart_etag(&parts);
    let digest = parts_digest(
        parts
            .iter()
            .map(|p: &&MultipartPart| (i64::from(p.part_number), p.etag.as_str())),
    );
    let size: u64 = parts.iter().map(|p| p.size).sum();
    let meta = meta_of(&up);
    let mut attrs = meta.attrs.clone();
    attrs.etag = etag_value.clone();
    attrs.part_sizes = Some(parts.iter().map(|p| p.size).collect());
    // Every part's checksums were verified at UploadPart; the object keeps their composite, or
    // for a FULL_OBJECT upload the whole object's CRCs combined from them.
    let part_sums: Vec<Checksums> = parts
        .iter()
        .map(|p| serde_json::from_str(&p.checksums).unwrap_or_default())
        .collect();
    let composite = if meta.full_object {
        let sized: Vec<(Checksums, u64)> = part_sums
            .into_iter()
            .zip(parts.iter().map(|p| p.size))
            .collect();
        super::checksum::full_object(&sized)
    } else {
        super::checksum::composite(&part_sums)
    };
    check_full_object(&input, &composite, meta.full_object)?;
    if !composite.is_empty() {
        attrs.checksums = composite.clone();
    }

    let (bucket_name, key) = (input.bucket.clone(), input.key.clone());
    // Streamed while the parts arrived (`assemble.rs`), or else uploaded from the spool now.
    let streamed = match meta.staging_folder {
        None => gw.assembled(&up.upload_id, &parts, attrs.clone()).await,
        Some(_) => None,
    };
    let written = match streamed {
        Some(done) => done.map_err(store_error)?,
        None => {
            let body = crate::store::progress::logged(
                gw.read_parts(&s, &parts),
                "CompleteMultipartUpload",
                size,
            );
            gw.store()
                .write(
                    &s,
                    WriteRequest {
                        share_id: bucket.share_id.clone(),
                        content_type: attrs.content_type.clone(),
                        path,
                        size,
                        body,
                        create_parents: true,
                        attrs,
                        content_md5: None,
                    },
                )
                .await
                .map_err(store_error)?
        }
    };
    let answer = serde_json::to_string(&Answer {
        checksums: composite.clone(),
    })
    .unwrap_or_else(|_| "{}".into());
    gw.store()
        .db()
        .finish_upload(
            CompletedUpload {
                upload_id: up.upload_id.clone(),
                principal: up.principal.clone(),
                bucket: bucket_name.clone(),
                key: key.clone(),
                etag: etag_value.clone(),
                version_id: written.version_id.clone(),
                parts_digest: digest,
                result: answer,
                completed_at: now(),
            },
            &keep_cutoff(),
        )
        .await
        .map_err(db_err)?;
    drop((turn, cluster_turn));
    if meta.staging_folder.is_none() {
        // Local spool files go after the answer (deleting a GiB of them takes a disk's while;
        // the upload is already recorded as completed, and the maintenance sweep removes a
        // directory whose removal a stop cut short).
        let gw = gw.clone();
        tokio::spawn(async move { gw.discard_upload(None, &up.upload_id, &meta).await });
    } else {
        gw.discard_upload(Some(&s), &up.upload_id, &meta).await;
    }
    Ok(output(
        bucket_name,
        key,
        &etag_value,
        written.version_id,
        &composite,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_part_list_has_the_digest_of_the_parts_it_names() {
        let stored = parts_digest([(1, "aa"), (2, "bb")].into_iter());
        let retry = vec![(1, "\"aa\"".to_owned()), (2, "\"bb\"".to_owned())];
        assert_eq!(parts_digest(named_parts(&retry).into_iter()), stored);
        let twice = vec![
            (1, "zz".to_owned()),
            (1, "aa".to_owned()),
            (2, "bb".to_owned()),
        ];
        assert_eq!(parts_digest(named_parts(&twice).into_iter()), stored);
        let other = vec![(1, "aa".to_owned())];
        assert_ne!(parts_digest(named_parts(&other).into_iter()), stored);
    }
}
