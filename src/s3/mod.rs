//! The S3 front end (s3s): one file per operation group over the protocol-neutral store.

use crate::server::{FrontEnd, GatewayContext};

/// The S3 service for the S3 listener.
pub fn front_end(_ctx: &GatewayContext) -> FrontEnd {
    // PLACEHOLDER until the s3s service lands.
    FrontEnd::placeholder("s3", "S3 front end not enabled in this build\n")
}
