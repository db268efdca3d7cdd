//! Where multipart parts wait for Complete (`s3.multipart_staging`, see `docs/operations.md`):
//!
//! - `local`: spool files under `<data_dir>/staging/<upload_id>/` (one instance);
//! - `scaidrive`: hidden files in `<share root>/.scaidrive-gateway-uploads/<upload_id>/`, written
//!   with the uploader's token, so any instance can take the next part or the Complete and the
//!   parts outlive the loss of an instance.
//!
//! An upload keeps the staging it was created with. Parts are hashed (MD5, Content-MD5 check)
//! on the way in either way; Complete reads them back in order; Complete, Abort and the
//! clean-up delete them (ScaiDrive staging: permanently, never to the trash).

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::Gateway;
use super::assemble::PartFeed;
use super::error::{internal, store_error};
use super::spool_file::SpoolFile;
use crate::auth::Session;
use crate::config::MultipartStaging;
use crate::namespace::STAGING_FOLDER;
use crate::state::{MultipartPart, MultipartUpload as Upload, ObjectAttrs, PartLocation};
use crate::store::{BodyStream, FolderRef};

/// An upload's staging and attributes.
pub(super) fn meta_of(up: &Upload) -> UploadMeta {
    serde_json::from_str(&up.attrs).unwrap_or_default()
}

/// What an upload keeps until Complete (JSON in `multipart_uploads.attrs`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct UploadMeta {
    pub attrs: ObjectAttrs,
    /// The share of the ScaiDrive staging folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_id: Option<String>,
    /// The upload's ScaiDrive staging folder (`None`: local spool files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_folder: Option<String>,
    /// The object's checksum is S3's `FULL_OBJECT` type (the whole object's CRC, combined from
    /// the parts'), not `COMPOSITE`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_object: bool,
}

/// A part, stored.
pub(super) struct Staged {
    pub spool_path: String,
    pub file_id: Option<String>,
    pub size: u64,
    /// MD5 hex.
    pub md5: String,
    /// The feed that let the upload's assembler follow the part while it was spooled.
    pub feed: Option<PartFeed>,
}

impl Gateway {
    pub(super) fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.staging.join(upload_id)
    }

    /// Prepares the staging of a new upload in `share_id`; fills in `meta`.
    pub(super) async fn stage_upload(
        &self,
        s: &Session,
        share_id: &str,
        upload_id: &str,
        meta: &mut UploadMeta,
    ) -> S3Result<()> {
        if self.opts.staging == MultipartStaging::Local {
            return tokio::fs::create_dir_all(self.upload_dir(upload_id))
                .await
                .map_err(|e| internal("creating the staging directory", e));
        }
        let folder = self
            .store()
            .staging_folder(s, share_id, upload_id)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => s3_error!(
                    InvalidRequest,
                    "the share holds a file named '{STAGING_FOLDER}' at its top, where multipart parts are kept"
                ),
                e => store_error(e),
            })?;
        meta.share_id = Some(share_id.to_owned());
        meta.staging_folder = Some(folder);
        Ok(())
    }

    /// Stores one part's body (`size` bytes when known), hashing it; a body that fails or
    /// whose MD5 is not `content_md5` (`BadDigest`) leaves nothing behind. A spooled part is
    /// offered to the upload's assembler, which may stream it upstream while it is written
    /// ([`PartFeed`]).
    pub(super) async fn stage_part(
        &self,
        s: &Session,
        up: &Upload,
        part: u32,
        body: BodyStream,
        size: Option<u64>,
        content_md5: Option<[u8; 16]>,
    ) -> S3Result<Staged> {
        let (upload_id, meta) = (&up.upload_id, meta_of(up));
        let name = format!("part-{part:05}-{}", ulid::Ulid::new());
        let (Some(share_id), Some(folder)) = (&meta.share_id, &meta.staging_folder) else {
            let path = self.upload_dir(upload_id).join(&name);
            let mut feed = self.part_feed(s, up, part, &path.to_string_lossy());
            let (size, md5) = spool(&path, body, content_md5, feed.as_mut()).await?;
            return Ok(Staged {
                spool_path: path.to_string_lossy().into_owned(),
                file_id: None,
                size,
                md5,
                feed,
            });
        };
        let Some(size) = size else {
            return Err(s3_error!(
                MissingContentLength,
                "You must provide the Content-Length HTTP header."
            ));
        };
        let parent = FolderRef {
            share_id: share_id.clone(),
            folder_id: Some(folder.clone()),
        };
        let written = self
            .store()
            .write_hidden(s, &parent, &name, size, body, content_md5)
            .await
            .map_err(store_error)?;
        Ok(Staged {
            spool_path: String::new(),
            file_id: Some(written.file_id),
            size: written.size,
            md5: hex::encode(written.md5),
            feed: None,
        })
    }

    /// The parts, read one after another.
    pub(super) fn read_parts(&self, s: &Session, parts: &[&MultipartPart]) -> BodyStream {
        let locations: Vec<(PartLocation, u64)> = parts
            .iter()
            .map(|p| ((p.spool_path.clone(), p.file_id.clone()), p.size))
            .collect();
        let store = self.store().clone();
        let s = s.clone();
        futures::stream::iter(locations)
            .then(move |((path, file_id), size)| {
                let (store, s) = (store.clone(), s.clone());
                async move {
                    match file_id {
                        Some(id) => match store.read(&s, &id, None, None).await {
                            Ok(dl) => dl
                                .body
                                .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
                                .boxed(),
                            Err(e) => futures::stream::once(async move {
                                Err(std::io::Error::other(format!("staged part {id}: {e}")))
                            })
                            .boxed(),
                        },
                        // Spool files are not fsynced (docs/operations.md): one cut short by a
                        // crash of the machine fails the upload instead of storing less.
                        None => match read_part(&path, size).await {
                            Ok(body) => body,
                            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
                        },
                    }
                }
            })
            .flatten()
            .boxed()
    }

    /// Deletes a part that was replaced or could not be recorded.
    pub(super) async fn discard_part(&self, s: &Session, (path, file_id): PartLocation) {
        match file_id {
            Some(id) => {
                if let Err(e) = self.store().delete_staged_file(s, &id).await {
                    tracing::warn!(error = %e, file_id = %id, "could not delete a staged part");
                }
            }
            None if !path.is_empty() => {
                let _ = tokio::fs::remove_file(path).await;
            }
            None => {}
        }
    }

    /// Deletes everything an upload staged (`s`: the uploader's session; without one the
    /// ScaiDrive staging folder cannot be reached and is left for the next sweep).
    pub(super) async fn discard_upload(
        &self,
        s: Option<&Session>,
        upload_id: &str,
        meta: &UploadMeta,
    ) {
        match tokio::fs::remove_dir_all(self.upload_dir(upload_id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, upload_id, "could not remove a staging directory"),
        }
        let Some(folder) = &meta.staging_folder else {
            return;
        };
        let Some(s) = s else {
            tracing::warn!(
                upload_id,
                "no credential to delete the upload's staging folder in ScaiDrive"
            );
            return;
        };
        match self.store().delete_staging_folder(s, folder).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, upload_id, "could not delete the upload's staging folder");
            }
        }
    }
}

/// A spool file that must hold `size` bytes, read ([`super::spool_file::read`]).
pub(super) async fn read_part(path: &str, size: u64) -> std::io::Result<BodyStream> {
    let len = tokio::fs::metadata(path).await?.len();
    if len != size {
        return Err(std::io::Error::other(format!(
            "the spooled part {path} holds {len} bytes, not the {size} received (lost in a crash?)"
        )));
    }
    super::spool_file::read(PathBuf::from(path), size).await
}

/// Streams a body into a new spool file `path` ([`SpoolFile`]: around the page cache); returns
/// (size, md5 hex). The file is removed when the body fails or its MD5 is not `content_md5`
/// (`BadDigest`). What is in the file is also handed to `feed` (the upload's assembler, when it
/// follows this part), never before it is there.
///
/// Not fsynced: a part acknowledged survives a restart of the gateway (the file is on the disk
/// or, where `O_DIRECT` is refused, in the page cache), and a spool file cut short by a crash
/// of the machine makes Complete fail (sizes are checked when parts are read back) rather than
/// store other bytes.
async fn spool(
    path: &Path,
    mut body: BodyStream,
    content_md5: Option<[u8; 16]>,
    feed: Option<&mut PartFeed>,
) -> S3Result<(u64, String)> {
    let mut file = SpoolFile::create(path).map_err(|e| internal("creating a part file", e))?;
    let mut md5 = crate::store::md5::Md5::new();
    let mut size = 0u64;
    // Each buffer in the file: counted for the assembler, copied when it follows the part.
    let mut landed = |d: &[u8]| feed.as_deref().and_then(|f| f.landed(d));
    let result: S3Result<[u8; 16]> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| store_error(crate::store::io_error(&e)))?;
            md5.update(&chunk);
            size += chunk.len() as u64;
            let copies = file
                .write(&chunk, &mut landed)
                .await
                .map_err(|e| internal("writing a part file", e))?;
            hand_over(feed.as_deref(), copies).await;
        }
        let copy = file
            .finish(&mut landed)
            .await
            .map_err(|e| internal("writing a part file", e))?;
        hand_over(feed.as_deref(), copy.into_iter().collect()).await;
        let digest: [u8; 16] = md5.finalize();
        if content_md5.is_some_and(|want| want != digest) {
            tracing::info!(path = %path.display(), "Content-MD5 mismatch");
            return Err(store_error(crate::store::StoreError::BadDigest));
        }
        Ok(digest)
    }
    .await;
    if let Some(feed) = feed {
        feed.ended();
    }
    match result {
        Ok(digest) => Ok((size, hex::encode(digest))),
        Err(e) => {
            let _ = tokio::fs::remove_file(path).await;
            Err(e)
        }
    }
}

/// Copies of what is now in the spool file go to the assembler following the part.
async fn hand_over(feed: Option<&PartFeed>, copies: Vec<bytes::Bytes>) {
    if let Some(feed) = feed {
        for chunk in copies {
            feed.send(chunk).await;
        }
    }
}
