//! Public access through ScaiDrive external links (`docs/mapping.md` § Public access).
//!
//! An AllUsers READ grant becomes a ScaiDrive `DOWNLOAD` link made with the caller's token
//! (ScaiDrive checks SHARE), recorded in the state DB with the bucket, the key or prefix it
//! serves and the access key that made it. An anonymous GET/HEAD or listing is served with that
//! creator's credential, only inside the recorded scope and only while ScaiDrive says the link
//! is active and unrestricted (status re-read at most every `cache.ttl_secs`). Making the
//! resource private again revokes the link. [`make_public`] / [`make_private`] are the entry
//! points for other features (bucket policies) that open a bucket or prefix to anonymous reads.

use std::time::Duration;

use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};

use super::acl::target::{Target, bucket_target};
use super::error::store_error;
use super::policy_check::{Asker, DENIED_BY_POLICY, denies_public_read};
use super::{BucketRef, Gateway};
use crate::auth::Session;
use crate::scaidrive::acl::ResourceType;
use crate::scaidrive::{CreateLink, ErrorKind, Link};
use crate::state::PublicLink;

/// What an anonymous request asks to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want<'a> {
    /// GET/HEAD of one object (the current version).
    Object(&'a str),
    /// A listing under a prefix.
    List(&'a str),
}

/// What a bucket-level (or prefix) public grant opens to anonymous requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// ListObjects / ListObjectsV2 under the prefix.
    pub list: bool,
    /// GET / HEAD of the objects under the prefix.
    pub read: bool,
}

/// How long a link's ScaiDrive status is trusted: the listing TTL (no caching when the
/// metadata cache is off).
pub(crate) fn status_ttl(cfg: &crate::config::Config) -> Option<Duration> {
    cfg.cache
        .enabled
        .then(|| Duration::from_secs(cfg.cache.ttl_secs.max(1)))
}

fn db_error(e: crate::state::StateError) -> S3Error {
    tracing::error!(error = %e, "public link lookup failed");
    s3_error!(
        ServiceUnavailable,
        "the state database is unavailable, please retry"
    )
}

fn upstream(e: crate::scaidrive::Error) -> S3Error {
    store_error(crate::store::StoreError::from(e))
}

/// Whether ScaiDrive's link may be served by the gateway to anyone: active, not expired, a
/// `DOWNLOAD` link, and none of the restrictions ScaiDrive enforces only at its own endpoint
/// (password, IP or e-mail restriction, download or view caps).
pub(crate) fn servable(l: &Link) -> bool {
    let unrestricted = !l.password_required
        && !l.require_email
        && l.allowed_ips.as_ref().is_none_or(Vec::is_empty)
        && l.allowed_emails.as_ref().is_none_or(Vec::is_empty)
        && l.max_downloads.is_none()
        && l.max_views.is_none();
    l.status.as_deref() == Some("active")
        && l.link_type.as_deref().is_none_or(|t| t == "DOWNLOAD")
        && l.expires_at.is_none_or(|t| t > chrono::Utc::now())
        && unrestricted
}

/// The link's ScaiDrive status as its creator sees it, cached [`status_ttl`]: `Some(true)`
/// servable, `Some(false)` not (now), `None` gone for good (revoked or deleted).
async fn link_state(gw: &Gateway, creator: &Session, link_id: &str) -> S3Result<Option<bool>> {
    if let Some(v) = gw.public_status.get(link_id).await {
        return Ok(v);
    }
    let state = match gw.store().client().get_link(creator.token(), link_id).await {
        Ok(l) if l.status.as_deref() == Some("revoked") => None,
        Ok(l) => Some(servable(&l)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Gone) => None,
        // The creator's token no longer works: nothing is served with it.
        Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => Some(false),
        Err(e) => return Err(upstream(e)),
    };
    gw.public_status.insert(link_id.to_owned(), state).await;
    Ok(state)
}

/// The creator's session of a recorded link, when its credential still works (a deleted key
/// or an expired temporary credential ends public access through it).
async fn creator(gw: &Gateway, l: &PublicLink) -> Option<Session> {
    match gw.ctx.auth.by_access_key(&l.access_key_id).await {
        Ok(pair) if pair.session.principal() == l.principal => Some(pair.session),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(error = %e, link = %l.link_id, "public link's credential unusable");
            None
        }
    }
}

/// The creator's session when the recorded link is active in ScaiDrive. A link revoked or
/// deleted there is forgotten.
async fn active(gw: &Gateway, l: &PublicLink) -> S3Result<Option<Session>> {
    let Some(s) = creator(gw, l).await else {
        return Ok(None);
    };
    match link_state(gw, &s, &l.link_id).await? {
        Some(true) => Ok(Some(s)),
        Some(false) => Ok(None),
        None => {
            tracing::info!(link = %l.link_id, bucket = %l.bucket, "public link gone in ScaiDrive; forgotten");
            let _ = gw.store().delete_public_link(l).await;
            Ok(None)
        }
    }
}

/// The records of `bucket`, read from the state DB (for anonymous requests, which have no
/// session to check the bucket's share with).
async fn records(gw: &Gateway, bucket: &str) -> S3Result<Vec<PublicLink>> {
    gw.ctx
        .auth
        .db()
        .public_links(bucket)
        .await
        .map_err(db_error)
}

/// The records of `bucket` as the signer of `s` acts on them: kept in memory while the bucket's
/// share is current (`store/policies.rs`), so a PUT's revocation of its key's link costs no
/// state-DB read when the bucket has none.
async fn records_of(
    gw: &Gateway,
    s: &Session,
    bucket: &str,
) -> S3Result<std::sync::Arc<Vec<PublicLink>>> {
    let b = gw.bucket(s, bucket).await?;
    gw.store()
        .public_links(s, &b.share_id, bucket)
        .await
        .map_err(db_error)
}

/// The ScaiDrive resource of a prefix of a bucket (`""`: the bucket itself).
async fn prefix_target(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    prefix: &str,
) -> S3Result<Option<Target>> {
    let rel: Vec<String> = prefix
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if rel.is_empty() {
        return bucket_target(gw, s, bucket).await.map(Some);
    }
    let mut segments = bucket.base.clone();
    segments.extend(rel);
    let folder = gw
        .store()
        .resolve_folder(s, &bucket.share_id, &segments)
        .await
        .map_err(store_error)?
        .and_then(|f| f.folder_id);
    Ok(folder.map(|id| Target {
        rt: ResourceType::Folder,
        id,
        share_id: bucket.share_id.clone(),
        bucket: true,
    }))
}

fn rt_name(rt: ResourceType) -> &'static str {
    match rt {
        ResourceType::File => "file",
        ResourceType::Folder => "folder",
        ResourceType::Share => "share",
    }
}

/// Whether `l` covers the request (before its link and scope are checked upstream).
fn covers(l: &PublicLink, want: Want<'_>) -> bool {
    match want {
        Want::Object(key) if l.object => l.read && l.key == key,
        Want::Object(key) => l.read && key.starts_with(&l.key),
        Want::List(_) if l.object => false,
        Want::List(prefix) => l.list && prefix.starts_with(&l.key),
    }
}

/// The session an anonymous request on `bucket` acts with: its link creator's, when an active
/// gateway-made link covers the request and still names the same ScaiDrive resource. Otherwise
/// 403 AccessDenied (404 NoSuchBucket / NoSuchKey once an active link shows the bucket or object
/// was public and is gone). An explicit Deny of the bucket policy for `asker` wins over the link
/// (403).
async fn anonymous(
    gw: &Gateway,
    bucket: &str,
    want: Want<'_>,
    asker: &Asker<'_>,
) -> S3Result<Session> {
    let denied = || s3_error!(AccessDenied, "Access Denied");
    for l in records(gw, bucket).await? {
        if !covers(&l, want) {
            continue;
        }
        let Some(s) = active(gw, &l).await? else {
            continue;
        };
        let b = gw.bucket(&s, bucket).await?;
        if b.share_id != l.share_id {
            continue;
        }
        let same = if l.object {
            let Want::Object(key) = want else { continue };
            let found = super::found::find(gw, &s, &b, key, None).await?;
            match found.file {
                Some(f) => f.id == l.resource_id,
                None => prefix_target(gw, &s, &b, key)
                    .await?
                    .is_some_and(|t| t.id == l.resource_id),
            }
        } else {
            prefix_target(gw, &s, &b, &l.key)
                .await?
                .is_some_and(|t| t.id == l.resource_id)
        };
        if same {
            let (action, key) = match want {
                Want::Object(key) => ("s3:GetObject", Some(key)),
                Want::List(_) => ("s3:ListBucket", None),
            };
            if denies_public_read(gw, &s, &b, key, action, asker).await? {
                return Err(s3_error!(AccessDenied, "{}", DENIED_BY_POLICY));
            }
            return Ok(s);
        }
    }
    Err(denied())
}

/// The session of a read request: the signer's, or for an anonymous request the one
/// [`anonymous`] finds. Versioned anonymous reads are refused (a link serves the current
/// object).
pub(crate) async fn read_session<T>(
    gw: &Gateway,
    req: &S3Request<T>,
    bucket: &str,
    want: Want<'_>,
    version_id: Option<&str>,
) -> S3Result<Session> {
    if req.credentials.is_some() {
        return gw.session(req).await;
    }
    if version_id.is_some() {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    anonymous(gw, bucket, want, &Asker::of(req, bucket, None)).await
}

/// Serves a read: `read` with the session [`read_session`] gives, and when a signed read is
/// refused, once more with a covering public link's session ([`fall_back`]).
pub(crate) async fn serve_read<'a, T, R>(
    gw: &Gateway,
    req: &S3Request<T>,
    bucket: &str,
    want: Want<'_>,
    version_id: Option<&str>,
    read: impl Fn(Session) -> futures::future::BoxFuture<'a, S3Result<R>>,
) -> S3Result<R> {
    let s = read_session(gw, req, bucket, want, version_id).await?;
    match read(s).await {
        Err(e) => {
            let ps = fall_back(gw, req, bucket, want, version_id, e).await?;
            read(ps).await
        }
        ok => ok,
    }
}

/// After a signed read was refused (AccessDenied, or NoSuchBucket: not visible to the signer):
/// the session of a public link that covers it, since AllUsers includes every signed caller;
/// otherwise the refusal `e` as it was. NoSuchKey is final: a signer who can list the folder
/// sees every key in it (ScaiDrive lists names without READ on each), so it costs no lookup.
pub(crate) async fn fall_back<T>(
    gw: &Gateway,
    req: &S3Request<T>,
    bucket: &str,
    want: Want<'_>,
    version_id: Option<&str>,
    e: S3Error,
) -> S3Result<Session> {
    let refused = matches!(
        e.code(),
        S3ErrorCode::AccessDenied | S3ErrorCode::NoSuchBucket
    );
    if req.credentials.is_none() || version_id.is_some() || !refused {
        return Err(e);
    }
    // The signer, as the policy names them (a Deny for this user wins over the link too).
    let signer = gw.session(req).await?;
    let asker = Asker::of(req, bucket, Some(signer.principal()));
    match anonymous(gw, bucket, want, &asker).await {
        Ok(s) => Ok(s),
        Err(denied) if denied.message() == Some(DENIED_BY_POLICY) => Err(denied),
        Err(_) => Err(e),
    }
}

/// The answer to an anonymous request that is never served (writes, deletes): NoSuchBucket
/// when an active link shows the bucket was public and it is gone, else AccessDenied.
pub(crate) async fn refuse_anonymous(gw: &Gateway, bucket: &str) -> S3Error {
    let denied = s3_error!(AccessDenied, "Access Denied");
    let Ok(recs) = records(gw, bucket).await else {
        return denied;
    };
    for l in recs {
        if let Ok(Some(s)) = active(gw, &l).await
            && let Err(e) = gw.bucket(&s, bucket).await
        {
            return e;
        }
    }
    denied
}

/// The active public link recorded for exactly this target (object `key`, or a bucket-level
/// grant at prefix `key`), if any.
pub(crate) async fn find_active(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    object: bool,
    t: &Target,
) -> S3Result<Option<PublicLink>> {
    for l in records(gw, bucket).await? {
        if l.object == object
            && l.key == key
            && l.resource_id == t.id
            && l.read == object
            && active(gw, &l).await?.is_some()
        {
            return Ok(Some(l));
        }
    }
    Ok(None)
}

/// Where a public grant applies: bucket `bucket` and the object `key` (`object`) or the key
/// prefix `key`, opening what `scope` says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub object: bool,
    pub scope: Scope,
}

impl<'a> Place<'a> {
    /// One object's public grant (S3's object READ: reading it).
    pub(crate) fn object(bucket: &'a str, key: &'a str) -> Self {
        Self {
            bucket,
            key,
            object: true,
            scope: Scope {
                list: false,
                read: true,
            },
        }
    }

    /// A bucket's public grant through its ACL (S3's bucket READ: listing it).
    pub(crate) fn bucket(bucket: &'a str) -> Self {
        Self {
            bucket,
            key: "",
            object: false,
            scope: Scope {
                list: true,
                read: false,
            },
        }
    }
}

/// Makes `t` (at `place`) publicly readable with the caller's token: a `DOWNLOAD` link,
/// recorded for `access_key`. ScaiDrive refuses without SHARE (AccessDenied). An active link
/// already recorded for the same grant is kept.
pub(crate) async fn link_target(
    gw: &Gateway,
    s: &Session,
    access_key: &str,
    place: Place<'_>,
    t: &Target,
) -> S3Result<()> {
    let Place {
        bucket,
        key,
        object,
        scope,
    } = place;
    for l in records_of(gw, s, bucket).await?.iter() {
        if l.object == object
            && l.key == key
            && l.resource_id == t.id
            && l.list == scope.list
            && l.read == scope.read
            && active(gw, l).await?.is_some()
        {
            return Ok(());
        }
    }
    let req = CreateLink {
        resource_type: rt_name(t.rt).to_owned(),
        resource_id: t.id.clone(),
        share_id: t.share_id.clone(),
        link_type: "DOWNLOAD".to_owned(),
        custom_name: Some(format!("S3 public access: {bucket}/{key}")),
        ..CreateLink::default()
    };
    let link = gw
        .store()
        .client()
        .create_link(s.token(), &req)
        .await
        .map_err(upstream)?;
    let rec = PublicLink {
        link_id: link.id.clone(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        object,
        list: scope.list,
        read: scope.read,
        share_id: t.share_id.clone(),
        resource_type: rt_name(t.rt).to_owned(),
        resource_id: t.id.clone(),
        access_key_id: access_key.to_owned(),
        principal: s.principal().to_owned(),
        created_at: chrono::Utc::now(),
    };
    if let Err(e) = gw.store().put_public_link(&rec).await {
        // Not recorded: nothing would ever revoke it, so take it back now.
        let _ = gw.store().client().delete_link(s.token(), &link.id).await;
        return Err(db_error(e));
    }
    tracing::info!(link = %link.id, bucket, key, object, "public link made");
    gw.public_status.insert(link.id, Some(true)).await;
    Ok(())
}

/// Revokes every recorded link at `place` (an object's; or a bucket's or prefix's of the same
/// scope, so an ACL change leaves what a bucket policy opened alone), with the caller's token,
/// or the creator's when ScaiDrive lets only the creator revoke.
pub(crate) async fn unlink(gw: &Gateway, s: &Session, place: Place<'_>) -> S3Result<()> {
    let Place {
        bucket,
        key,
        object,
        scope,
    } = place;
    for l in records_of(gw, s, bucket).await?.iter() {
        let same_scope = object || (l.list == scope.list && l.read == scope.read);
        if l.object != object || l.key != key || !same_scope {
            continue;
        }
        let client = gw.store().client();
        let mut result = client.delete_link(s.token(), &l.link_id).await;
        if let Err(e) = &result
            && matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden)
            && let Some(c) = creator(gw, l).await
        {
            result = client.delete_link(c.token(), &l.link_id).await;
        }
        match result {
            Ok(()) => {}
            // Already revoked or gone in ScaiDrive (or not visible to anyone we act for).
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Gone) => {}
            Err(e) => return Err(upstream(e)),
        }
        tracing::info!(link = %l.link_id, bucket, key, object, "public link revoked");
        gw.public_status.invalidate(&l.link_id).await;
        gw.store().delete_public_link(l).await.map_err(db_error)?;
    }
    Ok(())
}

/// For bucket policies and other callers: makes bucket `bucket` (or the folder `prefix` in it,
/// `""` for the whole bucket) publicly readable for anonymous requests as `scope` says, with
/// the caller's credential (`access_key`, `s`). ScaiDrive must let the caller make external
/// links (SHARE), else AccessDenied. Idempotent.
pub async fn make_public(
    gw: &Gateway,
    s: &Session,
    access_key: &str,
    bucket: &str,
    prefix: &str,
    scope: Scope,
) -> S3Result<()> {
    let b = gw.bucket(s, bucket).await?;
    let t = prefix_target(gw, s, &b, prefix)
        .await?
        .ok_or_else(|| s3_error!(NoSuchKey, "the prefix names no folder"))?;
    let place = Place {
        bucket,
        key: prefix,
        object: false,
        scope,
    };
    link_target(gw, s, access_key, place, &t).await
}

/// Undoes [`make_public`]: revokes the links of bucket `bucket` at `prefix` made with `scope`
/// (an ACL's bucket-level grant, `Scope { list: true, read: false }`, is another).
pub async fn make_private(
    gw: &Gateway,
    s: &Session,
    bucket: &str,
    prefix: &str,
    scope: Scope,
) -> S3Result<()> {
    let place = Place {
        bucket,
        key: prefix,
        object: false,
        scope,
    };
    unlink(gw, s, place).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn link() -> Link {
        serde_json::from_value(serde_json::json!({
            "id": "lnk_1", "status": "active", "link_type": "DOWNLOAD"
        }))
        .unwrap()
    }

    #[test]
    fn only_active_unrestricted_download_links_are_served() {
        assert!(servable(&link()));
        let mut l = link();
        l.status = Some("disabled".into());
        assert!(!servable(&l));
        let mut l = link();
        l.password_required = true;
        assert!(!servable(&l));
        let mut l = link();
        l.allowed_ips = Some(vec!["10.0.0.0/8".into()]);
        assert!(!servable(&l));
        let mut l = link();
        l.allowed_emails = Some(vec!["a@b.c".into()]);
        assert!(!servable(&l));
        let mut l = link();
        l.require_email = true;
        assert!(!servable(&l));
        let mut l = link();
        l.max_downloads = Some(5);
        assert!(!servable(&l));
        let mut l = link();
        l.max_views = Some(5);
        assert!(!servable(&l));
        let mut l = link();
        l.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
        assert!(!servable(&l));
        let mut l = link();
        l.link_type = Some("UPLOAD".into());
        assert!(!servable(&l));
    }

    #[test]
    fn object_links_cover_their_key_and_bucket_links_their_prefix() {
        let mut l = PublicLink {
            link_id: "lnk".into(),
            bucket: "b".into(),
            key: "a/b.txt".into(),
            object: true,
            list: false,
            read: true,
            share_id: "s".into(),
            resource_type: "file".into(),
            resource_id: "f".into(),
            access_key_id: "k".into(),
            principal: "p".into(),
            created_at: chrono::Utc::now(),
        };
        assert!(covers(&l, Want::Object("a/b.txt")));
        assert!(!covers(&l, Want::Object("a/b.txt2")));
        assert!(!covers(&l, Want::List("")));
        l.object = false;
        l.key = String::new();
        l.read = false;
        l.list = true;
        assert!(covers(&l, Want::List("")));
        assert!(covers(&l, Want::List("x/")));
        assert!(!covers(&l, Want::Object("a/b.txt")));
        l.key = "docs/".into();
        l.read = true;
        assert!(covers(&l, Want::Object("docs/x")));
        assert!(!covers(&l, Want::Object("other")));
        assert!(!covers(&l, Want::List("")));
    }
}
