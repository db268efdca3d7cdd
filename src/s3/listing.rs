//! ListObjects and ListObjectsV2 as a request gets them: listed with the signer's session, or,
//! for an anonymous request or a signer ScaiDrive refuses, with the session of a public link
//! that covers the listing (`docs/mapping.md` § Public access).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::Gateway;
use super::list::{list_objects_as, list_objects_v2_as};
use super::public::{Want, fall_back, read_session};

pub(crate) async fn list_objects(
    gw: &Gateway,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let s = read_session(
        gw,
        &req,
        &req.input.bucket,
        Want::List(req.input.prefix.as_deref().unwrap_or_default()),
        None,
    )
    .await?;
    match list_objects_as(gw, &s, &req.uri, req.input.clone()).await {
        Err(e) => {
            let ps = fall_back(
                gw,
                &req,
                &req.input.bucket,
                Want::List(req.input.prefix.as_deref().unwrap_or_default()),
                None,
                e,
            )
            .await?;
            list_objects_as(gw, &ps, &req.uri, req.input).await
        }
        ok => ok,
    }
}

pub(crate) async fn list_objects_v2(
    gw: &Gateway,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let s = read_session(
        gw,
        &req,
        &req.input.bucket,
        Want::List(req.input.prefix.as_deref().unwrap_or_default()),
        None,
    )
    .await?;
    match list_objects_v2_as(gw, &s, &req.uri, req.input.clone()).await {
        Err(e) => {
            let ps = fall_back(
                gw,
                &req,
                &req.input.bucket,
                Want::List(req.input.prefix.as_deref().unwrap_or_default()),
                None,
                e,
            )
            .await?;
            list_objects_v2_as(gw, &ps, &req.uri, req.input).await
        }
        ok => ok,
    }
}
