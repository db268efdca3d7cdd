//! Every JSON example of the ScaiDrive documentation (`shared/scaidrive-api.md`, the quickstart)
//! and every response shape of `docs/emulator.md` parses into the client's own types.
//! Literals are copied verbatim; where the docs use placeholders (`bool`, `…`) a concrete value
//! is substituted and marked.
#![allow(clippy::unwrap_used)]

use http::HeaderMap;
use scaidrive_gateway::scaidrive::{
    ChangePage, ChangeType, CompletedUpload, CreateLink, CreateShare, Cursor, Error, ErrorKind,
    File, FilePatch, Folder, Health, Item, Link, Listing, MyShare, Quota, Ready, ResourceType,
    RestoredVersion, ServerConfig, Share, Target, UploadProgress, UploadSession, UploadedFile,
    User, Version,
};
use serde::de::DeserializeOwned;

fn parse<T: DeserializeOwned>(json: &str) -> T {
    match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => panic!("{} does not parse: {e}\n{json}", std::any::type_name::<T>()),
    }
}

fn ts(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

// --- scaidrive-api.md -------------------------------------------------------------------------

#[test]
fn api_share_object() {
    let s: Share = parse(
        r#"{"id": "shr_01J3H", "tenant_id": "tnt_01J3A", "name": "Engineering",
 "description": "Engineering org shared drive", "share_type": "central", "owner_id": "grp_01J3L",
 "is_public": false, "is_deleted": false, "quota_bytes": 107374182400, "used_bytes": 42301234567,
 "settings": {}, "created_at": "2026-01-15T08:00:00Z", "modified_at": "2026-04-22T14:30:00Z"}"#,
    );
    assert_eq!(s.id, "shr_01J3H");
    assert_eq!(s.share_type.as_deref(), Some("central"));
    assert_eq!(s.quota_bytes, Some(107374182400));
    assert_eq!(s.used_bytes, Some(42301234567));
    assert_eq!(s.modified_at, Some(ts("2026-04-22T14:30:00Z")));
}

#[test]
fn api_version_object() {
    let v: Version = parse(
        r#"{"id": "ver_01J4Q", "version_number": 4, "size": 48293, "checksum_sha256": "a9f2...",
 "created_by": "usr_01J3N", "created_at": "2026-04-23T10:15:00Z"}"#,
    );
    assert_eq!(v.version_number, 4);
    assert_eq!(v.size, 48293);
    assert_eq!(v.checksum_sha256.as_deref(), Some("a9f2..."));
}

#[test]
fn api_change_log_entry() {
    let c: scaidrive_gateway::scaidrive::Change = parse(
        r#"{"id": "chg_01J3L", "tenant_id": "tnt_01J3A", "share_id": "shr_01J3K", "resource_type": "file",
 "resource_id": "fil_01J3M", "change_type": "updated", "changed_by": "usr_01J3N",
 "changed_at": "2026-04-23T10:15:02Z", "old_path": "/Engineering/spec.pdf",
 "new_path": "/Engineering/spec.pdf", "version_id": "ver_01J3P",
 "metadata": {"size": 12345, "mime_type": "application/pdf"}}"#,
    );
    assert_eq!(c.resource_type, ResourceType::File);
    assert_eq!(c.change_type, ChangeType::Updated);
    assert_eq!(c.metadata["size"], 12345);
    assert_eq!(c.version_id.as_deref(), Some("ver_01J3P"));
}

#[test]
fn api_config() {
    // The docs write `bool` for the feature values; concrete booleans substituted.
    let c: ServerConfig = parse(
        r#"{"version": "0.1.0", "features": {"semantic_search": true, "external_sharing": true, "smb_connector": false, "sharepoint_connector": false}, "limits": {"max_file_size_bytes": 5368709120, "max_upload_chunk_size_bytes": 5242880}}"#,
    );
    assert!(c.feature("external_sharing"));
    assert!(!c.feature("smb_connector"));
    assert!(!c.feature("no_such_feature"));
    assert_eq!(c.limits.max_upload_chunk_size_bytes, Some(5242880));
}

#[test]
fn api_health() {
    let h: Health = parse(r#"{"status": "healthy", "version": "0.1.0"}"#);
    assert_eq!(h.status, "healthy");
}

#[test]
fn api_ready() {
    let r: Ready = parse(
        r#"{"status": "ready", "checks": {"database": true, "redis": true, "storage": true, "scaikey": true, "weaviate": true}}"#,
    );
    assert!(r.is_ready());
    assert_eq!(r.checks.len(), 5);
}

#[test]
fn api_users_me() {
    let u: User = parse(
        r#"{"id": "usr_01J3N", "email": "alice@example.com", "name": "Alice Cooper", "display_name": "Alice", "tenant_id": "tnt_01J3A", "partner_id": "prt_01J3P", "groups": ["grp_01J3L"], "scopes": ["files:read", "files:write", "tenant:admin"], "is_admin": true, "admin_role": "tenant_admin"}"#,
    );
    assert!(u.is_admin);
    assert_eq!(u.groups, ["grp_01J3L"]);
    assert_eq!(u.admin_role.as_deref(), Some("tenant_admin"));
}

#[test]
fn api_my_share_entry() {
    let s: MyShare = parse(
        r#"{"id": "shr_01J3KXQ0N", "name": "Engineering", "type": "central", "role": "contributor", "owner_id": "grp_01J3KXQ0A", "quota_bytes": 107374182400, "used_bytes": 42301234567}"#,
    );
    assert_eq!(s.share_type.as_deref(), Some("central"));
    assert!(s.can_write());
    assert_eq!(s.created_at, None);
}

#[test]
fn api_my_quota() {
    let q: Quota = parse(
        r#"{"user_id": "usr_01J3N", "used_bytes": 42301234567, "quota_bytes": 107374182400, "percent_used": 39.4}"#,
    );
    assert_eq!(q.quota_bytes, Some(107374182400));
    assert_eq!(q.percent_used, Some(39.4));
}

#[test]
fn api_folder_children() {
    let l: Listing = parse(
        r#"{"items": [
   {"id": "fld_01J3J", "name": "Specs", "type": "folder"},
   {"id": "fil_01J3K", "name": "spec.pdf", "type": "file", "size": 48293,
    "mime_type": "application/pdf", "modified_at": "2026-04-23T10:15:00Z"}],
 "path": "/Engineering", "total": 2}"#,
    );
    assert_eq!(l.total, 2);
    assert_eq!(l.path, "/Engineering");
    assert!(matches!(&l.items[0], Item::Folder(f) if f.name == "Specs"));
    match &l.items[1] {
        Item::File(f) => {
            assert_eq!(f.size, 48293);
            assert_eq!(f.mime_type.as_deref(), Some("application/pdf"));
            assert_eq!(f.modified_at, Some(ts("2026-04-23T10:15:00Z")));
        }
        other => panic!("expected a file, got {other:?}"),
    }
}

#[test]
fn api_file_object_from_reference_table() {
    // Assembled from the reference table's example column.
    let f: File = parse(
        r#"{"id": "fil_01J3K", "tenant_id": "tnt_01J3A", "share_id": "shr_01J3H", "folder_id": "fld_01J3I",
        "name": "spec.pdf", "path": "/Engineering/spec.pdf", "mime_type": "application/pdf", "size": 48293,
        "checksum_sha256": "a9f2...", "version": 4, "owner_id": "usr_01J3N", "created_by": "usr_01J3N",
        "modified_by": "usr_01J3N", "created_at": "2026-04-20T10:00:00Z", "modified_at": "2026-04-20T10:00:00Z",
        "is_deleted": false, "vectorized_at": "2026-04-20T10:05:12Z"}"#,
    );
    assert_eq!(f.version, Some(4));
    assert_eq!(f.folder_id.as_deref(), Some("fld_01J3I"));
    assert_eq!(f.vectorized_at, Some(ts("2026-04-20T10:05:12Z")));
}

#[test]
fn api_file_object_guide_short_version() {
    // The guide's shorter file object omits tenant_id, is_deleted and vectorized_at.
    let f: File = parse(
        r#"{"id": "fil_01J3K", "share_id": "shr_01J3H", "folder_id": null, "name": "spec.pdf",
        "path": "/spec.pdf", "mime_type": "application/pdf", "size": 48293, "checksum_sha256": "a9f2...",
        "version": 1, "owner_id": "usr_01J3N", "created_by": "usr_01J3N", "modified_by": "usr_01J3N",
        "created_at": "2026-04-20T10:00:00Z", "modified_at": "2026-04-20T10:00:00Z"}"#,
    );
    assert_eq!(f.folder_id, None);
    assert!(!f.is_deleted);
}

#[test]
fn api_folder_object_from_reference_table() {
    let f: Folder = parse(
        r#"{"id": "fld_01J3I", "tenant_id": "tnt_01J3A", "share_id": "shr_01J3H", "parent_id": null,
        "name": "Engineering", "path": "/Engineering", "owner_id": "usr_01J3N", "created_by": "usr_01J3N",
        "created_at": "2026-04-20T10:00:00Z", "modified_at": "2026-04-20T10:00:00Z", "is_deleted": false}"#,
    );
    assert_eq!(f.parent_id, None);
    assert_eq!(f.path, "/Engineering");
}

#[test]
fn api_versions_list() {
    // `{"versions": [ {version object}, ... ], "total": 4}` with the version object inlined.
    #[derive(serde::Deserialize)]
    struct Page {
        versions: Vec<Version>,
        total: u64,
    }
    let p: Page = parse(
        r#"{"versions": [{"id": "ver_01J4Q", "version_number": 4, "size": 48293, "checksum_sha256": "a9f2...",
 "created_by": "usr_01J3N", "created_at": "2026-04-23T10:15:00Z"}], "total": 4}"#,
    );
    assert_eq!(p.versions[0].version_number, 4);
    assert_eq!(p.total, 4);
}

#[test]
fn api_sync_changes_page() {
    // `[change entries]` replaced by one documented entry.
    let p: ChangePage = parse(
        r#"{"changes": [{"id": "chg_01J3L", "tenant_id": "tnt_01J3A", "share_id": "shr_01J3K", "resource_type": "file",
 "resource_id": "fil_01J3M", "change_type": "updated", "changed_by": "usr_01J3N",
 "changed_at": "2026-04-23T10:15:02Z", "old_path": "/Engineering/spec.pdf",
 "new_path": "/Engineering/spec.pdf", "version_id": "ver_01J3P",
 "metadata": {"size": 12345, "mime_type": "application/pdf"}}], "cursor": 1045000, "has_more": true, "share_id": "shr_01J3K"}"#,
    );
    assert!(p.has_more);
    assert_eq!(p.cursor, Cursor::from(1045000));
    assert_eq!(p.cursor.to_query_value(), "1045000");
    assert_eq!(p.changes.len(), 1);
}

#[test]
fn api_link_object() {
    let l: Link = parse(
        r#"{"id": "lnk_01J5U", "tenant_id": "tnt_01J3A", "share_id": "shr_01J3H", "resource_type": "file",
 "resource_id": "fil_01J3K", "link_type": "DOWNLOAD", "token": "opaque-share-token",
 "short_code": "abc123", "url": "https://scaidrive.scailabs.ai/share/opaque-share-token",
 "short_url": "https://scaidrive.scailabs.ai/s/abc123", "status": "active", "password_required": true,
 "max_downloads": 50, "download_count": 3, "max_views": null, "view_count": 12, "allowed_ips": null,
 "allowed_emails": null, "require_email": false, "custom_name": "Quarterly Report", "custom_message": null,
 "created_by": "usr_01J3N", "created_at": "2026-04-20T10:00:00Z", "expires_at": "2026-04-30T10:15:00Z"}"#,
    );
    assert!(l.password_required);
    assert_eq!(l.max_downloads, Some(50));
    assert_eq!(l.max_views, None);
    assert!(!format!("{l:?}").contains("opaque-share-token"));
}

/// Documented examples of endpoints this client does not call (auth, sync status, permissions,
/// quotas admin, audit events, …): kept here so that a change in the docs is noticed, and
/// checked to be JSON.
#[test]
fn api_examples_outside_client_scope_are_json() {
    for json in [
        r#"{"authorize_url": "https://scaikey.scailabs.ai/oauth2/authorize", "token_url": "https://scaidrive.scailabs.ai/api/v1/auth/token", "client_id": "scaidrive-desktop", "desktop_callback_url": "https://scaidrive.scailabs.ai/api/v1/auth/callback"}"#,
        r#"{"access_token": "eyJhbGc...", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt_...", "id_token": "eyJhbGc..."}"#,
        r#"{"new_owner_id": "grp_01J3L"}"#,
        r#"{"allowed": true}"#,
        r#"{"cursor_position": 1042387, "last_sync_at": "2026-04-23T10:15:00Z", "pending_changes": 0, "has_conflicts": false}"#,
        r#"{"id": "qta_01J7A", "target_type": "user", "target_id": "usr_01J4M", "limit_bytes": 53687091200, "limit_type": "hard", "warning_threshold_1": 70, "warning_threshold_2": 85, "warning_threshold_3": 95, "grace_period_days": 7, "grace_extra_percent": 10, "grace_started_at": null, "exempt": false, "exempt_reason": null}"#,
        r#"{"id": "tnt_01J3A", "partner_id": "prt_01J3P", "name": "Contoso", "display_name": "Contoso, Inc.", "status": "active", "created_at": "2026-01-01T00:00:00Z", "settings": {"max_file_size_bytes": 5368709120, "default_share_quota_bytes": null, "trash_retention_days": 30, "version_retention_days": 365, "vectorization_enabled": true, "require_mfa": false}}"#,
        r#"{"event_id": "evt_...", "timestamp": "2026-05-12T14:23:01Z", "category": "SHARING", "action": "share.member_added", "user_id": "usr_...", "resource_id": "shr_...", "payload": {}}"#,
    ] {
        serde_json::from_str::<serde_json::Value>(json).unwrap();
    }
}

// --- error bodies (all three shapes) ------------------------------------------------------------

#[test]
fn error_detail_string() {
    let e = Error::from_response(
        403,
        &HeaderMap::new(),
        br#"{"detail": "Permission denied: WRITE on file/fil_01J3M"}"#,
    );
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_eq!(e.message(), "Permission denied: WRITE on file/fil_01J3M");
}

#[test]
fn error_detail_validation_array() {
    let e = Error::from_response(
        422,
        &HeaderMap::new(),
        br#"{"detail": [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]}"#,
    );
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(e.message(), "body.name: field required");
}

#[test]
fn error_rate_limit_envelope() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "22".parse().unwrap());
    let e = Error::from_response(
        429,
        &headers,
        br#"{"status": "error", "error": {"code": "RATE_LIMITED", "message": "Rate limit exceeded", "retry_after": 22, "details": {"dimension": "token", "limit": 1000, "window_seconds": 60}}, "meta": {"request_id": "req_01J5"}}"#,
    );
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.code(), Some("RATE_LIMITED"));
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(22)));
    assert_eq!(e.request_id(), Some("req_01J5"));
}

#[test]
fn error_named_codes_in_detail() {
    for (status, body, kind, code) in [
        (
            409,
            r#"{"detail": "NAME_CONFLICT: a file or folder named 'a.txt' already exists"}"#,
            ErrorKind::Conflict,
            "NAME_CONFLICT",
        ),
        (
            413,
            r#"{"detail": "PAYLOAD_TOO_LARGE: file exceeds 5368709120 bytes"}"#,
            ErrorKind::TooLarge,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            507,
            r#"{"detail": "QUOTA_EXCEEDED: share quota exceeded"}"#,
            ErrorKind::QuotaExceeded,
            "QUOTA_EXCEEDED",
        ),
        (
            400,
            r#"{"detail": "CHECKSUM_MISMATCH: expected abc, got def"}"#,
            ErrorKind::ChecksumMismatch,
            "CHECKSUM_MISMATCH",
        ),
        (
            401,
            r#"{"detail": "AUTH_TOKEN_INVALID: token expired"}"#,
            ErrorKind::Unauthorized,
            "AUTH_TOKEN_INVALID",
        ),
        (
            403,
            r#"{"detail": "AUTHZ_USER_SUSPENDED: user deactivated"}"#,
            ErrorKind::Forbidden,
            "AUTHZ_USER_SUSPENDED",
        ),
    ] {
        let e = Error::from_response(status, &HeaderMap::new(), body.as_bytes());
        assert_eq!(e.kind(), kind, "{body}");
        assert_eq!(e.code(), Some(code), "{body}");
    }
}

// --- quickstart ---------------------------------------------------------------------------------

#[test]
fn quickstart_my_shares_response() {
    #[derive(serde::Deserialize)]
    struct Page {
        shares: Vec<MyShare>,
        total: u64,
    }
    let p: Page = parse(
        r#"{
  "shares": [
    {
      "id": "shr_01J3KXQ0N",
      "name": "Engineering",
      "type": "central",
      "role": "contributor",
      "owner_id": "grp_01J3KXQ0A",
      "quota_bytes": 107374182400,
      "used_bytes": 42301234567
    }
  ],
  "total": 1
}"#,
    );
    assert_eq!(p.total, 1);
    assert_eq!(p.shares[0].role.as_deref(), Some("contributor"));
}

#[test]
fn quickstart_upload_response() {
    let u: UploadedFile = parse(
        r#"{
  "id": "fil_01J3KXQ0Z",
  "name": "hello.txt",
  "size": 13,
  "version_id": "ver_01J3KXQ0Z",
  "checksum_sha256": "f7ff9e8b..."
}"#,
    );
    assert_eq!(u.size, 13);
    assert_eq!(u.version_id.as_deref(), Some("ver_01J3KXQ0Z"));
}

#[test]
fn quickstart_create_link_request_body() {
    let req = CreateLink {
        resource_type: "file".into(),
        resource_id: "fil_01J3KXQ0Z".into(),
        share_id: "shr_01J3KXQ0N".into(),
        link_type: "DOWNLOAD".into(),
        expires_in_days: Some(7),
        password: Some("hunter2".into()),
        ..CreateLink::default()
    };
    let want: serde_json::Value = parse(
        r#"{
    "resource_type": "file",
    "resource_id": "fil_01J3KXQ0Z",
    "share_id": "shr_01J3KXQ0N",
    "link_type": "DOWNLOAD",
    "expires_in_days": 7,
    "password": "hunter2"
  }"#,
    );
    assert_eq!(serde_json::to_value(&req).unwrap(), want);
    assert!(!format!("{req:?}").contains("hunter2"));
}

// --- docs/emulator.md shapes --------------------------------------------------------------------

#[test]
fn emulator_ready_not_ready() {
    let r: Ready = parse(
        r#"{"status": "not_ready", "checks": {"database": false, "redis": true, "storage": true, "scaikey": true}}"#,
    );
    assert!(!r.is_ready());
}

#[test]
fn emulator_users_me_without_admin_role() {
    let u: User = parse(
        r#"{"id": "usr_01JABC", "email": "demo@example.com", "name": "Demo User", "display_name": "Demo User",
        "tenant_id": "tnt_01JABC", "partner_id": null, "groups": [], "scopes": [], "is_admin": false, "admin_role": null}"#,
    );
    assert_eq!(u.partner_id, None);
    assert_eq!(u.admin_role, None);
}

#[test]
fn emulator_my_share_with_created_at() {
    let s: MyShare = parse(
        r#"{"id": "shr_01JABC", "name": "Documents", "type": "personal", "role": "owner", "owner_id": "usr_01JABC",
        "quota_bytes": null, "used_bytes": 0, "created_at": "2026-05-01T12:00:00Z"}"#,
    );
    assert_eq!(s.quota_bytes, None);
    assert_eq!(s.created_at, Some(ts("2026-05-01T12:00:00Z")));
}

#[test]
fn emulator_quota_unlimited() {
    let q: Quota = parse(
        r#"{"user_id": "usr_01JABC", "used_bytes": 0, "quota_bytes": null, "percent_used": 0.0}"#,
    );
    assert_eq!(q.quota_bytes, None);
}

#[test]
fn emulator_children_with_include_deleted() {
    let l: Listing = parse(
        r#"{"items": [{"id": "fld_1", "name": "A", "type": "folder", "is_deleted": true},
                      {"id": "fil_1", "name": "b", "type": "file", "size": 0, "mime_type": "text/plain",
                       "modified_at": "2026-05-01T12:00:00Z", "is_deleted": false},
                      {"id": "lnk_1", "name": "future kind", "type": "shortcut"}],
            "path": "/", "total": 3}"#,
    );
    assert_eq!(l.items.len(), 2, "entries of unknown type are skipped");
    assert!(matches!(&l.items[0], Item::Folder(f) if f.is_deleted));
}

#[test]
fn emulator_file_object_with_version_id() {
    let f: File = parse(
        r#"{"id": "fil_01", "tenant_id": "tnt_01", "share_id": "shr_01", "folder_id": null, "name": "a.txt",
        "path": "/a.txt", "mime_type": "text/plain", "size": 5, "checksum_sha256": "abc", "version": 2,
        "version_id": "ver_02", "owner_id": "usr_01", "created_by": "usr_01", "modified_by": "usr_01",
        "created_at": "2026-05-01T12:00:00Z", "modified_at": "2026-05-01T12:00:01Z", "is_deleted": false,
        "vectorized_at": null}"#,
    );
    assert_eq!(f.version_id.as_deref(), Some("ver_02"));
    assert_eq!(f.vectorized_at, None);
}

#[test]
fn emulator_restored_version() {
    let r: RestoredVersion = parse(
        r#"{"id": "fil_01", "restored_from_version": 2, "version": 5, "version_id": "ver_05"}"#,
    );
    assert_eq!(r.version, Some(5));
}

#[test]
fn emulator_upload_session() {
    let s: UploadSession = parse(
        r#"{"session_id": "ups_01", "chunk_size": 4194304, "total_chunks": 3, "expires_at": "2026-05-02T12:00:00Z"}"#,
    );
    assert_eq!(s.total_chunks, 3);
}

#[test]
fn emulator_chunk_receipt_is_json() {
    serde_json::from_str::<serde_json::Value>(
        r#"{"chunk_index": 0, "size": 4194304, "checksum_sha256": "abc"}"#,
    )
    .unwrap();
}

#[test]
fn emulator_upload_progress() {
    let p: UploadProgress = parse(
        r#"{"session_id": "ups_01", "status": "pending", "file_name": "big.bin", "file_size": 10000000,
        "chunk_size": 4194304, "total_chunks": 3, "received_chunks": [0, 2], "bytes_received": 5805696,
        "expires_at": "2026-05-02T12:00:00Z", "file_id": null}"#,
    );
    assert_eq!(p.received_chunks, [0, 2]);
    assert_eq!(p.file_id, None);
}

#[test]
fn emulator_completed_upload() {
    let c: CompletedUpload = parse(
        r#"{"file_id": "fil_01", "id": "fil_01", "name": "big.bin", "size": 10000000, "version": 1,
        "version_id": "ver_01", "checksum_sha256": "abc"}"#,
    );
    assert_eq!(c.file_id, "fil_01");
    // The real service is only known to return `file_id`; `id` alone is accepted too.
    let only_id: CompletedUpload = parse(r#"{"id": "fil_02"}"#);
    assert_eq!(only_id.file_id, "fil_02");
    assert!(serde_json::from_str::<CompletedUpload>(r#"{"name": "x"}"#).is_err());
}

#[test]
fn emulator_empty_change_page_with_head() {
    let p: ChangePage =
        parse(r#"{"changes": [], "cursor": 17, "has_more": false, "share_id": "shr_01"}"#);
    assert_eq!(p.cursor.to_query_value(), "17");
    let s: ChangePage = parse(r#"{"changes": [], "cursor": "opaque-abc", "has_more": false}"#);
    assert_eq!(s.cursor.to_query_value(), "opaque-abc");
}

#[test]
fn emulator_cross_share_move_change_has_null_path() {
    let p: ChangePage = parse(
        r#"{"changes": [{"id": "chg_1", "tenant_id": "tnt_1", "share_id": "shr_1", "resource_type": "folder",
        "resource_id": "fld_1", "change_type": "moved", "changed_by": "usr_1", "changed_at": "2026-05-01T12:00:00Z",
        "old_path": "/A", "new_path": null, "version_id": null, "metadata": {}}], "cursor": 3, "has_more": false,
        "share_id": "shr_1"}"#,
    );
    assert_eq!(p.changes[0].change_type, ChangeType::Moved);
    assert_eq!(p.changes[0].new_path, None);
}

#[test]
fn emulator_link_list() {
    #[derive(serde::Deserialize)]
    struct Page {
        links: Vec<Link>,
        total: u64,
    }
    let p: Page = parse(
        r#"{"links": [{"id": "lnk_1", "tenant_id": "tnt_1", "share_id": "shr_1", "resource_type": "folder",
        "resource_id": "fld_1", "link_type": "UPLOAD", "token": "t", "short_code": "c",
        "url": "http://127.0.0.1:8000/share/t", "short_url": "http://127.0.0.1:8000/s/c", "status": "revoked",
        "password_required": false, "created_by": "usr_1", "created_at": "2026-05-01T12:00:00Z", "expires_at": null}],
        "total": 1}"#,
    );
    assert_eq!(p.links[0].status.as_deref(), Some("revoked"));
    assert_eq!(p.total, 1);
}

// --- liberal parsing ----------------------------------------------------------------------------

#[test]
fn timestamps_accept_fractions_offsets_and_naive() {
    let want = ts("2026-04-23T10:15:00Z");
    for s in [
        "2026-04-23T10:15:00Z",
        "2026-04-23T10:15:00.000Z",
        "2026-04-23T10:15:00+00:00",
        "2026-04-23T12:15:00+02:00",
        "2026-04-23T10:15:00.000000",
        "2026-04-23T10:15:00",
    ] {
        let v: Version = parse(&format!(
            r#"{{"id": "ver_1", "version_number": 1, "created_at": "{s}"}}"#
        ));
        assert_eq!(v.created_at, Some(want), "{s}");
    }
    let bad = serde_json::from_str::<Version>(
        r#"{"id": "ver_1", "version_number": 1, "created_at": "yesterday"}"#,
    );
    assert!(bad.is_err());
}

#[test]
fn unknown_fields_are_ignored() {
    let s: Share = parse(
        r#"{"id": "shr_1", "name": "X", "slug": "x", "visibility": "discoverable", "new_thing": {"a": [1]}}"#,
    );
    assert_eq!(s.share_type, None);
}

// --- request bodies -----------------------------------------------------------------------------

#[test]
fn file_patch_serializes_only_set_fields() {
    let to = |p: &FilePatch| serde_json::to_value(p).unwrap();
    assert_eq!(to(&FilePatch::default()), serde_json::json!({}));
    assert_eq!(
        to(&FilePatch {
            name: Some("b.txt".into()),
            ..FilePatch::default()
        }),
        serde_json::json!({"name": "b.txt"})
    );
    assert_eq!(
        to(&FilePatch {
            folder_id: Some(None),
            ..FilePatch::default()
        }),
        serde_json::json!({"folder_id": null})
    );
    assert_eq!(
        to(&FilePatch {
            folder_id: Some(Some("fld_1".into())),
            restore: Some(true),
            ..FilePatch::default()
        }),
        serde_json::json!({"folder_id": "fld_1", "restore": true})
    );
}

#[test]
fn create_share_omits_unset_optionals() {
    let req = CreateShare {
        name: "Eng".into(),
        share_type: "central".into(),
        owner_id: "grp_1".into(),
        description: None,
        quota_bytes: None,
    };
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        serde_json::json!({"name": "Eng", "share_type": "central", "owner_id": "grp_1"})
    );
}

#[test]
fn target_variants_are_distinct() {
    assert_ne!(Target::Folder("x".into()), Target::ShareRoot("x".into()));
}

#[test]
fn listing_timestamps_in_every_accepted_form() {
    let l: Listing = parse(
        r#"{"items": [
   {"id": "fil_1", "name": "a", "type": "file", "size": 1, "modified_at": "2026-05-01T14:00:00+02:00"},
   {"id": "fil_2", "name": "b", "type": "file", "size": 1, "modified_at": 1777636800},
   {"id": "fil_3", "name": "c", "type": "file", "size": 1, "modified_at": 1777636800.5},
   {"id": "fil_4", "name": "d", "type": "file", "size": 1, "modified_at": "2026-05-01 12:00:00"},
   {"id": "fil_5", "name": "e", "type": "file", "modified_at": null},
   {"id": "fil_6", "name": "f", "type": "file"},
   {"id": "x_7", "name": "g", "type": 7}],
 "path": "/", "total": 7}"#,
    );
    let times: Vec<_> = l
        .items
        .iter()
        .map(|i| match i {
            Item::File(f) => f.modified_at,
            other => panic!("expected a file, got {other:?}"),
        })
        .collect();
    let noon = ts("2026-05-01T12:00:00Z");
    assert_eq!(
        times,
        [
            Some(noon),
            Some(noon),
            Some(noon + chrono::Duration::milliseconds(500)),
            Some(noon),
            None,
            None
        ],
        "an entry whose type is not a string is skipped like an unknown type"
    );
    for bad in [
        r#"{"items": [{"id": "fil_1", "name": "a", "type": "file", "modified_at": "yesterday"}]}"#,
        r#"{"items": [{"id": "fil_1", "name": "a", "type": "file", "modified_at": true}]}"#,
        r#"{"items": [{"name": "a", "type": "file"}]}"#,
        r#"{"items": [{"id": "fld_1", "type": "folder"}]}"#,
    ] {
        assert!(
            serde_json::from_str::<Listing>(bad).is_err(),
            "refused: {bad}"
        );
    }
}
