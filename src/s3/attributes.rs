//! GetObjectAttributes: what HEAD tells, in one answer and only what was asked for: ETag,
//! Checksum (the object's full-object or composite checksum kept at upload), ObjectParts (the
//! parts of a multipart-written object, from the part sizes kept at Complete), StorageClass
//! and ObjectSize. Versions as GET/HEAD find them; a delete marker's version id answers 405.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::found::find;
use super::{Gateway, etag, timestamp};

/// The parts one answer lists at most (S3's default and limit).
const MAX_PARTS: i32 = 1000;

pub(crate) async fn get_object_attributes(
    gw: &Gateway,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let s = gw.session(&req).await?;
    let input = &req.input;
    let bucket = gw.bucket(&s, &input.bucket).await?;
    // One header, comma-separated (as SDKs send it), or several.
    let wanted = |name: &str| {
        input
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(','))
            .any(|a| a.trim().eq_ignore_ascii_case(name))
    };
    if input.object_attributes.is_empty() {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-object-attributes must name at least one of ETag, Checksum, ObjectParts, \
             StorageClass, ObjectSize"
        ));
    }
    let found = find(gw, &s, &bucket, &input.key, input.version_id.as_deref()).await?;
    let attrs = found.attrs.as_ref();
    let mut out = GetObjectAttributesOutput {
        last_modified: found.modified.as_ref().map(timestamp),
        version_id: found.version_id.clone(),
        ..Default::default()
    };
    if wanted(ObjectAttributes::ETAG) {
        out.e_tag = Some(etag(&found.etag));
    }
    if wanted(ObjectAttributes::OBJECT_SIZE) {
        out.object_size = i64::try_from(found.size).ok();
    }
    if wanted(ObjectAttributes::STORAGE_CLASS) {
        out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
    }
    if wanted(ObjectAttributes::CHECKSUM)
        && let Some(a) = attrs
        && !a.checksums.is_empty()
    {
        let get = |k: &str| a.checksums.get(k).cloned();
        let composite = a.checksums.values().any(|v| v.contains('-'));
        out.checksum = Some(Checksum {
            checksum_crc32: get("crc32"),
            checksum_crc32c: get("crc32c"),
            checksum_crc64nvme: get("crc64nvme"),
            checksum_sha1: get("sha1"),
            checksum_sha256: get("sha256"),
            checksum_type: Some(ChecksumType::from_static(if composite {
                ChecksumType::COMPOSITE
            } else {
                ChecksumType::FULL_OBJECT
            })),
        });
    }
    if wanted(ObjectAttributes::OBJECT_PARTS)
        && let Some(sizes) = attrs.and_then(|a| a.part_sizes.as_ref())
    {
        out.object_parts = Some(parts(sizes, input.max_parts, input.part_number_marker)?);
    }
    Ok(S3Response::new(out))
}

/// One page of a multipart-written object's parts (numbered from 1).
fn parts(
    sizes: &[u64],
    max_parts: Option<i32>,
    marker: Option<i32>,
) -> S3Result<GetObjectAttributesParts> {
    let max = match max_parts {
        Some(n) if n < 0 => {
            return Err(s3_error!(InvalidArgument, "max-parts must not be negative"));
        }
        Some(n) => n.min(MAX_PARTS),
        None => MAX_PARTS,
    };
    let after = marker.unwrap_or(0).max(0);
    let numbered = sizes
        .iter()
        .enumerate()
        .filter_map(|(i, size)| Some((i32::try_from(i + 1).ok()?, *size)))
        .filter(|(n, _)| *n > after);
    let mut list = Vec::new();
    let mut truncated = false;
    for (n, size) in numbered {
        if list.len() >= usize::try_from(max).unwrap_or(0) {
            truncated = true;
            break;
        }
        list.push(ObjectPart {
            part_number: Some(n),
            size: i64::try_from(size).ok(),
            ..Default::default()
        });
    }
    let next = list.last().and_then(|p| p.part_number);
    Ok(GetObjectAttributesParts {
        total_parts_count: i32::try_from(sizes.len()).ok(),
        part_number_marker: Some(after),
        next_part_number_marker: truncated.then_some(next).flatten(),
        max_parts: Some(max),
        is_truncated: Some(truncated),
        parts: Some(list),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parts_page_by_marker_and_max() {
        let sizes = [5, 5, 3];
        let all = parts(&sizes, None, None).unwrap();
        assert_eq!(all.total_parts_count, Some(3));
        assert_eq!(all.parts.as_ref().unwrap().len(), 3);
        assert_eq!(all.is_truncated, Some(false));
        let first = parts(&sizes, Some(2), None).unwrap();
        assert_eq!(first.is_truncated, Some(true));
        assert_eq!(first.next_part_number_marker, Some(2));
        let rest = parts(&sizes, Some(2), Some(2)).unwrap();
        let list = rest.parts.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].part_number, Some(3));
        assert_eq!(list[0].size, Some(3));
        assert!(parts(&sizes, Some(-1), None).is_err());
    }
}
