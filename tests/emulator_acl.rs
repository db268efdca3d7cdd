//! The emulator's permissions and ACLs (§4.6) over real HTTP: ACL CRUD, inheritance, deny,
//! group and everyone principals, and that every content endpoint resolves access the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;

use emulator_support::{Emu, start_with};
use reqwest::Method;
use serde_json::{Value, json};

/// Owner (alice) owns the share; bob and carol have no role; carol is in group grp_01C; dave is
/// a reader.
const SEED: &str = r#"
[tenant]
id = "tnt_01ACL"
name = "acl"

[[groups]]
id = "grp_01C"
name = "Carols"
members = ["usr_01CAROL"]

[[users]]
id = "usr_01ALICE"
email = "alice@example.com"
name = "Alice"
display_name = "Alice"

[[users]]
id = "usr_01BOB"
email = "bob@example.com"
name = "Bob"
display_name = "Bob"

[[users]]
id = "usr_01CAROL"
email = "carol@example.com"
name = "Carol"
display_name = "Carol"

[[users]]
id = "usr_01DAVE"
email = "dave@example.com"
name = "Dave"
display_name = "Dave"

[[tokens]]
token = "alice"
user = "usr_01ALICE"

[[tokens]]
token = "bob"
user = "usr_01BOB"

[[tokens]]
token = "carol"
user = "usr_01CAROL"

[[tokens]]
token = "dave"
user = "usr_01DAVE"

[[shares]]
id = "shr_01S"
name = "S"
share_type = "central"
owner_id = "usr_01ALICE"
members = [ { principal = "usr_01ALICE", role = "owner" }, { principal = "usr_01DAVE", role = "reader" } ]
"#;

async fn emu() -> Emu {
    start_with(|_| {}, Some(SEED)).await
}

async fn grant(emu: &Emu, rtype: &str, rid: &str, body: Value) -> reqwest::Response {
    emu.json_as(
        "alice",
        Method::POST,
        &format!("/permissions/acl/{rtype}/{rid}"),
        body,
    )
    .await
}

async fn allow(emu: &Emu, rtype: &str, rid: &str, user: &str, perms: &[&str], inherit: bool) {
    let r = grant(
        emu,
        rtype,
        rid,
        json!({"principal_type": "user", "principal_id": user, "permissions": perms,
               "ace_type": "allow", "inherit_to_children": inherit}),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn status(emu: &Emu, token: &str, path: &str) -> u16 {
    emu.get_as(token, path).await.status().as_u16()
}

#[tokio::test]
async fn a_user_without_role_reads_only_what_an_ace_grants() {
    let emu = emu().await;
    let a = emu.mkdir("shr_01S", None, "a").await;
    let b = emu.mkdir("shr_01S", None, "b").await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let fa = emu.upload("shr_01S", Some(a), "x.txt", b"in a").await;
    let fb = emu.upload("shr_01S", Some(b), "y.txt", b"in b").await;
    let (fa, fb) = (fa["id"].as_str().unwrap(), fb["id"].as_str().unwrap());

    // No role, no ACE: the share does not exist for bob.
    assert_eq!(status(&emu, "bob", &format!("/files/{fa}")).await, 404);
    assert_eq!(
        status(&emu, "bob", "/folders/root/children?share_id=shr_01S").await,
        404
    );

    allow(&emu, "folder", a, "usr_01BOB", &["READ"], true).await;
    // Inherited READ reaches the file in a; b stays closed (403: the share is visible now).
    assert_eq!(status(&emu, "bob", &format!("/files/{fa}")).await, 200);
    let body = emu.get_as("bob", &format!("/files/{fa}/content")).await;
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"in a");
    assert_eq!(status(&emu, "bob", &format!("/files/{fb}")).await, 403);
    assert_eq!(
        status(
            &emu,
            "bob",
            &format!("/folders/{b}/children?share_id=shr_01S")
        )
        .await,
        403
    );
    assert_eq!(
        status(
            &emu,
            "bob",
            &format!("/folders/{a}/children?share_id=shr_01S")
        )
        .await,
        200
    );
    // The share root needs READ on the share.
    assert_eq!(
        status(&emu, "bob", "/folders/root/children?share_id=shr_01S").await,
        403
    );
    // Membership lists are unchanged: an ACE is not a membership.
    let mine: Value = emu
        .get_as("bob", "/users/me/shares")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total"], 0);
    // READ is not CREATE; a second allow entry for the same principal is a conflict.
    let r = emu
        .upload_as("bob", "shr_01S", Some(a), "new.txt", b"n".to_vec())
        .await;
    assert_eq!(r.status(), 403);
    let r = grant(
        &emu,
        "folder",
        a,
        json!({"principal_type": "user", "principal_id": "usr_01BOB", "permissions": ["CREATE"],
               "ace_type": "allow"}),
    )
    .await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn acl_entries_round_trip_and_writes_need_manage_permissions() {
    let emu = emu().await;
    let f = emu.mkdir("shr_01S", None, "f").await;
    let f = f["id"].as_str().unwrap();
    let r = grant(
        &emu,
        "folder",
        f,
        json!({"principal_type": "group", "principal_id": "grp_01C",
               "permissions": ["READ", "WRITE"], "ace_type": "allow", "inherit_to_children": false}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let ace: Value = r.json().await.unwrap();
    assert!(ace["id"].as_str().unwrap().starts_with("ace_"));
    assert_eq!(ace["permissions"], 3);
    allow(&emu, "share", "shr_01S", "usr_01BOB", &["READ"], true).await;
    let acl: Value = emu
        .get_as("alice", &format!("/permissions/acl/folder/{f}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(acl["inherit_from_parent"], true);
    let entries = acl["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{acl}");
    assert_eq!(entries[0]["principal_id"], "grp_01C");
    assert_eq!(entries[0]["inherited"], false);
    assert_eq!(entries[0]["inherit_to_children"], false);
    assert_eq!(entries[1]["principal_id"], "usr_01BOB");
    assert_eq!(entries[1]["inherited"], true);
    assert_eq!(entries[1]["inherited_from"]["resource_type"], "share");

    // Carol (through her group) may read and write but not manage the ACL.
    assert_eq!(
        status(&emu, "carol", &format!("/permissions/acl/folder/{f}")).await,
        403
    );
    let r = emu
        .json_as(
            "carol",
            Method::POST,
            &format!("/permissions/acl/folder/{f}"),
            json!({"principal_type": "everyone", "permissions": ["READ"], "ace_type": "allow"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let eff: Value = emu
        .get_as(
            "carol",
            &format!("/permissions/effective?resource_type=folder&resource_id={f}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(eff["can_read"], true);
    assert_eq!(eff["can_write"], true);
    assert_eq!(eff["can_create"], false);
    assert_eq!(eff["can_manage_permissions"], false);

    // Unknown principals and permission names are refused.
    let r = grant(
        &emu,
        "folder",
        f,
        json!({"principal_type": "user", "principal_id": "usr_NOPE", "permissions": ["READ"],
               "ace_type": "allow"}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = grant(
        &emu,
        "folder",
        f,
        json!({"principal_type": "user", "principal_id": "usr_01BOB", "permissions": ["FLY"],
               "ace_type": "allow"}),
    )
    .await;
    assert_eq!(r.status(), 422);

    // Delete: 204, then 404 for the same entry.
    let del = json!({"principal_type": "group", "principal_id": "grp_01C", "ace_type": "allow"});
    let r = emu
        .json_as(
            "alice",
            Method::DELETE,
            &format!("/permissions/acl/folder/{f}"),
            del.clone(),
        )
        .await;
    assert_eq!(r.status(), 204);
    let r = emu
        .json_as(
            "alice",
            Method::DELETE,
            &format!("/permissions/acl/folder/{f}"),
            del,
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(status(&emu, "carol", &format!("/folders/{f}")).await, 404);
}

#[tokio::test]
async fn deny_beats_role_and_allow_and_inheritance_can_be_cut() {
    let emu = emu().await;
    let top = emu.mkdir("shr_01S", None, "top").await;
    let top = top["id"].as_str().unwrap();
    let sub = emu.mkdir("shr_01S", Some(top), "sub").await;
    let sub = sub["id"].as_str().unwrap();
    let file = emu.upload("shr_01S", Some(sub), "f.txt", b"deep").await;
    let file = file["id"].as_str().unwrap();

    // Dave is a reader: a deny READ on top reaches the file two levels down.
    assert_eq!(status(&emu, "dave", &format!("/files/{file}")).await, 200);
    let r = grant(
        &emu,
        "folder",
        top,
        json!({"principal_type": "user", "principal_id": "usr_01DAVE", "permissions": ["READ"],
               "ace_type": "deny"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(status(&emu, "dave", &format!("/files/{file}")).await, 403);
    assert_eq!(
        status(&emu, "dave", &format!("/files/{file}/content")).await,
        403
    );
    let check: Value = emu
        .get_as(
            "dave",
            &format!("/permissions/check?resource_type=file&resource_id={file}&permission=READ"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["allowed"], false);
    // The share root is still readable, and the listing still names `top` (READ on the
    // folder lists its children).
    assert_eq!(emu.names_as("dave", "shr_01S").await, vec!["top"]);

    // Cutting inheritance at `sub` brings the role back (the role is not an ACE).
    let r = emu
        .json_as(
            "alice",
            Method::PUT,
            &format!("/permissions/acl/folder/{sub}/inheritance"),
            json!({"inherit_from_parent": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["inherit_from_parent"],
        false
    );
    assert_eq!(status(&emu, "dave", &format!("/files/{file}")).await, 200);

    // Back on, with copy_inherited when turning it off again: the deny is copied onto `sub`.
    for (on, copy) in [(true, false), (false, true)] {
        let r = emu
            .json_as(
                "alice",
                Method::PUT,
                &format!("/permissions/acl/folder/{sub}/inheritance"),
                json!({"inherit_from_parent": on, "copy_inherited": copy}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(status(&emu, "dave", &format!("/files/{file}")).await, 403);
    let acl: Value = emu
        .get_as("alice", &format!("/permissions/acl/folder/{sub}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(acl["inherit_from_parent"], false);
    assert_eq!(acl["entries"][0]["ace_type"], "deny");
    assert_eq!(acl["entries"][0]["inherited"], false);

    // A batch mixes allowed, denied and invisible resources.
    let r = emu
        .json_as(
            "dave",
            Method::POST,
            "/permissions/check/batch",
            json!({"checks": [
                {"resource_type": "share", "resource_id": "shr_01S", "permission": "READ"},
                {"resource_type": "file", "resource_id": file, "permission": "READ"},
                {"resource_type": "file", "resource_id": "fil_NOPE", "permission": "READ"},
            ]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let got: Vec<bool> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(got, vec![true, false, false]);
}

#[tokio::test]
async fn everyone_grants_write_create_delete_exactly_as_given() {
    let emu = emu().await;
    let drop = emu.mkdir("shr_01S", None, "drop").await;
    let drop = drop["id"].as_str().unwrap();
    let r = grant(
        &emu,
        "folder",
        drop,
        json!({"principal_type": "everyone", "permissions": ["READ", "CREATE"],
               "ace_type": "allow"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    // Bob creates through `everyone`, but may neither overwrite-rename nor delete.
    let r = emu
        .upload_as("bob", "shr_01S", Some(drop), "b.txt", b"bob".to_vec())
        .await;
    assert_eq!(r.status(), 201);
    let fid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = emu
        .json_as(
            "bob",
            Method::PATCH,
            &format!("/files/{fid}"),
            json!({"name": "c.txt"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = emu
        .json_as("bob", Method::DELETE, &format!("/files/{fid}"), json!({}))
        .await;
    assert_eq!(r.status(), 403);
    // A folder create inside needs CREATE too: granted.
    let r = emu
        .json_as(
            "bob",
            Method::POST,
            "/folders",
            json!({"share_id": "shr_01S", "name": "sub", "parent_id": drop}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Outside `drop` bob has nothing.
    let r = emu
        .upload_as("bob", "shr_01S", None, "root.txt", b"r".to_vec())
        .await;
    assert_eq!(r.status(), 403);
    // An upload session into `drop` works; replacing the file needs WRITE on it.
    let r = emu
        .json_as(
            "bob",
            Method::POST,
            "/uploads",
            json!({"share_id": "shr_01S", "folder_id": drop, "file_name": "b.txt",
                   "file_size": 3, "replace_file_id": fid}),
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn external_links_need_share_on_the_resource_itself() {
    let emu = emu().await;
    let a = emu.mkdir("shr_01S", None, "a").await;
    let b = emu.mkdir("shr_01S", None, "b").await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let fa = emu.upload("shr_01S", Some(a), "x.txt", b"in a").await;
    let fa = fa["id"].as_str().unwrap();
    allow(&emu, "folder", a, "usr_01BOB", &["READ", "SHARE"], true).await;
    allow(&emu, "folder", b, "usr_01BOB", &["READ"], true).await;
    let link = |rtype: &'static str, rid: String| {
        let emu = &emu;
        async move {
            emu.json_as(
                "bob",
                Method::POST,
                "/external/links",
                json!({"resource_type": rtype, "resource_id": rid, "share_id": "shr_01S",
                       "link_type": "DOWNLOAD"}),
            )
            .await
            .status()
            .as_u16()
        }
    };
    // SHARE granted on folder a (inherited by its file), not on b nor on the share.
    assert_eq!(link("folder", a.to_owned()).await, 201);
    assert_eq!(link("file", fa.to_owned()).await, 201);
    assert_eq!(link("folder", b.to_owned()).await, 403);
    assert_eq!(link("share", "shr_01S".to_owned()).await, 403);
    // A reader has no SHARE anywhere.
    let r = emu
        .json_as(
            "dave",
            Method::POST,
            "/external/links",
            json!({"resource_type": "folder", "resource_id": a, "share_id": "shr_01S",
                   "link_type": "DOWNLOAD"}),
        )
        .await;
    assert_eq!(r.status(), 403);
}
