//! The WebDAV front end (dav-server) over the protocol-neutral store.

use crate::server::{FrontEnd, GatewayContext};

/// The WebDAV handler for the WebDAV listener.
pub fn front_end(_ctx: &GatewayContext) -> FrontEnd {
    // PLACEHOLDER until the dav-server handler lands.
    FrontEnd::placeholder("webdav", "WebDAV front end not enabled in this build\n")
}
