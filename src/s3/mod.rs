//! The S3 front end (s3s): one file per operation group over the protocol-neutral store.
//!
//! - [`front_end`] builds the s3s service: [`Gateway`] (the `S3` implementation), [`auth`]
//!   (SigV4/SigV2 secrets from the [`Authenticator`](crate::auth::Authenticator)), virtual-host
//!   parsing when `s3.domain` is set (path style always works), and [`sts`] (temporary
//!   credentials, `POST /` with `Action=…`).
//! - The dispatch point is the `impl S3 for Gateway` below; each operation lives in its group's
//!   file (`bucket`, `get`, `put`, `list`, `delete`, `copy`, `multipart` with `complete` and
//!   `staging`, `versions`, `tagging`, `acl`, `policy`; `bucketcfg` with `lifecycle` and
//!   `cors` for the bucket configuration the gateway keeps itself).
//! - [`access`] evaluates the bucket's policy on every request (s3s's access hook).
//! - [`error`] maps every store error kind to its S3 code, once; [`edge`] wraps the s3s
//!   service for what s3s itself answers unlike S3 (and puts the request id in error bodies).
//!
//! Decisions (bucket modes, directory markers, ETags, versions) are written down in
//! `docs/s3.md`.

mod access;
mod acl;
mod assemble;
mod attributes;
mod attrs;
mod auth;
mod bucket;
mod bucketcfg;
mod checksum;
mod complete;
mod copy;
mod cors;
mod delete;
mod edge;
mod error;
mod found;
mod get;
mod lifecycle;
mod lifecycle_run;
mod list;
mod listing;
mod markers;
mod multipart;
mod policy;
mod policy_check;
pub mod public;
mod put;
mod spool_file;
mod staging;
mod stored;
mod sts;
mod tagging;
mod versions;
mod xml_cap;

use std::path::PathBuf;
use std::time::Duration;

use s3s::config::{S3Config, StaticConfigProvider};
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use crate::auth::Session;
use crate::namespace::ObjectPath;
use crate::server::{FrontEnd, GatewayContext};
use crate::store::Store;

pub use error::store_error;
pub use lifecycle_run::{Lifecycle, LifecycleTask, PassReport};

/// Tunables of the S3 front end.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Multipart uploads not completed or aborted within this age are removed (state and
    /// spooled parts). From `s3.multipart_max_age_secs` (default 24 hours).
    pub multipart_max_age: Duration,
    /// How often the clean-up of abandoned uploads runs.
    pub cleanup_interval: Duration,
    /// Where new uploads stage their parts (`s3.multipart_staging`; by default local with
    /// SQLite, ScaiDrive with PostgreSQL).
    pub staging: crate::config::MultipartStaging,
    /// Multipart uploads streamed upstream while their parts arrive, at most this many at once
    /// (`s3.multipart_stream_max`; 0: none, see `assemble.rs`).
    pub stream_max: usize,
    /// How long a streamed upload may have nothing to send before it is dropped upstream.
    pub stream_idle: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        Self::from_config(&crate::config::Config::default())
    }
}

impl S3Options {
    /// The options of a configuration: the clean-up runs hourly, or more often when the
    /// maximum age is shorter than an hour.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        let secs = cfg.s3.multipart_max_age_secs.max(1);
        let staging = cfg.s3.multipart_staging.unwrap_or(match cfg.state.url {
            Some(_) => crate::config::MultipartStaging::ScaiDrive,
            None => crate::config::MultipartStaging::Local,
        });
        Self {
            multipart_max_age: Duration::from_secs(secs),
            cleanup_interval: Duration::from_secs(secs.min(3600)),
            staging,
            stream_max: cfg.s3.multipart_stream_max,
            stream_idle: Duration::from_secs(cfg.s3.multipart_stream_idle_secs.max(1)),
        }
    }
}

/// The S3 service for the S3 listener.
pub fn front_end(ctx: &GatewayContext) -> FrontEnd {
    front_end_with(ctx, S3Options::from_config(&ctx.config))
}

/// [`front_end`] with explicit options. Starts the abandoned-upload clean-up task (it needs a
/// tokio runtime, which the gateway start-up provides).
pub fn front_end_with(ctx: &GatewayContext, opts: S3Options) -> FrontEnd {
    let gateway = Gateway::new(ctx, opts);
    multipart::spawn_cleanup(gateway.clone());
    let access = access::PolicyAccess::new(gateway.clone());
    let mut builder = S3ServiceBuilder::new(gateway);
    builder.set_access(access);
    builder.set_config(std::sync::Arc::new(StaticConfigProvider::new(
        std::sync::Arc::new(s3s_config()),
    )));
    builder.set_auth(auth::GatewayAuth::new(ctx.auth.clone()));
    builder.set_route(sts::StsRoute::new(ctx.auth.clone(), ctx.config.sts.clone()));
    if let Some(domain) = ctx.config.s3.domain.as_deref() {
        builder.set_host(auth::DomainHost::new(domain));
    }
    FrontEnd::new(
        "s3",
        edge::Edge::new(
            builder.build(),
            &ctx.config.s3.region,
            ctx.config.s3.domain.as_deref(),
            ctx.store.db().clone(),
        ),
    )
}

/// Whether `host` names a bucket, virtual-host style, under `domain` (`s3.domain`).
pub fn names_bucket(domain: &str, host: &str) -> bool {
    auth::host_bucket(&auth::normalise_domain(domain), host).is_some()
}

/// The largest file a browser POST (PostObject) may carry. s3s gathers a POST's file part in
/// memory before it checks the policy (it cannot stream it), so the gateway bounds it far below
/// s3s's default of 5 GB; larger files go up with PutObject or a multipart upload.
pub const POST_OBJECT_MAX_BYTES: u64 = 32 << 20;

/// s3s's settings: its defaults, with the PostObject bound above and XML bodies bounded as
/// the edge bounds them.
fn s3s_config() -> S3Config {
    let mut config = S3Config::default();
    config.post_object_max_file_size = POST_OBJECT_MAX_BYTES;
    config.xml_max_body_size = usize::try_from(xml_cap::MAX_XML_BODY).unwrap_or(usize::MAX);
    config
}

/// The `S3` implementation: the store, the authenticator and the S3 settings.
#[derive(Clone)]
pub struct Gateway {
    ctx: GatewayContext,
    opts: S3Options,
    staging: PathBuf,
    /// ScaiDrive user id → display name (S3 Owner and grantee DisplayName).
    names: moka::future::Cache<String, String>,
    /// Upload id → the lock Completes of that upload take in turn on this instance.
    completing: moka::sync::Cache<String, std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// Public link id → its ScaiDrive status (`public::link_state`), at most `cache.ttl_secs`.
    public_status: moka::future::Cache<String, Option<bool>>,
    /// Multipart uploads being streamed upstream while their parts arrive.
    assemblers: std::sync::Arc<assemble::Assemblers>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("staging", &self.staging)
            .finish_non_exhaustive()
    }
}

/// A bucket resolved for one user: the share it lives in and the folder chain that is its
/// root (empty in `share` mode, the bucket's folder in `folders` mode).
#[derive(Debug, Clone)]
pub(crate) struct BucketRef {
    pub share_id: String,
    pub base: Vec<String>,
}

impl BucketRef {
    /// The store path of an object key in this bucket; unmappable keys are refused.
    pub fn path(&self, key: &str) -> S3Result<ObjectPath> {
        let rel = ObjectPath::from_key(key).map_err(error::name_error)?;
        self.rebase(&rel)
    }

    /// `rel` (relative to the bucket) as a path in the share.
    pub fn rebase(&self, rel: &ObjectPath) -> S3Result<ObjectPath> {
        if self.base.is_empty() {
            return Ok(rel.clone());
        }
        let mut segments = self.base.clone();
        segments.extend(rel.segments().iter().cloned());
        ObjectPath::from_segments(segments, rel.is_dir()).map_err(error::name_error)
    }
}

impl Gateway {
    fn new(ctx: &GatewayContext, opts: S3Options) -> Self {
        Self {
            staging: ctx.config.data_dir.join("staging"),
            assemblers: std::sync::Arc::new(assemble::Assemblers::new(opts.stream_max)),
            ctx: ctx.clone(),
            opts,
            names: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
            completing: moka::sync::Cache::builder()
                .time_to_idle(complete::COMPLETED_KEEP)
                .build(),
            public_status: match public::status_ttl(&ctx.config) {
                Some(ttl) => moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(ttl)
                    .build(),
                None => moka::future::Cache::new(0),
            },
        }
    }

    /// The ScaiDrive `display_name` of user `id` (the caller's from `GET /users/me`, others'
    /// from the principal search), cached five minutes; the id itself when none is found.
    pub(crate) async fn display_name(&self, s: &Session, id: &str) -> String {
        if let Some(n) = self.names.get(id).await {
            return n;
        }
        let client = self.store().client();
        let found = if id == s.principal() {
            client
                .me(s.token())
                .await
                .ok()
                .and_then(|u| u.display_name.or(u.name))
        } else if id.starts_with("usr_") {
            client
                .search_users(s.token(), id)
                .await
                .ok()
                .and_then(|us| {
                    us.into_iter()
                        .find(|u| u.id == id)
                        .and_then(|u| u.display_name.or(u.name))
                })
        } else {
            None
        };
        match found {
            Some(n) => {
                self.names.insert(id.to_owned(), n.clone()).await;
                n
            }
            None => id.to_owned(),
        }
    }

    /// The S3 Owner for the calling user: its ScaiDrive id and display name.
    pub(crate) async fn owner(&self, s: &Session) -> s3s::dto::Owner {
        s3s::dto::Owner {
            display_name: Some(self.display_name(s, s.principal()).await),
            id: Some(s.principal().to_owned()),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The session of a signed request. Anonymous requests never get here with a session.
    pub(crate) async fn session<T>(&self, req: &S3Request<T>) -> S3Result<Session> {
        let Some(cred) = req.credentials.as_ref() else {
            return Err(s3_error!(AccessDenied, "anonymous access is not allowed"));
        };
        if let Some(signed) = req.extensions.get::<access::SignedSession>() {
            return Ok(signed.0.clone());
        }
        let token = auth::session_token(&req.headers, &req.uri);
        match self
            .ctx
            .auth
            .signed(&cred.access_key, token.as_deref())
            .await
        {
            Ok(pair) => Ok(pair.session),
            Err(e) => Err(auth::auth_error(e)),
        }
    }

    /// The access key of a signed request (multipart uploads are bound to it).
    pub(crate) fn access_key<T>(req: &S3Request<T>) -> String {
        req.credentials
            .as_ref()
            .map(|c| c.access_key.clone())
            .unwrap_or_default()
    }

    /// Resolves a bucket name for this user: `NoSuchBucket` when it does not exist.
    pub(crate) async fn bucket(&self, s: &Session, name: &str) -> S3Result<BucketRef> {
        bucket::resolve(self, s, name)
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket, "the bucket does not exist"))
    }
}

/// Quotes an ETag value for S3 (`"…"`).
pub(crate) fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

/// An upstream time as an S3 timestamp.
pub(crate) fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from(std::time::SystemTime::from(*t))
}

/// An S3 timestamp as a chrono time (second precision, as HTTP dates are).
pub(crate) fn to_chrono(t: &Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::EpochSeconds, &mut buf).ok()?;
    let text = std::str::from_utf8(&buf).ok()?;
    let secs = text.split('.').next()?.parse::<i64>().ok()?;
    chrono::DateTime::from_timestamp(secs, 0)
}

#[async_trait::async_trait]
impl S3 for Gateway {
    // Buckets
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        if req.credentials.is_none() {
            // Anonymous: no buckets are anyone's (public objects are read by their URL).
            return Ok(S3Response::new(ListBucketsOutput {
                buckets: Some(Vec::new()),
                ..Default::default()
            }));
        }
        bucket::list_buckets(self, req).await
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let acl = acl::OwnedAcl::for_create(
            req.input.acl.as_ref().map(|a| a.as_str()),
            req.input.grant_full_control.clone(),
            req.input.grant_read.clone(),
            req.input.grant_read_acp.clone(),
            req.input.grant_write.clone(),
            req.input.grant_write_acp.clone(),
        );
        acl::check_request(&acl.as_req(), true)?;
        let name = req.input.bucket.clone();
        let session = self.session(&req).await?;
        // `private` and the other owner-only ACLs change nothing on a new bucket; any other
        // must be settable before the bucket is made, and a refusal afterwards undoes it.
        let changes = acl::changes_entries(&acl.as_req())?;
        let existed = match changes {
            true => {
                bucket::check_acl_settable(self, &session).await?;
                self.bucket(&session, &name).await.is_ok()
            }
            false => false,
        };
        let access_key = Self::access_key(&req);
        let out = bucket::create_bucket(self, req).await?;
        if changes {
            let b = self.bucket(&session, &name).await?;
            let at = acl::PublicAt {
                access_key: &access_key,
                bucket: &name,
                key: None,
            };
            if let Err(e) = acl::apply_bucket_acl(self, &session, &b, at, &acl.as_req()).await {
                if !existed {
                    bucket::undo_create(self, &session, &b).await;
                }
                return Err(e);
            }
        }
        Ok(out)
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let policy = policy::resource_for_cleanup(self, &req).await;
        let out = bucket::delete_bucket(self, req).await?;
        policy::forget(self, policy).await;
        Ok(out)
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        bucket::head_bucket(self, req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        bucket::get_bucket_location(self, req).await
    }
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        versions::get_bucket_versioning(self, req).await
    }
    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        versions::put_bucket_versioning(self, req).await
    }

    // Objects
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        get::get_object(self, req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        get::head_object(self, req).await
    }
    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        attributes::get_object_attributes(self, req).await
    }
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let acl = acl::OwnedAcl::for_create(
            req.input.acl.as_ref().map(|a| a.as_str()),
            req.input.grant_full_control.clone(),
            req.input.grant_read.clone(),
            req.input.grant_read_acp.clone(),
            None,
            req.input.grant_write_acp.clone(),
        );
        acl::check_request(&acl.as_req(), false)?;
        let (name, key) = (req.input.bucket.clone(), req.input.key.clone());
        let session = self.session(&req).await?;
        let access_key = Self::access_key(&req);
        let out = put::put_object(self, req).await?;
        let at = acl::PublicAt {
            access_key: &access_key,
            bucket: &name,
            key: Some(&key),
        };
        acl::apply_after_write(self, &session, at, &acl).await?;
        Ok(out)
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        if req.credentials.is_none() {
            return Err(public::refuse_anonymous(self, &req.input.bucket).await);
        }
        delete::delete_object(self, req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        delete::delete_objects(self, req).await
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let acl = acl::OwnedAcl::for_create(
            req.input.acl.as_ref().map(|a| a.as_str()),
            req.input.grant_full_control.clone(),
            req.input.grant_read.clone(),
            req.input.grant_read_acp.clone(),
            None,
            req.input.grant_write_acp.clone(),
        );
        acl::check_request(&acl.as_req(), false)?;
        let (name, key) = (req.input.bucket.clone(), req.input.key.clone());
        let session = self.session(&req).await?;
        let access_key = Self::access_key(&req);
        let out = copy::copy_object(self, req).await?;
        let at = acl::PublicAt {
            access_key: &access_key,
            bucket: &name,
            key: Some(&key),
        };
        acl::apply_after_write(self, &session, at, &acl).await?;
        Ok(out)
    }

    // Listings
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        listing::list_objects(self, req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        listing::list_objects_v2(self, req).await
    }
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        versions::list_object_versions(self, req).await
    }

    // Multipart
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart::create_multipart_upload(self, req).await
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(self, req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        multipart::upload_part_copy(self, req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        // The completed object is new and private: a public link of its key is revoked.
        let (name, key) = (req.input.bucket.clone(), req.input.key.clone());
        let session = self.session(&req).await?;
        let out = complete::complete_multipart_upload(self, req).await?;
        public::unlink(self, &session, public::Place::object(&name, &key)).await?;
        Ok(out)
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort_multipart_upload(self, req).await
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(self, req).await
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_multipart_uploads(self, req).await
    }

    // Tagging
    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        tagging::put_object_tagging(self, req).await
    }
    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        tagging::get_object_tagging(self, req).await
    }
    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        tagging::delete_object_tagging(self, req).await
    }

    // Bucket policies
    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        policy::put_bucket_policy(self, req).await
    }
    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        policy::get_bucket_policy(self, req).await
    }
    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        policy::delete_bucket_policy(self, req).await
    }
    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        policy::get_bucket_policy_status(self, req).await
    }

    // Bucket configuration kept by the gateway
    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        bucketcfg::put_bucket_lifecycle_configuration(self, req).await
    }
    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        bucketcfg::get_bucket_lifecycle_configuration(self, req).await
    }
    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        bucketcfg::delete_bucket_lifecycle(self, req).await
    }
    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        bucketcfg::put_bucket_tagging(self, req).await
    }
    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        bucketcfg::get_bucket_tagging(self, req).await
    }
    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        bucketcfg::delete_bucket_tagging(self, req).await
    }
    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        bucketcfg::put_bucket_cors(self, req).await
    }
    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        bucketcfg::get_bucket_cors(self, req).await
    }
    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        bucketcfg::delete_bucket_cors(self, req).await
    }

    // ACL stubs
    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        acl::get_bucket_acl(self, req).await
    }
    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        acl::put_bucket_acl(self, req).await
    }
    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        acl::get_object_acl(self, req).await
    }
    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        acl::put_object_acl(self, req).await
    }
}
