//! Bucket policies: S3's policy language, parsed and validated as S3 does ([`Policy::parse`])
//! and evaluated by the gateway for every request ([`evaluate`]). Pure: no I/O; the S3 front
//! end stores policies in the state DB and builds each request's [`Context`].
//!
//! The gateway uses a policy only to narrow what ScaiDrive already lets a caller do (an
//! explicit Deny refuses the request), and, for anonymous reads, through
//! [`anonymous_allowed`]. See `docs/s3.md` § Bucket policies.

mod condition;
mod document;
mod eval;
mod wildcard;

pub use condition::{Condition, Context, Op, SetQualifier};
pub use document::{
    EXISTING_TAG_PREFIX, Effect, MAX_POLICY_BYTES, Matcher, Policy, PolicyError, Principals,
    SUPPLIED_KEYS, Statement, key_supported,
};
pub use eval::{Decision, Request, anonymous_allowed, evaluate, is_public};
pub use wildcard::matches as wildcard_matches;
