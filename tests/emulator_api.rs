//! Emulator API behaviour over real HTTP: the quickstart, Range, names, permissions, quotas,
//! change feed, external links, error shapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;

use emulator_support::{Emu, sha256_hex, start, start_with};
use serde_json::{Value, json};

#[tokio::test]
async fn quickstart_requests_work_verbatim() {
    let emu = start().await;
    // 2. List your shares.
    let r = emu.get("/users/me/shares").await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["total"], 2);
    let names: Vec<&str> = v["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Documents", "Photos"]);
    let share = &v["shares"][0];
    for key in [
        "id",
        "name",
        "type",
        "role",
        "owner_id",
        "quota_bytes",
        "used_bytes",
    ] {
        assert!(share.get(key).is_some(), "share lacks {key}");
    }
    assert_eq!(share["role"], "owner");
    let share_id = share["id"].as_str().unwrap().to_string();
    assert!(share_id.starts_with("shr_"));

    // 3. Upload a file: -F share_id=… -F file=@./hello.txt
    let hello = b"Hello, world\n".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("share_id", share_id.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(hello.clone())
                .file_name("hello.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let r = emu
        .http
        .post(emu.api("/files"))
        .bearer_auth(&emu.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let up: Value = r.json().await.unwrap();
    let mut keys: Vec<&String> = up.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["checksum_sha256", "id", "name", "size", "version_id"]
    );
    assert_eq!(up["name"], "hello.txt");
    assert_eq!(up["size"], 13);
    assert_eq!(up["checksum_sha256"], sha256_hex(&hello));
    let file_id = up["id"].as_str().unwrap();
    assert!(file_id.starts_with("fil_"));
    assert!(up["version_id"].as_str().unwrap().starts_with("ver_"));

    // Full metadata.
    let meta: Value = emu
        .get(&format!("/files/{file_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["mime_type"], "text/plain");
    assert_eq!(meta["path"], "/hello.txt");
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["folder_id"], Value::Null);

    // 4. Download it back.
    let r = emu.get(&format!("/files/{file_id}/content")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"hello.txt\""
    );
    assert!(r.headers().get("etag").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), hello.as_slice());

    // Share it with a password-protected DOWNLOAD link.
    let r = emu
        .http
        .post(emu.api("/external/links"))
        .bearer_auth(&emu.token)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"resource_type": "file", "resource_id": "{file_id}", "share_id": "{share_id}",
                "link_type": "DOWNLOAD", "expires_in_days": 7, "password": "hunter2"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    assert!(link["id"].as_str().unwrap().starts_with("lnk_"));
    let token = link["token"].as_str().unwrap();
    assert_eq!(link["url"], format!("{}/share/{token}", emu.emu.url()));
    assert!(link["short_url"].as_str().unwrap().contains("/s/"));
    assert_eq!(link["password_required"], true);
    assert_eq!(link["status"], "active");
    assert_eq!(link["link_type"], "DOWNLOAD");
    assert!(link.get("password").is_none());
    let expires =
        chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "expires in {days} h");
}

#[tokio::test]
async fn range_requests_return_206_and_unsatisfiable_416() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let data: Vec<u8> = (0..100u8).collect();
    let up = emu.upload(&share, None, "r.bin", &data).await;
    let url = emu.api(&format!("/files/{}/content", up["id"].as_str().unwrap()));
    for (range, lo, hi) in [
        ("bytes=10-19", 10, 19),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=95-500", 95, 99),
    ] {
        let r = emu
            .http
            .get(&url)
            .bearer_auth(&emu.token)
            .header("Range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(r.headers()["content-range"], format!("bytes {lo}-{hi}/100"));
        assert_eq!(r.headers()["content-length"], format!("{}", hi - lo + 1));
        assert_eq!(r.bytes().await.unwrap().as_ref(), &data[lo..=hi], "{range}");
    }
    for range in ["bytes=100-", "bytes=-0"] {
        let r = emu
            .http
            .get(&url)
            .bearer_auth(&emu.token)
            .header("Range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(r.headers()["content-range"], "bytes */100");
    }
    let r = emu
        .http
        .get(&url)
        .bearer_auth(&emu.token)
        .header("Range", "bytes=0-1,5-6")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 100);
}

#[tokio::test]
async fn concurrent_uploads_of_the_same_name_yield_one_file_and_one_conflict() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let a = emu.upload_as(&emu.token, &share, None, "same.txt", vec![b'a'; 200_000]);
    let b = emu.upload_as(&emu.token, &share, None, "same.txt", vec![b'b'; 200_000]);
    let (a, b) = tokio::join!(a, b);
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let loser = if a.status() == 409 { a } else { b };
    let body: Value = loser.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("NAME_CONFLICT")
    );
    assert_eq!(emu.names(&share, "root").await, ["same.txt"]);
}

#[tokio::test]
async fn names_are_unique_across_files_and_folders_and_validated() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    emu.mkdir(&share, None, "dup").await;
    let r = emu
        .upload_as(&emu.token, &share, None, "dup", b"x".to_vec())
        .await;
    assert_eq!(r.status(), 409);
    // Case-sensitive comparison: "Dup" is another name.
    emu.upload(&share, None, "Dup", b"x").await;
    for bad in ["..", "a\\b", "tab\there"] {
        let r = emu
            .post("/folders", json!({"share_id": share, "name": bad}))
            .await;
        assert_eq!(r.status(), 422, "{bad:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["detail"][0]["loc"], json!(["body", "name"]));
    }
    // A soft-deleted file keeps its name reserved until purged.
    let f = emu.upload(&share, None, "gone.txt", b"1").await;
    let id = f["id"].as_str().unwrap();
    assert_eq!(emu.delete(&format!("/files/{id}")).await.status(), 204);
    assert_eq!(emu.get(&format!("/files/{id}")).await.status(), 410);
    let r = emu
        .upload_as(&emu.token, &share, None, "gone.txt", b"2".to_vec())
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        emu.delete(&format!("/files/{id}?permanent=true"))
            .await
            .status(),
        204
    );
    assert_eq!(emu.get(&format!("/files/{id}")).await.status(), 404);
    emu.upload(&share, None, "gone.txt", b"3").await;
}

#[tokio::test]
async fn invalid_bodies_are_422_arrays_and_unknown_routes_404_json() {
    let emu = start().await;
    let r = emu.post("/folders", json!({"name": "x"})).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"][0]["loc"], json!(["body", "share_id"]));
    assert_eq!(v["detail"][0]["type"], "value_error.missing");
    let r = emu
        .http
        .post(emu.api("/folders"))
        .bearer_auth(&emu.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.json::<Value>().await.unwrap()["detail"].is_array());
    let r = emu.get("/no/such/route").await;
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().await.unwrap()["detail"].is_string());
    let r = emu.http.get(emu.api("/users/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = emu.get_as("wrong-token", "/users/me").await;
    assert_eq!(r.status(), 401);
    let r = emu.get("/folders/root/children").await;
    assert_eq!(r.status(), 400, "share_id is required");
    let r = emu.get("/users/me/shares?limit=0").await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        emu.http
            .get(emu.api("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

const ROLES_SEED: &str = r#"
[tenant]
id = "tnt_01TEST"
name = "Test"
max_file_size_bytes = 1000

[[groups]]
id = "grp_01READERS"
name = "Readers"
members = ["usr_01ALICE"]

[[users]]
id = "usr_01ALICE"
email = "alice@example.com"
name = "Alice"

[[users]]
id = "usr_01BOB"
email = "bob@example.com"
name = "Bob"

[[users]]
id = "usr_01CAROL"
email = "carol@example.com"
name = "Carol"

[[tokens]]
token = "alice-token"
user = "usr_01ALICE"
scopes = ["files:read", "files:write"]

[[tokens]]
token = "bob-token"
user = "usr_01BOB"

[[tokens]]
token = "carol-token"
user = "usr_01CAROL"

[[tokens]]
token = "old-token"
user = "usr_01CAROL"
expires_at = "2001-01-01T00:00:00Z"

[[shares]]
id = "shr_01TEAM"
name = "Team"
share_type = "central"
owner_id = "usr_01CAROL"
quota_bytes = 1500
members = [ { principal = "grp_01READERS", role = "reader" },
            { principal = "usr_01CAROL", role = "owner" } ]
"#;

async fn roles_emu() -> Emu {
    let emu = start_with(|_| {}, Some(ROLES_SEED)).await;
    assert_eq!(emu.token, "alice-token");
    emu
}

#[tokio::test]
async fn reader_gets_403_on_writes_and_non_member_gets_404() {
    let emu = roles_emu().await;
    // Alice reads through her group.
    let r = emu
        .get_as("alice-token", "/folders/root/children?share_id=shr_01TEAM")
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = emu
        .get_as("alice-token", "/users/me/shares")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["shares"][0]["role"], "reader");
    let r = emu
        .upload_as("alice-token", "shr_01TEAM", None, "a.txt", b"x".to_vec())
        .await;
    assert_eq!(r.status(), 403);
    let r = emu
        .json_as(
            "alice-token",
            reqwest::Method::POST,
            "/folders",
            json!({"share_id": "shr_01TEAM", "name": "f"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    // Bob is no member: everything under the share is 404.
    for path in [
        "/shares/shr_01TEAM",
        "/folders/root/children?share_id=shr_01TEAM",
        "/sync/changes?share_id=shr_01TEAM",
    ] {
        assert_eq!(emu.get_as("bob-token", path).await.status(), 404, "{path}");
    }
    let r = emu
        .upload_as("bob-token", "shr_01TEAM", None, "b.txt", b"x".to_vec())
        .await;
    assert_eq!(r.status(), 404);
    // Carol owns it and writes; Bob cannot see Carol's file either.
    let r = emu
        .upload_as("carol-token", "shr_01TEAM", None, "c.txt", b"x".to_vec())
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        emu.get_as("bob-token", &format!("/files/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        emu.get_as("alice-token", &format!("/files/{id}/content"))
            .await
            .status(),
        200
    );
    let r = emu
        .json_as(
            "alice-token",
            reqwest::Method::PATCH,
            &format!("/files/{id}"),
            json!({"name": "d.txt"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    // Expired token.
    assert_eq!(emu.get_as("old-token", "/users/me").await.status(), 401);
}

#[tokio::test]
async fn quotas_answer_507_and_the_file_size_cap_413() {
    let emu = roles_emu().await;
    let r = emu
        .upload_as("carol-token", "shr_01TEAM", None, "big.bin", vec![0; 1001])
        .await;
    assert_eq!(r.status(), 413);
    let r = emu
        .upload_as("carol-token", "shr_01TEAM", None, "a.bin", vec![0; 900])
        .await;
    assert_eq!(r.status(), 201);
    let r = emu
        .upload_as("carol-token", "shr_01TEAM", None, "b.bin", vec![0; 700])
        .await;
    assert_eq!(r.status(), 507);
    let v: Value = r.json().await.unwrap();
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("QUOTA_EXCEEDED: share quota"),
        "{detail}"
    );
    assert_eq!(emu.names_as("carol-token", "shr_01TEAM").await, ["a.bin"]);
}

async fn changes_since(emu: &Emu, share: &str, cursor: i64) -> Vec<Value> {
    let v: Value = emu
        .get(&format!("/sync/changes?share_id={share}&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    v["changes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn change_feed_records_create_rename_move_and_delete_in_order() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let head: Value = emu
        .get(&format!("/sync/changes?share_id={share}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(head["changes"], json!([]));
    let cursor = head["cursor"].as_i64().unwrap();

    let a = emu.mkdir(&share, None, "A").await;
    let a_id = a["id"].as_str().unwrap();
    let b = emu.mkdir(&share, Some(a_id), "B").await;
    let b_id = b["id"].as_str().unwrap();
    assert_eq!(b["path"], "/A/B");
    let f = emu.upload(&share, Some(b_id), "f.txt", b"data").await;
    let f_id = f["id"].as_str().unwrap();

    let r = emu
        .patch(&format!("/folders/{a_id}"), json!({"name": "A2"}))
        .await;
    assert_eq!(r.status(), 200);
    let meta: Value = emu
        .get(&format!("/files/{f_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["path"], "/A2/B/f.txt");

    let r = emu
        .patch(&format!("/files/{f_id}"), json!({"folder_id": null}))
        .await;
    assert_eq!(r.status(), 200);
    let r = emu
        .patch(&format!("/files/{f_id}"), json!({"name": "g.txt"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(emu.delete(&format!("/files/{f_id}")).await.status(), 204);

    let got: Vec<(String, String, Value, Value)> = changes_since(&emu, &share, cursor)
        .await
        .into_iter()
        .map(|c| {
            (
                c["change_type"].as_str().unwrap().to_string(),
                c["resource_id"].as_str().unwrap().to_string(),
                c["old_path"].clone(),
                c["new_path"].clone(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    let expected = vec![
        (s("created"), s(a_id), Value::Null, json!("/A")),
        (s("created"), s(b_id), Value::Null, json!("/A/B")),
        (s("created"), s(f_id), Value::Null, json!("/A/B/f.txt")),
        (s("renamed"), s(a_id), json!("/A"), json!("/A2")),
        (s("renamed"), s(b_id), json!("/A/B"), json!("/A2/B")),
        (
            s("renamed"),
            s(f_id),
            json!("/A/B/f.txt"),
            json!("/A2/B/f.txt"),
        ),
        (s("moved"), s(f_id), json!("/A2/B/f.txt"), json!("/f.txt")),
        (s("renamed"), s(f_id), json!("/f.txt"), json!("/g.txt")),
        (s("deleted"), s(f_id), json!("/g.txt"), Value::Null),
    ];
    assert_eq!(got, expected);

    // Paging by cursor walks the same entries.
    let v: Value = emu
        .get(&format!(
            "/sync/changes?share_id={share}&cursor={cursor}&limit=4"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 4);
    assert_eq!(v["has_more"], true);
    let rest = changes_since(&emu, &share, v["cursor"].as_i64().unwrap()).await;
    assert_eq!(rest.len(), 5);
    // The other share's feed is untouched.
    let photos = emu.share_id("Photos").await;
    assert!(changes_since(&emu, &photos, cursor).await.is_empty());
}

#[tokio::test]
async fn folder_move_into_descendant_is_400_and_cross_share_move_feeds_both() {
    let emu = start().await;
    let docs = emu.share_id("Documents").await;
    let photos = emu.share_id("Photos").await;
    let a = emu.mkdir(&docs, None, "A").await;
    let a_id = a["id"].as_str().unwrap();
    let b = emu.mkdir(&docs, Some(a_id), "B").await;
    let b_id = b["id"].as_str().unwrap();
    let r = emu
        .post(
            &format!("/folders/{a_id}/move"),
            json!({"target_folder_id": b_id}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = emu.post(&format!("/folders/{a_id}/move"), json!({})).await;
    assert_eq!(r.status(), 422);
    let cursor: i64 = emu
        .get(&format!("/sync/changes?share_id={photos}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["cursor"]
        .as_i64()
        .unwrap();
    let f = emu.upload(&docs, Some(b_id), "x.txt", b"x").await;
    let r = emu
        .post(
            &format!("/folders/{a_id}/move"),
            json!({"target_share_id": photos}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["share_id"], photos.as_str());
    assert_eq!(emu.names(&photos, "root").await, ["A"]);
    let feed = changes_since(&emu, &photos, cursor).await;
    let ids: Vec<&str> = feed
        .iter()
        .map(|c| c["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a_id, b_id, f["id"].as_str().unwrap()]);
    assert!(
        feed.iter()
            .all(|c| c["change_type"] == "moved" && c["old_path"].is_null())
    );
    let c = emu
        .get(&format!("/files/{}/content", f["id"].as_str().unwrap()))
        .await;
    assert_eq!(c.bytes().await.unwrap().as_ref(), b"x");
}

#[tokio::test]
async fn external_links_can_be_listed_updated_and_revoked() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let f = emu.upload(&share, None, "l.txt", b"l").await;
    let body = json!({"resource_type": "file", "resource_id": f["id"], "share_id": share,
                      "link_type": "VIEW", "custom_name": "Report"});
    let link: Value = emu
        .post("/external/links", body)
        .await
        .json()
        .await
        .unwrap();
    let id = link["id"].as_str().unwrap();
    assert_eq!(link["password_required"], false);
    assert_eq!(link["custom_name"], "Report");
    let r = emu.post("/external/links", json!({"resource_type": "file", "resource_id": f["id"], "share_id": share, "link_type": "UPLOAD"})).await;
    assert_eq!(r.status(), 422);
    let list: Value = emu
        .get(&format!("/external/links?share_id={share}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let r = emu
        .patch(
            &format!("/external/links/{id}"),
            json!({"max_downloads": 3, "password": "pw"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["max_downloads"], 3);
    assert_eq!(v["password_required"], true);
    let r = emu
        .patch(
            &format!("/external/links/{id}"),
            json!({"link_type": "DOWNLOAD"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        emu.delete(&format!("/external/links/{id}")).await.status(),
        204
    );
    let v: Value = emu
        .get(&format!("/external/links/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "revoked");
}

#[tokio::test]
async fn copy_versions_and_restore_keep_content() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let f = emu.upload(&share, None, "v.txt", b"one").await;
    let id = f["id"].as_str().unwrap();
    let r = emu
        .post(
            &format!("/files/{id}/copy"),
            json!({"target_share_id": share, "name": "v2.txt"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let copy: Value = r.json().await.unwrap();
    assert_eq!(copy["version"], 1);
    let r = emu
        .post(&format!("/files/{id}/versions/1/restore"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["restored_from_version"], 1);
    let vs: Value = emu
        .get(&format!("/files/{id}/versions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(vs["total"], 2);
    assert_eq!(vs["versions"][0]["version_number"], 2);
    assert_eq!(
        emu.get(&format!("/files/{id}/content?version=9"))
            .await
            .status(),
        404
    );
    let c = emu
        .get(&format!("/files/{}/content", copy["id"].as_str().unwrap()))
        .await;
    assert_eq!(c.bytes().await.unwrap().as_ref(), b"one");
}

/// A share's `used_bytes` (from `GET /users/me/shares`) and the caller's (`GET /users/me/quota`).
async fn usage(emu: &Emu, share: &str) -> (i64, i64) {
    let shares: Value = emu.get("/users/me/shares").await.json().await.unwrap();
    let used = shares["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == share)
        .unwrap()["used_bytes"]
        .as_i64()
        .unwrap();
    let quota: Value = emu.get("/users/me/quota").await.json().await.unwrap();
    (used, quota["used_bytes"].as_i64().unwrap())
}

#[tokio::test]
async fn used_bytes_follow_uploads_versions_copies_moves_and_purges() {
    let emu = start().await;
    let docs = emu.share_id("Documents").await;
    let photos = emu.share_id("Photos").await;
    let (docs0, me0) = usage(&emu, &docs).await;
    let (photos0, _) = usage(&emu, &photos).await;
    let f = emu.upload(&docs, None, "u.txt", b"0123456789").await;
    let id = f["id"].as_str().unwrap();
    assert_eq!(usage(&emu, &docs).await, (docs0 + 10, me0 + 10));
    // A restored version is a new version: its bytes count again.
    let r = emu
        .post(&format!("/files/{id}/versions/1/restore"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(usage(&emu, &docs).await, (docs0 + 20, me0 + 20));
    let r = emu
        .post(
            &format!("/files/{id}/copy"),
            json!({"target_share_id": docs, "name": "c.txt"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let copy: Value = r.json().await.unwrap();
    assert_eq!(usage(&emu, &docs).await, (docs0 + 30, me0 + 30));
    // A folder moved to another share takes its files' versions along.
    let a = emu.mkdir(&docs, None, "A").await;
    let a_id = a["id"].as_str().unwrap();
    emu.upload(&docs, Some(a_id), "x.bin", b"12345").await;
    assert_eq!(usage(&emu, &docs).await, (docs0 + 35, me0 + 35));
    let r = emu
        .post(
            &format!("/folders/{a_id}/move"),
            json!({"target_share_id": photos}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(usage(&emu, &docs).await, (docs0 + 30, me0 + 35));
    assert_eq!(usage(&emu, &photos).await.0, photos0 + 5);
    // Soft delete keeps the bytes (trash counts); a purge frees them.
    let cid = copy["id"].as_str().unwrap();
    assert_eq!(emu.delete(&format!("/files/{cid}")).await.status(), 204);
    assert_eq!(usage(&emu, &docs).await, (docs0 + 30, me0 + 35));
    assert_eq!(
        emu.delete(&format!("/files/{cid}?permanent=true"))
            .await
            .status(),
        204
    );
    assert_eq!(usage(&emu, &docs).await, (docs0 + 20, me0 + 25));
    // The kept sums are what summing every version gives.
    let conn = rusqlite::Connection::open(emu.data_dir().join("scaidrive.db")).unwrap();
    let mismatched: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM shares s WHERE \
             COALESCE((SELECT bytes FROM share_usage WHERE share_id = s.id), 0) != \
             (SELECT COALESCE(SUM(v.size), 0) FROM versions v JOIN files f ON f.id = v.file_id \
              WHERE f.share_id = s.id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatched, 0);
}
