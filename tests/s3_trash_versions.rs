//! Delete markers from ScaiDrive's trash, over real HTTP (a gateway with its embedded emulator
//! on port 0): a delete answers a marker, ListObjectVersions lists it over the trashed file's
//! content, GET/HEAD answer as S3 does around it, deleting the marker restores the file (with
//! its folder when that went too), and GetObjectAttributes.

#![allow(clippy::unwrap_used)]

mod s3_support;

use s3_support::{Resp, S3, Upstream, start, xml_value, xml_values};

async fn versions(s3: &S3, prefix: &str) -> String {
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("versions", ""), ("prefix", prefix)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// The `<DeleteMarker>` elements of a version listing.
fn markers(body: &str) -> Vec<String> {
    body.split("<DeleteMarker>")
        .skip(1)
        .map(|s| s.split("</DeleteMarker>").next().unwrap().to_owned())
        .collect()
}

async fn delete(s3: &S3, path: &str, version: Option<&str>) -> Resp {
    let q: Vec<(&str, &str)> = version.map(|v| ("versionId", v)).into_iter().collect();
    s3.call("DELETE", path, &q, &[], Vec::new()).await
}

fn code(r: &Resp) -> Option<String> {
    xml_value(&r.text(), "Code")
}

#[tokio::test]
async fn a_deleted_key_is_a_delete_marker_and_deleting_the_marker_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/m.txt", b"first").await;
    s3.put("/documents/m.txt", b"second").await;

    let d = delete(&s3, "/documents/m.txt", None).await;
    assert_eq!(d.status, 204, "{}", d.text());
    assert_eq!(d.header("x-amz-delete-marker").as_deref(), Some("true"));
    let marker = d.header("x-amz-version-id").unwrap();
    assert!(marker.starts_with("dm."), "{marker}");

    // The marker is the latest version; the trashed content a noncurrent one.
    let body = versions(&s3, "m.txt").await;
    let ms = markers(&body);
    assert_eq!(ms.len(), 1, "{body}");
    assert_eq!(
        xml_value(&ms[0], "VersionId").as_deref(),
        Some(marker.as_str())
    );
    assert_eq!(xml_value(&ms[0], "IsLatest").as_deref(), Some("true"));
    let trashed = xml_values(&body, "VersionId")
        .into_iter()
        .find(|v| v.starts_with("tv."))
        .unwrap();

    // GET of the key: 404 saying a marker is latest; the marker's own id: 405; the trashed
    // content: refused (ScaiDrive serves no content from its trash), HEAD tells its size.
    let g = s3.get("/documents/m.txt").await;
    assert_eq!(g.status, 404);
    assert_eq!(g.header("x-amz-delete-marker").as_deref(), Some("true"));
    assert_eq!(
        g.header("x-amz-version-id").as_deref(),
        Some(marker.as_str())
    );
    let h = s3
        .call(
            "HEAD",
            "/documents/m.txt",
            &[("versionId", &marker)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(h.status, 405);
    assert_eq!(h.header("x-amz-delete-marker").as_deref(), Some("true"));
    let g = s3
        .call(
            "GET",
            "/documents/m.txt",
            &[("versionId", &trashed)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(g.status, 403, "{}", g.text());
    assert_eq!(code(&g).as_deref(), Some("InvalidObjectState"));
    let h = s3
        .call(
            "HEAD",
            "/documents/m.txt",
            &[("versionId", &trashed)],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length").as_deref(), Some("6"));

    // Deleting the marker restores the object, content and versions.
    let u = delete(&s3, "/documents/m.txt", Some(&marker)).await;
    assert_eq!(u.status, 204, "{}", u.text());
    assert_eq!(u.header("x-amz-delete-marker").as_deref(), Some("true"));
    let g = s3.get("/documents/m.txt").await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"second");
    let body = versions(&s3, "m.txt").await;
    assert!(markers(&body).is_empty(), "{body}");
    assert_eq!(xml_values(&body, "VersionId").len(), 2, "{body}");
    // The marker is gone: deleting it again succeeds and changes nothing.
    let again = delete(&s3, "/documents/m.txt", Some(&marker)).await;
    assert_eq!(again.status, 204);
    assert_eq!(s3.get("/documents/m.txt").await.status, 200);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_key_deleted_twice_has_two_markers_and_a_live_key_is_never_replaced_by_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/twice.txt", b"one").await;
    let first = delete(&s3, "/documents/twice.txt", None).await;
    s3.put("/documents/twice.txt", b"two").await;
    let second = delete(&s3, "/documents/twice.txt", None).await;
    let (first, second) = (
        first.header("x-amz-version-id").unwrap(),
        second.header("x-amz-version-id").unwrap(),
    );
    assert_ne!(first, second);
    let body = versions(&s3, "twice.txt").await;
    let ms = markers(&body);
    assert_eq!(ms.len(), 2, "{body}");
    // Newest first, and only it is latest.
    assert_eq!(
        xml_value(&ms[0], "VersionId").as_deref(),
        Some(second.as_str())
    );
    assert_eq!(xml_value(&ms[0], "IsLatest").as_deref(), Some("true"));
    assert_eq!(xml_value(&ms[1], "IsLatest").as_deref(), Some("false"));

    // Restoring the newer one brings "two" back; the older one then meets a live key.
    assert_eq!(
        delete(&s3, "/documents/twice.txt", Some(&second))
            .await
            .status,
        204
    );
    assert_eq!(s3.get("/documents/twice.txt").await.body, b"two");
    let body = versions(&s3, "twice.txt").await;
    let ms = markers(&body);
    assert_eq!(ms.len(), 1, "{body}");
    assert_eq!(xml_value(&ms[0], "IsLatest").as_deref(), Some("false"));
    let conflict = delete(&s3, "/documents/twice.txt", Some(&first)).await;
    assert_eq!(conflict.status, 409, "{}", conflict.text());
    assert_eq!(s3.get("/documents/twice.txt").await.body, b"two");
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_key_whose_folder_was_pruned_comes_back_with_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    s3.put("/documents/deep/er/k.bin", b"payload").await;
    let d = delete(&s3, "/documents/deep/er/k.bin", None).await;
    let marker = d.header("x-amz-version-id").unwrap();
    // The emptied folders went to the trash too; the marker is still listed under its key.
    let list = s3
        .call("GET", "/documents", &[("list-type", "2")], &[], Vec::new())
        .await;
    assert!(!list.text().contains("deep"), "{}", list.text());
    let body = versions(&s3, "deep/").await;
    assert_eq!(markers(&body).len(), 1, "{body}");
    assert_eq!(xml_value(&body, "Key").as_deref(), Some("deep/er/k.bin"));
    // With a delimiter the trashed folder is a common prefix.
    let r = s3
        .call(
            "GET",
            "/documents",
            &[("versions", ""), ("delimiter", "/")],
            &[],
            Vec::new(),
        )
        .await;
    assert!(
        xml_values(&r.text(), "Prefix").contains(&"deep/".to_owned()),
        "{}",
        r.text()
    );

    assert_eq!(
        delete(&s3, "/documents/deep/er/k.bin", Some(&marker))
            .await
            .status,
        204
    );
    assert_eq!(s3.get("/documents/deep/er/k.bin").await.body, b"payload");
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_file_trashed_in_scaidrive_itself_is_a_marker_and_its_version_can_be_purged() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let up = Upstream::documents(&s3).await;
    let id = up.upload(None, "web.txt", b"from the web UI").await;
    let r = up
        .http
        .delete(format!("{}/files/{id}", up.base))
        .bearer_auth(&up.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let body = versions(&s3, "web.txt").await;
    let ms = markers(&body);
    assert_eq!(ms.len(), 1, "{body}");
    // Trashed under its own name: the marker is named after the file alone.
    assert_eq!(xml_value(&ms[0], "VersionId"), Some(format!("dm.{id}")));
    // Deleting the trashed content's version purges the file from the trash, marker and all.
    let purge = delete(&s3, "/documents/web.txt", Some(&format!("tv.{id}"))).await;
    assert_eq!(purge.status, 204, "{}", purge.text());
    let body = versions(&s3, "web.txt").await;
    assert!(markers(&body).is_empty(), "{body}");
    assert!(xml_values(&body, "VersionId").is_empty(), "{body}");
    // A version id that names nothing answers NoSuchVersion.
    let g = s3
        .call(
            "GET",
            "/documents/web.txt",
            &[("versionId", &format!("tv.{id}"))],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(g.status, 404);
    assert_eq!(code(&g).as_deref(), Some("NoSuchVersion"));
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn get_object_attributes_answers_what_was_asked() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start(dir.path()).await;
    let put = s3
        .call(
            "PUT",
            "/documents/attrs.txt",
            &[],
            &[("x-amz-checksum-crc32", "NhCmhg==")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let r = s3
        .call(
            "GET",
            "/documents/attrs.txt",
            &[("attributes", "")],
            &[(
                "x-amz-object-attributes",
                "ETag,Checksum,ObjectSize,StorageClass",
            )],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    assert_eq!(xml_value(&body, "ObjectSize").as_deref(), Some("5"));
    assert_eq!(
        xml_value(&body, "StorageClass").as_deref(),
        Some("STANDARD")
    );
    assert_eq!(
        xml_value(&body, "ChecksumCRC32").as_deref(),
        Some("NhCmhg==")
    );
    assert_eq!(
        xml_value(&body, "ChecksumType").as_deref(),
        Some("FULL_OBJECT")
    );
    assert!(
        xml_value(&body, "ETag")
            .unwrap()
            .contains("5d41402abc4b2a76b9719d911017c592")
    );
    // Only what was asked for.
    let r = s3
        .call(
            "GET",
            "/documents/attrs.txt",
            &[("attributes", "")],
            &[("x-amz-object-attributes", "ObjectSize")],
            Vec::new(),
        )
        .await;
    assert_eq!(xml_value(&r.text(), "ETag"), None, "{}", r.text());
    s3.gateway.shutdown().await;
}
