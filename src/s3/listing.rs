//! ListObjects and ListObjectsV2 as a request gets them: listed with the signer's session, or,
//! for an anonymous request or a signer ScaiDrive refuses, with the session of a public link
//! that covers the listing (`docs/mapping.md` § Public access).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::Gateway;
use super::list::{list_objects_as, list_objects_v2_as};
use super::public::{Want, serve_read};

pub(crate) async fn list_objects(
    gw: &Gateway,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let (uri, input) = (&req.uri, &req.input);
    serve_read(
        gw,
        &req,
        &input.bucket,
        Want::List(input.prefix.as_deref().unwrap_or_default()),
        None,
        |s| Box::pin(async move { list_objects_as(gw, &s, uri, input.clone()).await }),
    )
    .await
}

pub(crate) async fn list_objects_v2(
    gw: &Gateway,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let (uri, input) = (&req.uri, &req.input);
    serve_read(
        gw,
        &req,
        &input.bucket,
        Want::List(input.prefix.as_deref().unwrap_or_default()),
        None,
        |s| Box::pin(async move { list_objects_v2_as(gw, &s, uri, input.clone()).await }),
    )
    .await
}
