//! Bucket configuration documents kept in the state DB (`bucket_configs`: lifecycle, tagging,
//! CORS) read back as the S3 types they were written from.

use s3s::xml::{Deserialize, Deserializer};

use crate::state::BucketConfig;

/// A stored document read back (`None`, logged, when it no longer parses).
pub(crate) fn from_xml<T: for<'x> Deserialize<'x>>(cfg: &BucketConfig) -> Option<T> {
    let mut d = Deserializer::new(cfg.document.as_bytes());
    match T::deserialize(&mut d) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(scope = %cfg.scope, kind = cfg.kind.as_str(), error = ?e, "a stored bucket configuration does not parse");
            None
        }
    }
}
