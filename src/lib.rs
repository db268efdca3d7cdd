//! `scaidrive-gateway`: S3 and WebDAV front ends for ScaiDrive, and a local ScaiDrive emulator.
//!
//! # Layout
//!
//! - [`scaidrive`] — the only code that speaks HTTP to ScaiDrive: typed calls, retries, error kinds.
//! - [`emulator`] — a local ScaiDrive (documented API subset) over real HTTP with persistent
//!   storage; the test backend and the embedded default of `serve`.
//! - [`namespace`] — name mapping: shares ↔ buckets / top-level collections, keys ↔ folder chains.
//! - [`store`] — the protocol-neutral file store both front ends call.
//! - [`auth`] — S3 / WebDAV credentials → a session (principal + ScaiDrive token).
//! - [`s3`] — the S3 front end (s3s).
//! - [`policy`] — bucket policies: parsing, validation and evaluation (pure).
//! - [`webdav`] — the WebDAV front end (dav-server).
//! - [`config`], [`state`], [`server`], [`metrics`], [`logging`] — configuration, the gateway's
//!   state database, listeners, Prometheus counters, log set-up.
//! - [`maintenance`] — sweeps at start and periodically: deletes a crash cut short, staging debris.

pub mod auth;
pub mod config;
pub mod emulator;
pub mod logging;
pub mod maintenance;
pub mod metrics;
pub mod namespace;
pub mod policy;
pub mod s3;
pub mod scaidrive;
pub mod server;
pub mod state;
pub mod store;
pub mod webdav;
