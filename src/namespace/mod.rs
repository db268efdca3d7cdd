//! Name mapping: shares ↔ S3 buckets and WebDAV top-level collections, object keys and WebDAV
//! paths ↔ ScaiDrive folder chains and file names. Pure functions, no I/O.

pub mod bucket;
pub mod key;

pub use bucket::{ShareRef, assign_bucket_names, assign_collection_names, slugify};
pub use key::{
    MAX_KEY_BYTES, MAX_SEGMENT_BYTES, NameError, ObjectPath, STAGING_FOLDER, TRASH_DIR,
    VERSIONS_DIR, validate_segment,
};

#[cfg(test)]
mod proptests;
