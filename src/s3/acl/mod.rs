//! Bucket and object ACLs as ScaiDrive ACLs (`docs/s3.md` § ACLs, `docs/mapping.md`).
//!
//! A bucket is a folder (`folders` mode) or a share (`share` mode), an object a file: S3 grants
//! become one ScaiDrive `allow` entry per grantee on that resource, written and read with the
//! caller's token, so ScaiDrive decides who may change them (MANAGE_PERMISSIONS) and enforces
//! them on every later request. What ScaiDrive cannot represent is refused, never widened.
//! An AllUsers READ grant (`public-read`) is a ScaiDrive external link instead ([`super::public`]).

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::public;
use super::{BucketRef, Gateway};
use crate::auth::Session;
use crate::scaidrive::acl::{AceKey, NewAce, ResourceType, perm};

pub(crate) mod target;

use target::{Target, bucket_target, object_target, upstream};

const URI_ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const URI_AUTHENTICATED: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Bits of S3 READ_ACP + WRITE_ACP: changing the ACL, which in S3 includes making the resource
/// public (an AllUsers grant), which ScaiDrive calls SHARE (external links).
const ACP: u32 = perm::MANAGE_PERMISSIONS | perm::SHARE;
/// Bits of S3 FULL_CONTROL: everything.
const FULL: u32 = perm::ALL;
/// FULL_CONTROL as entries written before it carried SHARE hold it (still read as FULL_CONTROL).
const FULL_CORE: u32 = perm::ALL & !perm::SHARE;
/// Bits of S3 WRITE on a bucket: create, overwrite and delete objects in it.
const BUCKET_WRITE: u32 = perm::WRITE | perm::CREATE | perm::DELETE;

/// An S3 permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum S3Perm {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    Full,
}

impl S3Perm {
    fn parse(s: &str) -> S3Result<Self> {
        match s {
            "READ" => Ok(Self::Read),
            "WRITE" => Ok(Self::Write),
            "READ_ACP" => Ok(Self::ReadAcp),
            "WRITE_ACP" => Ok(Self::WriteAcp),
            "FULL_CONTROL" => Ok(Self::Full),
            other => Err(S3Error::with_message(
                S3ErrorCode::MalformedACLError,
                format!("unknown permission '{other}'"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Read => Permission::READ,
            Self::Write => Permission::WRITE,
            Self::ReadAcp => Permission::READ_ACP,
            Self::WriteAcp => Permission::WRITE_ACP,
            Self::Full => Permission::FULL_CONTROL,
        }
    }
}

/// A grantee as S3 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    /// A canonical user id: the ScaiDrive user id.
    User(String),
    /// `AuthenticatedUsers`: ScaiDrive's `everyone` (the tenant's users).
    Everyone,
    Email(String),
    /// `AllUsers`: anyone, signed or not (only READ: a ScaiDrive external link).
    AllUsers,
}

/// Where a public grant is recorded: the request's access key, the bucket name it used and
/// the object key (`None` for the bucket itself).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicAt<'a> {
    pub access_key: &'a str,
    pub bucket: &'a str,
    pub key: Option<&'a str>,
}

fn not_representable(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::NotImplemented, msg.into())
}

fn public_refused() -> S3Error {
    not_representable(
        "only READ can be granted to AllUsers (a ScaiDrive download link); anonymous writes \
         (public-read-write, AllUsers WRITE or ACP grants) are not supported: the gateway would \
         write with the link creator's token, which may overwrite and delete",
    )
}

fn group_uri(uri: &str) -> S3Result<Who> {
    match uri {
        URI_AUTHENTICATED => Ok(Who::Everyone),
        URI_ALL_USERS => Ok(Who::AllUsers),
        other => Err(not_representable(format!(
            "grants to the group {other} cannot be represented in ScaiDrive"
        ))),
    }
}

/// The grants of a canned ACL (besides the owner's FULL_CONTROL, which is implicit).
fn canned(name: &str) -> S3Result<Vec<(Who, S3Perm)>> {
    match name {
        "private" | "bucket-owner-read" | "bucket-owner-full-control" => Ok(Vec::new()),
        "authenticated-read" => Ok(vec![(Who::Everyone, S3Perm::Read)]),
        "public-read" => Ok(vec![(Who::AllUsers, S3Perm::Read)]),
        "public-read-write" => Err(public_refused()),
        other => Err(not_representable(format!(
            "the canned ACL '{other}' cannot be represented in ScaiDrive"
        ))),
    }
}

/// One `x-amz-grant-*` header: `id="…", emailAddress="…", uri="…"`, comma separated.
fn grant_header(value: &str, p: S3Perm) -> S3Result<Vec<(Who, S3Perm)>> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("bad grantee '{item}'"),
            )
        })?;
        let v = v.trim().trim_matches('"').to_owned();
        let who = match k.trim().to_ascii_lowercase().as_str() {
            "id" => Who::User(v),
            "emailaddress" => Who::Email(v),
            "uri" => group_uri(&v)?,
            _ => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("bad grantee type '{k}'"),
                ));
            }
        };
        out.push((who, p));
    }
    Ok(out)
}

/// The grants of an AccessControlPolicy body.
fn policy(p: &AccessControlPolicy) -> S3Result<Vec<(Who, S3Perm)>> {
    let mut out = Vec::new();
    for g in p.grants.iter().flatten() {
        let Some(grantee) = &g.grantee else {
            return Err(s3_error!(MalformedACLError, "a grant without a grantee"));
        };
        let p = S3Perm::parse(g.permission.as_ref().map_or("", Permission::as_str))?;
        let who = match grantee.type_.as_str() {
            Type::CANONICAL_USER => Who::User(grantee.id.clone().unwrap_or_default()),
            Type::AMAZON_CUSTOMER_BY_EMAIL => {
                Who::Email(grantee.email_address.clone().unwrap_or_default())
            }
            Type::GROUP => group_uri(grantee.uri.as_deref().unwrap_or(""))?,
            other => {
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedACLError,
                    format!("unknown grantee type '{other}'"),
                ));
            }
        };
        out.push((who, p));
    }
    Ok(out)
}

/// The ACL headers of a create or write request, owned (the request is consumed by the write).
#[derive(Debug, Default)]
pub(crate) struct OwnedAcl {
    pub canned: Option<String>,
    pub full_control: Option<String>,
    pub read: Option<String>,
    pub read_acp: Option<String>,
    pub write: Option<String>,
    pub write_acp: Option<String>,
}

impl OwnedAcl {
    /// The ACL of a create or write request. A canned `public-read-write` there keeps its
    /// representable part, `public-read` (anonymous writes are never served); Put…Acl with it
    /// is NotImplemented.
    pub fn for_create(
        canned: Option<&str>,
        full_control: Option<String>,
        read: Option<String>,
        read_acp: Option<String>,
        write: Option<String>,
        write_acp: Option<String>,
    ) -> Self {
        let canned = canned.map(|c| match c {
            "public-read-write" => "public-read".to_owned(),
            other => other.to_owned(),
        });
        Self {
            canned,
            full_control,
            read,
            read_acp,
            write,
            write_acp,
        }
    }

    pub fn as_req(&self) -> AclRequest<'_> {
        AclRequest {
            canned: self.canned.as_deref(),
            policy: None,
            full_control: self.full_control.as_deref(),
            read: self.read.as_deref(),
            read_acp: self.read_acp.as_deref(),
            write: self.write.as_deref(),
            write_acp: self.write_acp.as_deref(),
        }
    }
}

/// After PutObject / CopyObject: applies `x-amz-acl` / `x-amz-grant-*` to the object written.
/// A canned `private` on a new object changes no ScaiDrive entry (it has no explicit entries
/// yet) and costs no call; a public link of the key's former object is revoked (a new object
/// is private unless its request says otherwise, as in S3).
pub(crate) async fn apply_after_write(
    gw: &Gateway,
    s: &Session,
    at: PublicAt<'_>,
    acl: &OwnedAcl,
) -> S3Result<()> {
    let req = acl.as_req();
    let key = at.key.unwrap_or_default();
    if req.is_empty() || (req.canned == Some("private") && acl.full_control.is_none()) {
        return public::unlink(gw, s, public::Place::object(at.bucket, key)).await;
    }
    let b = gw.bucket(s, at.bucket).await?;
    apply_object_acl(gw, s, &b, at, &req).await
}

/// The requested grants of a Put…Acl / create request, or `None` when it asks for nothing.
#[derive(Debug, Default)]
pub(crate) struct AclRequest<'a> {
    pub canned: Option<&'a str>,
    pub policy: Option<&'a AccessControlPolicy>,
    pub full_control: Option<&'a str>,
    pub read: Option<&'a str>,
    pub read_acp: Option<&'a str>,
    pub write: Option<&'a str>,
    pub write_acp: Option<&'a str>,
}

impl AclRequest<'_> {
    fn headers(&self) -> [(Option<&str>, S3Perm); 5] {
        [
            (self.full_control, S3Perm::Full),
            (self.read, S3Perm::Read),
            (self.read_acp, S3Perm::ReadAcp),
            (self.write, S3Perm::Write),
            (self.write_acp, S3Perm::WriteAcp),
        ]
    }

    /// True when the request carries no ACL at all.
    pub fn is_empty(&self) -> bool {
        self.canned.is_none()
            && self.policy.is_none()
            && self.headers().iter().all(|(h, _)| h.is_none())
    }

    /// The grants asked for (canned, headers and body are exclusive).
    fn grants(&self) -> S3Result<Vec<(Who, S3Perm)>> {
        let with_headers = self.headers().iter().any(|(h, _)| h.is_some());
        let sources = usize::from(self.canned.is_some())
            + usize::from(with_headers)
            + usize::from(self.policy.is_some());
        if sources > 1 {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "specify a canned ACL, grant headers or an AccessControlPolicy, not several",
            ));
        }
        if let Some(c) = self.canned {
            return canned(c);
        }
        if let Some(p) = self.policy {
            return policy(p);
        }
        let mut out = Vec::new();
        for (h, p) in self.headers() {
            if let Some(v) = h {
                out.extend(grant_header(v, p)?);
            }
        }
        Ok(out)
    }
}

/// ScaiDrive bits for a grantee's set of S3 permissions; refuses what would widen or narrow.
fn to_bits(perms: &[S3Perm], bucket: bool) -> S3Result<u32> {
    let mut bits = 0;
    let has = |p| perms.contains(&p);
    if has(S3Perm::Full) {
        bits |= FULL;
    }
    if has(S3Perm::Read) {
        bits |= perm::READ;
    }
    if has(S3Perm::Write) {
        bits |= if bucket { BUCKET_WRITE } else { perm::WRITE };
    }
    match (has(S3Perm::ReadAcp), has(S3Perm::WriteAcp)) {
        (true, true) => bits |= ACP,
        (false, false) => {}
        _ if has(S3Perm::Full) => {}
        _ => {
            return Err(not_representable(
                "ScaiDrive has one permission (MANAGE_PERMISSIONS) for reading and writing an \
                 ACL: grant READ_ACP and WRITE_ACP together, or FULL_CONTROL",
            ));
        }
    }
    Ok(bits)
}

/// S3 permissions rendered for a ScaiDrive entry's bits (bits with no S3 word are not shown).
fn from_bits(bits: u32, bucket: bool) -> Vec<S3Perm> {
    let write = if bucket { BUCKET_WRITE } else { perm::WRITE };
    let object_full = FULL_CORE & !perm::CREATE;
    if bits & FULL_CORE == FULL_CORE || (!bucket && bits & object_full == object_full) {
        return vec![S3Perm::Full];
    }
    let mut out = Vec::new();
    if bits & perm::READ != 0 {
        out.push(S3Perm::Read);
    }
    if bits & write == write {
        out.push(S3Perm::Write);
    }
    if bits & perm::MANAGE_PERMISSIONS != 0 {
        out.push(S3Perm::ReadAcp);
        out.push(S3Perm::WriteAcp);
    }
    out
}

/// The owner of a resource (`owner_id` of the file, folder or share).
async fn owner_of(gw: &Gateway, s: &Session, t: &Target) -> S3Result<Owner> {
    let client = gw.store().client();
    let id = match t.rt {
        ResourceType::File => {
            client
                .get_file(s.token(), &t.id)
                .await
                .map_err(upstream)?
                .owner_id
        }
        ResourceType::Folder => {
            client
                .get_folder(s.token(), &t.id)
                .await
                .map_err(upstream)?
                .owner_id
        }
        ResourceType::Share => {
            client
                .get_share(s.token(), &t.id)
                .await
                .map_err(upstream)?
                .owner_id
        }
    };
    let id = id.unwrap_or_else(|| s.principal().to_owned());
    Ok(Owner {
        display_name: Some(gw.display_name(s, &id).await),
        id: Some(id),
    })
}

/// Resolves an email grantee through the documented principal search (exact address).
async fn by_email(gw: &Gateway, s: &Session, email: &str) -> S3Result<String> {
    let users = gw
        .store()
        .client()
        .search_users(s.token(), email)
        .await
        .map_err(upstream)?;
    users
        .into_iter()
        .find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .map(|u| u.id)
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::UnresolvableGrantByEmailAddress,
                "The email address you provided does not match any account on record.",
            )
        })
}

/// Replaces the explicit allow entries of `t` with `grants` (the owner's implicit
/// FULL_CONTROL is skipped). Everything is checked before the first change.
async fn set_acl(
    gw: &Gateway,
    s: &Session,
    t: &Target,
    owner_id: &str,
    grants: Vec<(Who, S3Perm)>,
) -> S3Result<()> {
    let mut wanted: BTreeMap<(String, String), Vec<S3Perm>> = BTreeMap::new();
    for (who, p) in grants {
        let key = match who {
            Who::User(id) => ("user".to_owned(), id),
            Who::Everyone => ("everyone".to_owned(), "everyone".to_owned()),
            Who::Email(e) => ("user".to_owned(), by_email(gw, s, &e).await?),
            // A ScaiDrive external link, not an ACL entry (see `sync_public`).
            Who::AllUsers => continue,
        };
        if key.0 == "user" && key.1 == owner_id && p == S3Perm::Full {
            continue;
        }
        wanted.entry(key).or_default().push(p);
    }
    let mut entries = Vec::new();
    for ((ptype, pid), perms) in &wanted {
        let bits = to_bits(perms, t.bucket)?;
        entries.push(NewAce {
            principal_type: ptype.clone(),
            principal_id: Some(pid.clone()),
            permissions: perm::names(bits),
            ace_type: "allow".to_owned(),
            inherit_to_children: t.bucket,
        });
    }
    let client = gw.store().client();
    let current = client
        .get_acl(s.token(), t.rt, &t.id)
        .await
        .map_err(upstream)?;
    let result = async {
        for ace in current
            .entries
            .iter()
            .filter(|a| !a.inherited && a.ace_type == "allow")
        {
            let key = AceKey {
                principal_type: ace.principal_type.clone(),
                principal_id: ace.principal_id.clone(),
                ace_type: ace.ace_type.clone(),
            };
            client
                .remove_ace(s.token(), t.rt, &t.id, &key)
                .await
                .map_err(upstream)?;
        }
        for e in &entries {
            client
                .add_ace(s.token(), t.rt, &t.id, e)
                .await
                .map_err(upstream)?;
        }
        Ok::<(), S3Error>(())
    }
    .await;
    // Other principals' cached listings and entries may now grant too much or too little.
    gw.store().invalidate_share(&t.share_id).await;
    result
}

fn canonical(id: &str, display_name: Option<String>) -> Grantee {
    Grantee {
        display_name,
        id: Some(id.to_owned()),
        type_: Type::from_static(Type::CANONICAL_USER),
        email_address: None,
        uri: None,
    }
}

/// Whether the request grants AllUsers READ (anything more to AllUsers is refused).
fn wants_public(grants: &[(Who, S3Perm)]) -> S3Result<bool> {
    let mut public = false;
    for (who, p) in grants {
        if *who == Who::AllUsers {
            if *p != S3Perm::Read {
                return Err(public_refused());
            }
            public = true;
        }
    }
    Ok(public)
}

/// Makes `t` public (a link) or private (its gateway-made links revoked) as `grants` say.
async fn sync_public(
    gw: &Gateway,
    s: &Session,
    t: &Target,
    at: PublicAt<'_>,
    public: bool,
) -> S3Result<()> {
    // A bucket's READ is listing; an object's READ is reading it.
    let place = match at.key {
        Some(k) => public::Place::object(at.bucket, k),
        None => public::Place::bucket(at.bucket),
    };
    match public {
        true => public::link_target(gw, s, at.access_key, place, t).await,
        false => public::unlink(gw, s, place).await,
    }
}

/// Replaces the ACL of `t`: the public link first when one is asked for (ScaiDrive may refuse
/// it: nothing else changed yet), then the ScaiDrive entries, then the revocation of a link
/// that is no longer wanted.
async fn set_all(
    gw: &Gateway,
    s: &Session,
    t: &Target,
    at: PublicAt<'_>,
    grants: Vec<(Who, S3Perm)>,
) -> S3Result<()> {
    let public = wants_public(&grants)?;
    let owner = owner_of(gw, s, t).await?;
    if public {
        sync_public(gw, s, t, at, true).await?;
    }
    set_acl(gw, s, t, owner.id.as_deref().unwrap_or_default(), grants).await?;
    if !public {
        sync_public(gw, s, t, at, false).await?;
    }
    Ok(())
}

fn all_users() -> Grantee {
    Grantee {
        display_name: None,
        id: None,
        type_: Type::from_static(Type::GROUP),
        email_address: None,
        uri: Some(URI_ALL_USERS.to_owned()),
    }
}

/// One grant per permission of each explicit allow entry, AllUsers READ while a gateway-made
/// link is active, then the owner's FULL_CONTROL.
async fn read_acl(
    gw: &Gateway,
    s: &Session,
    t: &Target,
    at: PublicAt<'_>,
) -> S3Result<(Owner, Vec<Grant>)> {
    let acl = gw
        .store()
        .client()
        .get_acl(s.token(), t.rt, &t.id)
        .await
        .map_err(upstream)?;
    let owner = owner_of(gw, s, t).await?;
    let mut grants = Vec::new();
    for ace in acl
        .entries
        .iter()
        .filter(|a| !a.inherited && a.ace_type == "allow")
    {
        let grantee = match ace.principal_type.as_str() {
            "everyone" => Grantee {
                display_name: None,
                id: None,
                type_: Type::from_static(Type::GROUP),
                email_address: None,
                uri: Some(URI_AUTHENTICATED.to_owned()),
            },
            _ => {
                let id = ace.principal_id.clone().unwrap_or_default();
                let name = if ace.principal_type == "user" {
                    Some(gw.display_name(s, &id).await)
                } else {
                    None
                };
                canonical(&id, name)
            }
        };
        for p in from_bits(ace.permissions, t.bucket) {
            grants.push(Grant {
                grantee: Some(grantee.clone()),
                permission: Some(Permission::from(p.as_str().to_owned())),
            });
        }
    }
    let (key, object) = at.key.map_or(("", false), |k| (k, true));
    if public::find_active(gw, at.bucket, key, object, t)
        .await?
        .is_some()
    {
        grants.push(Grant {
            grantee: Some(all_users()),
            permission: Some(Permission::from_static(Permission::READ)),
        });
    }
    // The owner's FULL_CONTROL last (AWS lists the explicit grants first).
    grants.push(Grant {
        grantee: Some(canonical(
            owner.id.as_deref().unwrap_or_default(),
            owner.display_name.clone(),
        )),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    });
    Ok((owner, grants))
}

/// Applies the ACL of a create or write request (CreateBucket, PutObject, CopyObject) to what
/// it created. Call [`check_request`] before the write so refusals come first.
pub(crate) async fn apply_bucket_acl(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    at: PublicAt<'_>,
    req: &AclRequest<'_>,
) -> S3Result<()> {
    if req.is_empty() {
        return Ok(());
    }
    let grants = req.grants()?;
    let t = bucket_target(gw, s, bucket).await?;
    set_all(gw, s, &t, at, grants).await
}

/// See [`apply_bucket_acl`]; for an object.
pub(crate) async fn apply_object_acl(
    gw: &Gateway,
    s: &Session,
    bucket: &BucketRef,
    at: PublicAt<'_>,
    req: &AclRequest<'_>,
) -> S3Result<()> {
    if req.is_empty() {
        return Ok(());
    }
    let grants = req.grants()?;
    let t = object_target(gw, s, bucket, at.key.unwrap_or_default(), None).await?;
    set_all(gw, s, &t, at, grants).await
}

/// Whether applying the request would add ScaiDrive ACL entries to a new resource (`private`
/// and the owner-only canned ACLs add none).
pub(crate) fn changes_entries(req: &AclRequest<'_>) -> S3Result<bool> {
    Ok(!req.is_empty() && !req.grants()?.is_empty())
}

/// Refuses an unrepresentable ACL request before anything is written.
pub(crate) fn check_request(req: &AclRequest<'_>, bucket: bool) -> S3Result<()> {
    let grants = req.grants()?;
    let mut by: BTreeMap<String, Vec<S3Perm>> = BTreeMap::new();
    wants_public(&grants)?;
    for (who, p) in grants {
        if who != Who::AllUsers {
            by.entry(format!("{who:?}")).or_default().push(p);
        }
    }
    for perms in by.values() {
        to_bits(perms, bucket)?;
    }
    Ok(())
}

pub(crate) async fn get_bucket_acl(
    gw: &Gateway,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let s = gw.session(&req).await?;
    let bucket = gw.bucket(&s, &req.input.bucket).await?;
    let t = bucket_target(gw, &s, &bucket).await?;
    let at = PublicAt {
        access_key: "",
        bucket: &req.input.bucket,
        key: None,
    };
    let (owner, grants) = read_acl(gw, &s, &t, at).await?;
    Ok(S3Response::new(GetBucketAclOutput {
        owner: Some(owner),
        grants: Some(grants),
    }))
}

pub(crate) async fn get_object_acl(
    gw: &Gateway,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let s = gw.session(&req).await?;
    let i = &req.input;
    let bucket = gw.bucket(&s, &i.bucket).await?;
    let t = object_target(gw, &s, &bucket, &i.key, i.version_id.as_deref()).await?;
    let at = PublicAt {
        access_key: "",
        bucket: &i.bucket,
        key: Some(&i.key),
    };
    let (owner, grants) = read_acl(gw, &s, &t, at).await?;
    Ok(S3Response::new(GetObjectAclOutput {
        owner: Some(owner),
        grants: Some(grants),
        ..Default::default()
    }))
}

pub(crate) async fn put_bucket_acl(
    gw: &Gateway,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let s = gw.session(&req).await?;
    let i = &req.input;
    let bucket = gw.bucket(&s, &i.bucket).await?;
    let acl = AclRequest {
        canned: i.acl.as_ref().map(BucketCannedACL::as_str),
        policy: i.access_control_policy.as_ref(),
        full_control: i.grant_full_control.as_deref(),
        read: i.grant_read.as_deref(),
        read_acp: i.grant_read_acp.as_deref(),
        write: i.grant_write.as_deref(),
        write_acp: i.grant_write_acp.as_deref(),
    };
    if acl.is_empty() {
        return Err(s3_error!(
            MissingSecurityHeader,
            "a canned ACL, grant headers or an AccessControlPolicy is required"
        ));
    }
    // Who may change the ACL is ScaiDrive's answer, given before any other.
    let t = bucket_target(gw, &s, &bucket).await?;
    gw.store()
        .client()
        .get_acl(s.token(), t.rt, &t.id)
        .await
        .map_err(upstream)?;
    check_request(&acl, true)?;
    let access_key = Gateway::access_key(&req);
    let at = PublicAt {
        access_key: &access_key,
        bucket: &i.bucket,
        key: None,
    };
    apply_bucket_acl(gw, &s, &bucket, at, &acl).await?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub(crate) async fn put_object_acl(
    gw: &Gateway,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let s = gw.session(&req).await?;
    let i = &req.input;
    let bucket = gw.bucket(&s, &i.bucket).await?;
    let acl = AclRequest {
        canned: i.acl.as_ref().map(ObjectCannedACL::as_str),
        policy: i.access_control_policy.as_ref(),
        full_control: i.grant_full_control.as_deref(),
        read: i.grant_read.as_deref(),
        read_acp: i.grant_read_acp.as_deref(),
        write: i.grant_write.as_deref(),
        write_acp: i.grant_write_acp.as_deref(),
    };
    if acl.is_empty() {
        return Err(s3_error!(
            MissingSecurityHeader,
            "a canned ACL, grant headers or an AccessControlPolicy is required"
        ));
    }
    let t = object_target(gw, &s, &bucket, &i.key, i.version_id.as_deref()).await?;
    gw.store()
        .client()
        .get_acl(s.token(), t.rt, &t.id)
        .await
        .map_err(upstream)?;
    check_request(&acl, false)?;
    if i.version_id.as_deref().is_some_and(|v| v != "null") {
        // ScaiDrive ACLs belong to the file, not to one of its versions.
        return Err(not_representable(
            "ScaiDrive ACLs apply to a file, not to one version of it",
        ));
    }
    let access_key = Gateway::access_key(&req);
    let at = PublicAt {
        access_key: &access_key,
        bucket: &i.bucket,
        key: Some(&i.key),
    };
    apply_object_acl(gw, &s, &bucket, at, &acl).await?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_map_or_are_refused() {
        assert!(canned("private").unwrap().is_empty());
        assert!(canned("bucket-owner-full-control").unwrap().is_empty());
        assert_eq!(
            canned("authenticated-read").unwrap(),
            vec![(Who::Everyone, S3Perm::Read)]
        );
        assert_eq!(
            canned("public-read").unwrap(),
            vec![(Who::AllUsers, S3Perm::Read)]
        );
        for c in ["public-read-write", "aws-exec-read", "log-delivery-write"] {
            let e = canned(c).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::NotImplemented, "{c}");
        }
    }

    #[test]
    fn grant_headers_parse_ids_emails_and_groups() {
        let g = grant_header(
            r#"id="usr_1", emailAddress="a@b.example", uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers""#,
            S3Perm::Read,
        )
        .unwrap();
        assert_eq!(
            g,
            vec![
                (Who::User("usr_1".into()), S3Perm::Read),
                (Who::Email("a@b.example".into()), S3Perm::Read),
                (Who::Everyone, S3Perm::Read),
            ]
        );
        assert_eq!(
            grant_header(&format!("uri={URI_ALL_USERS}"), S3Perm::Read).unwrap(),
            vec![(Who::AllUsers, S3Perm::Read)]
        );
        let write = grant_header(&format!("uri={URI_ALL_USERS}"), S3Perm::Write).unwrap();
        assert!(wants_public(&write).is_err());
        assert!(grant_header("nonsense", S3Perm::Read).is_err());
    }

    #[test]
    fn permissions_map_both_ways_and_half_acp_is_refused() {
        assert_eq!(to_bits(&[S3Perm::Read], true).unwrap(), perm::READ);
        assert_eq!(to_bits(&[S3Perm::Write], true).unwrap(), BUCKET_WRITE);
        assert_eq!(to_bits(&[S3Perm::Write], false).unwrap(), perm::WRITE);
        assert_eq!(to_bits(&[S3Perm::Full], true).unwrap(), FULL);
        assert_eq!(
            to_bits(&[S3Perm::ReadAcp, S3Perm::WriteAcp], true).unwrap(),
            perm::MANAGE_PERMISSIONS | perm::SHARE
        );
        // FULL_CONTROL written before it carried SHARE still reads as FULL_CONTROL.
        assert_eq!(from_bits(FULL_CORE, true), vec![S3Perm::Full]);
        assert!(to_bits(&[S3Perm::ReadAcp], true).is_err());
        assert!(to_bits(&[S3Perm::WriteAcp], false).is_err());
        for (perms, bucket) in [
            (vec![S3Perm::Read], true),
            (vec![S3Perm::Write], true),
            (vec![S3Perm::Write], false),
            (vec![S3Perm::Full], true),
            (vec![S3Perm::Full], false),
            (vec![S3Perm::Read, S3Perm::ReadAcp, S3Perm::WriteAcp], false),
        ] {
            let bits = to_bits(&perms, bucket).unwrap();
            assert_eq!(from_bits(bits, bucket), perms, "{perms:?} bucket={bucket}");
        }
    }
}
