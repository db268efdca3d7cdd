//! Object tagging: PutObjectTagging, GetObjectTagging, DeleteObjectTagging, `x-amz-tagging` on
//! PutObject and `x-amz-tagging-count` on GET/HEAD. ScaiDrive has no tags, so the tag set is kept
//! with the object's attributes in the state DB (the `x-amz-tagging` entry of its headers, in
//! the header's own `k=v&k2=v2` form); it follows the object through copies like its metadata.
//! One tag set per key: ScaiDrive's older versions share the current one.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::error::store_error;
use super::found::find;
use crate::state::ObjectAttrs;

/// Where the tag set lives in [`ObjectAttrs::headers`].
pub(crate) const TAGS_KEY: &str = "x-amz-tagging";

/// S3's limits: 10 tags per object, keys up to 128 and values up to 256 characters.
const MAX_TAGS: usize = 10;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

fn invalid_tag(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidTag, msg.to_owned())
}

/// Checks a tag set against S3's limits.
pub(crate) fn validate(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(invalid_tag("Object tags cannot be greater than 10"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// Parses the `x-amz-tagging` form (`k1=v1&k2=v2`, URL-encoded).
pub(crate) fn parse_header(value: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn encode(tags: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(tags)
        .finish()
}

/// Stores `tags` in `attrs`, sorted by key as S3 returns them (an empty set removes the entry).
pub(crate) fn set(attrs: &mut ObjectAttrs, tags: &[(String, String)]) {
    if tags.is_empty() {
        attrs.headers.remove(TAGS_KEY);
    } else {
        let mut sorted = tags.to_vec();
        sorted.sort();
        attrs.headers.insert(TAGS_KEY.to_owned(), encode(&sorted));
    }
}

/// The tag set stored in `attrs`.
pub(crate) fn get(attrs: Option<&ObjectAttrs>) -> Vec<(String, String)> {
    attrs
        .and_then(|a| a.headers.get(TAGS_KEY))
        .map(|v| parse_header(v))
        .unwrap_or_default()
}

/// The value of `x-amz-tagging-count` for an object, if it has tags.
pub(crate) fn count_header(attrs: Option<&ObjectAttrs>) -> Option<http::HeaderValue> {
    let n = get(attrs).len();
    (n > 0).then(|| http::HeaderValue::from(n))
}

pub(crate) async fn put_object_tagging(
    gw: &Gateway,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    let tags: Vec<(String, String)> = input
        .tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    validate(&tags)?;
    let found = find(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    let Some(file) = &found.file else {
        return Err(s3_error!(
            NotImplemented,
            "directory markers cannot carry tags here"
        ));
    };
    gw.store()
        .update_attrs(&bucket.share_id, file, |a| set(a, &tags))
        .await
        .map_err(store_error)?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: found.version.map(|v| v.1),
    }))
}

pub(crate) async fn get_object_tagging(
    gw: &Gateway,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    let found = find(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    let tag_set = get(found.attrs.as_ref())
        .into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect();
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set,
        version_id: found.version.map(|v| v.1),
    }))
}

pub(crate) async fn delete_object_tagging(
    gw: &Gateway,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let s = gw.session(&req).await?;
    let input = req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    gw.require_write(&s, &bucket).await?;
    let found = find(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    if let Some(file) = &found.file
        && !get(found.attrs.as_ref()).is_empty()
    {
        gw.store()
            .update_attrs(&bucket.share_id, file, |a| set(a, &[]))
            .await
            .map_err(store_error)?;
    }
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: found.version.map(|v| v.1),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tag_sets_round_trip_through_the_header_form() {
        let t = tags(&[("é", ""), ("a b", "x&y=z")]);
        let mut attrs = ObjectAttrs::default();
        set(&mut attrs, &t);
        assert_eq!(get(Some(&attrs)), tags(&[("a b", "x&y=z"), ("é", "")]));
        assert_eq!(count_header(Some(&attrs)).unwrap(), "2");
        set(&mut attrs, &[]);
        assert!(get(Some(&attrs)).is_empty());
        assert!(count_header(Some(&attrs)).is_none());
    }

    #[test]
    fn tag_limits_are_s3s() {
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(validate(&ten).is_ok());
        let mut eleven = ten.clone();
        eleven.push(("k10".into(), "v".into()));
        assert_eq!(validate(&eleven).unwrap_err().code().as_str(), "InvalidTag");
        assert!(validate(&tags(&[(&"k".repeat(128), &"v".repeat(256))])).is_ok());
        let long_key = tags(&[(&"k".repeat(129), "v")]);
        assert_eq!(
            validate(&long_key).unwrap_err().code().as_str(),
            "InvalidTag"
        );
        let long_value = tags(&[("k", &"v".repeat(257))]);
        assert_eq!(
            validate(&long_value).unwrap_err().code().as_str(),
            "InvalidTag"
        );
        let twice = tags(&[("k", "1"), ("k", "2")]);
        assert_eq!(validate(&twice).unwrap_err().code().as_str(), "InvalidTag");
    }
}
