//! Per-bucket configuration the gateway keeps itself: Put/Get/DeleteBucketLifecycle
//! (validated in [`super::lifecycle`]), Put/Get/DeleteBucketTagging and Put/Get/DeleteBucketCors
//! (validated in [`super::cors`]). Each is one S3 XML document in the state DB's
//! `bucket_configs`, keyed by the bucket's [`scope`], read from the database on every use so
//! that all instances agree at once. Putting needs write access to the bucket, reading needs
//! the bucket to be visible.

use s3s::dto::*;
use s3s::xml::{Serialize, Serializer};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::error::internal;
use super::stored::from_xml;
use super::{BucketRef, Gateway};
use crate::auth::Session;
use crate::state::{BucketConfig, ConfigKind};

/// The key of a bucket's documents: its share id, and in `folders` mode `share id/folder`.
pub(crate) fn scope(bucket: &BucketRef) -> String {
    if bucket.base.is_empty() {
        bucket.share_id.clone()
    } else {
        format!("{}/{}", bucket.share_id, bucket.base.join("/"))
    }
}

/// The bucket of a scope (the inverse of [`scope`]).
pub(crate) fn bucket_of(scope: &str) -> BucketRef {
    match scope.split_once('/') {
        Some((share, base)) => BucketRef {
            share_id: share.to_owned(),
            base: base.split('/').map(str::to_owned).collect(),
        },
        None => BucketRef {
            share_id: scope.to_owned(),
            base: Vec::new(),
        },
    }
}

/// A document as stored XML.
pub(crate) fn to_xml<T: Serialize>(doc: &T) -> S3Result<String> {
    let mut buf = Vec::new();
    doc.serialize(&mut Serializer::new(&mut buf)).map_err(|e| {
        internal(
            "serialising a bucket configuration failed",
            format!("{e:?}"),
        )
    })?;
    String::from_utf8(buf).map_err(|e| internal("bucket configuration is not UTF-8", e))
}

fn db_err(e: crate::state::StateError) -> S3Error {
    internal("bucket configuration state failed", e)
}

/// The stored document of `kind` for a bucket.
pub(crate) async fn load(
    gw: &Gateway,
    bucket: &BucketRef,
    kind: ConfigKind,
) -> S3Result<Option<BucketConfig>> {
    gw.store()
        .db()
        .get_bucket_config(&scope(bucket), kind)
        .await
        .map_err(db_err)
}

async fn put<T>(
    gw: &Gateway,
    req: &S3Request<T>,
    s: &Session,
    (name, bucket): (&str, &BucketRef),
    kind: ConfigKind,
    document: String,
) -> S3Result<()> {
    gw.store()
        .db()
        .put_bucket_config(BucketConfig {
            scope: scope(bucket),
            bucket: name.to_owned(),
            kind,
            document,
            access_key_id: Gateway::access_key(req),
            principal: s.principal().to_owned(),
            updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
        .await
        .map_err(db_err)
}

async fn remove(gw: &Gateway, bucket: &BucketRef, kind: ConfigKind) -> S3Result<()> {
    gw.store()
        .db()
        .delete_bucket_config(&scope(bucket), kind)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Forgets every document of a bucket (DeleteBucket: a new bucket of the same name starts
/// without them). Failures are logged; the bucket is gone either way.
pub(crate) async fn forget_all(gw: &Gateway, bucket: &BucketRef) {
    for kind in [ConfigKind::Lifecycle, ConfigKind::Tagging, ConfigKind::Cors] {
        if let Err(e) = gw
            .store()
            .db()
            .delete_bucket_config(&scope(bucket), kind)
            .await
        {
            tracing::warn!(error = %e, kind = kind.as_str(), "could not forget a deleted bucket's configuration");
        }
    }
}

// Lifecycle

pub(crate) async fn put_bucket_lifecycle_configuration(
    gw: &Gateway,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    let Some(config) = req.input.lifecycle_configuration.clone() else {
        return Err(s3_error!(MissingRequestBodyError, "Request Body is empty"));
    };
    let config = super::lifecycle::validate(config)?;
    let document = to_xml(&config)?;
    put(
        gw,
        &req,
        &s,
        (&req.input.bucket, &bucket),
        ConfigKind::Lifecycle,
        document,
    )
    .await?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub(crate) async fn get_bucket_lifecycle_configuration(
    gw: &Gateway,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    let config = load(gw, &bucket, ConfigKind::Lifecycle)
        .await?
        .and_then(|c| from_xml::<BucketLifecycleConfiguration>(&c))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::NoSuchLifecycleConfiguration,
                "The lifecycle configuration does not exist".to_owned(),
            )
        })?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(config.rules),
        ..Default::default()
    }))
}

pub(crate) async fn delete_bucket_lifecycle(
    gw: &Gateway,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    remove(gw, &bucket, ConfigKind::Lifecycle).await?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput {}))
}

// Tagging

/// S3's bounds of a bucket's tag set: 50 tags, keys up to 128 and values up to 256 characters,
/// unique keys, no `aws:` prefix.
fn validate_bucket_tags(tags: &[(String, String)]) -> S3Result<()> {
    let invalid = |m: &str| S3Error::with_message(S3ErrorCode::InvalidTag, m.to_owned());
    if tags.len() > 50 {
        return Err(invalid("Bucket tag count cannot be greater than 50"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("System tags cannot be added/updated by requester"));
        }
        if tags[..i].iter().any(|(o, _)| o == k) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

pub(crate) async fn put_bucket_tagging(
    gw: &Gateway,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    let tags: Vec<(String, String)> = req
        .input
        .tagging
        .tag_set
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    validate_bucket_tags(&tags)?;
    let document = to_xml(&req.input.tagging)?;
    put(
        gw,
        &req,
        &s,
        (&req.input.bucket, &bucket),
        ConfigKind::Tagging,
        document,
    )
    .await?;
    Ok(S3Response::new(PutBucketTaggingOutput {}))
}

pub(crate) async fn get_bucket_tagging(
    gw: &Gateway,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    let tagging = load(gw, &bucket, ConfigKind::Tagging)
        .await?
        .and_then(|c| from_xml::<Tagging>(&c))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::NoSuchTagSet,
                "The TagSet does not exist".to_owned(),
            )
        })?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tagging.tag_set,
    }))
}

pub(crate) async fn delete_bucket_tagging(
    gw: &Gateway,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    remove(gw, &bucket, ConfigKind::Tagging).await?;
    Ok(S3Response::new(DeleteBucketTaggingOutput {}))
}

// CORS

pub(crate) async fn put_bucket_cors(
    gw: &Gateway,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    super::cors::validate(&req.input.cors_configuration)?;
    let document = to_xml(&req.input.cors_configuration)?;
    put(
        gw,
        &req,
        &s,
        (&req.input.bucket, &bucket),
        ConfigKind::Cors,
        document,
    )
    .await?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

pub(crate) async fn get_bucket_cors(
    gw: &Gateway,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    let cors = load(gw, &bucket, ConfigKind::Cors)
        .await?
        .and_then(|c| from_xml::<CORSConfiguration>(&c))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::NoSuchCORSConfiguration,
                "The CORS configuration does not exist".to_owned(),
            )
        })?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(cors.cors_rules),
    }))
}

pub(crate) async fn delete_bucket_cors(
    gw: &Gateway,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    remove(gw, &bucket, ConfigKind::Cors).await?;
    Ok(S3Response::new(DeleteBucketCorsOutput {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_the_share_and_the_folder() {
        let share = BucketRef {
            share_id: "shr_1".into(),
            base: vec![],
        };
        let folder = BucketRef {
            share_id: "shr_1".into(),
            base: vec!["b".into()],
        };
        assert_eq!(scope(&share), "shr_1");
        assert_eq!(scope(&folder), "shr_1/b");
        assert_eq!(bucket_of("shr_1/b").base, vec!["b".to_owned()]);
        assert!(bucket_of("shr_1").base.is_empty());
    }

    #[test]
    fn bucket_tags_are_bounded_unique_and_not_reserved() {
        let t = |k: &str| (k.to_owned(), "v".to_owned());
        assert!(validate_bucket_tags(&[t("a"), t("b")]).is_ok());
        assert!(validate_bucket_tags(&[t("a"), t("a")]).is_err());
        assert!(validate_bucket_tags(&[t("aws:x")]).is_err());
        assert!(validate_bucket_tags(&[t("")]).is_err());
        let many: Vec<_> = (0..51).map(|i| t(&format!("k{i}"))).collect();
        assert!(validate_bucket_tags(&many).is_err());
        assert!(validate_bucket_tags(&many[..50]).is_ok());
    }
}
