//! The ScaiDrive client: the only code in the gateway that speaks HTTP to ScaiDrive.
//!
//! One [`Client`] (cheap to clone, one connection pool) serves every user; each call takes the
//! caller's [`Token`]. Calls are typed ([`types`]), errors are classified once into an
//! [`ErrorKind`] from the status and any of the three documented error body shapes, and retries
//! follow [`retry`]: 429 after `Retry-After` for replayable requests, 5xx and transport errors
//! with exponential back-off and full jitter for idempotent ones only.
//!
//! Layout: [`client`] (core, retry loop, rate-limit bookkeeping), [`pace`] (waiting before a
//! request when the token's rate-limit budget is low), `token` (the bearer token), [`error`],
//! [`retry`],
//! [`range`], [`types`], and one file per endpoint group: `users` (also platform probes),
//! `shares`, `folders` (with `listing_stream`, a listing parsed as it arrives), `files`, `uploads`, `changes`, `links`, `acl` (permissions and ACLs).
//!
//! The wire contract is `docs/emulator.md` (the emulator) and `shared/scaidrive-api.md` (the
//! real service); parsing is liberal so that the client works against both.

pub mod acl;
pub mod client;
pub mod error;
pub mod pace;
pub mod range;
pub mod retry;
pub mod types;

mod changes;
mod files;
mod folder_types;
mod folders;
mod links;
mod listing_stream;
mod shares;
mod token;
mod uploads;
mod users;

/// ScaiDrive's documented hard limit of one multipart `POST /files` request.
pub const SINGLE_POST_LIMIT: u64 = 5_368_709_120;

pub use client::{Client, ClientOptions, RateLimitState, Token};
pub use error::{Error, ErrorKind, Result};
pub use files::{Download, UploadFile};
pub use folder_types::*;
pub use range::{ByteRange, ContentRange};
pub use types::*;
pub use uploads::CHUNK_SHA256_HEADER;
