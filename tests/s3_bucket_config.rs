//! Bucket configuration the gateway keeps itself, over real HTTP against the embedded emulator:
//! lifecycle rules stored and applied by the worker with its clock moved forward (the admin
//! listener's `POST /lifecycle/run?now=`), bucket tagging, CORS rules answered on preflight.

#![allow(clippy::unwrap_used)]

mod s3_support;

use s3_support::{S3, Upstream, start_with, xml_value, xml_values};

async fn started(dir: &std::path::Path) -> S3 {
    start_with(dir, |cfg| {
        cfg.lifecycle.admin_run = true;
        cfg.lifecycle.pace_ms = 0;
    })
    .await
}

/// Runs one lifecycle pass as of `now` through the admin listener; its JSON report.
async fn run_pass(s3: &S3, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let url = format!(
        "http://{}/lifecycle/run?now={}",
        s3.gateway.addrs().admin,
        percent_encoding::utf8_percent_encode(
            &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let r = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

const ONE_DAY_RULE: &str = "<LifecycleConfiguration><Rule><ID>tmp-1d</ID><Filter><Prefix>tmp-</Prefix></Filter>\
     <Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";

#[tokio::test]
async fn a_one_day_expiration_moves_due_objects_to_the_trash_once_the_clock_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = started(dir.path()).await;
    assert_eq!(s3.put("/documents/tmp-a.txt", b"old").await.status, 200);
    assert_eq!(s3.put("/documents/keep.txt", b"kept").await.status, 200);

    let none = s3
        .call("GET", "/documents", &[("lifecycle", "")], &[], Vec::new())
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(
        xml_value(&none.text(), "Code").as_deref(),
        Some("NoSuchLifecycleConfiguration")
    );
    let put = s3
        .call(
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            ONE_DAY_RULE.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let got = s3
        .call("GET", "/documents", &[("lifecycle", "")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&got.text(), "ID"), ["tmp-1d"]);
    assert_eq!(xml_value(&got.text(), "Days").as_deref(), Some("1"));

    // Today nothing is due; two days on the object is, and goes to the trash.
    let now = chrono::Utc::now();
    let report = run_pass(&s3, now).await;
    assert_eq!(report["expired"], 0, "{report}");
    let report = run_pass(&s3, now + chrono::Duration::days(2)).await;
    assert_eq!(report["expired"], 1, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(s3.get("/documents/tmp-a.txt").await.status, 404);
    assert_eq!(s3.get("/documents/keep.txt").await.status, 200);
    let up = Upstream::documents(&s3).await;
    let listing: serde_json::Value = up
        .http
        .get(format!("{}/folders/root/children", up.base))
        .query(&[("share_id", up.share.as_str()), ("include_deleted", "true")])
        .bearer_auth(&up.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trashed: Vec<_> = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["is_deleted"] == true)
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(
        trashed.iter().any(|n| n.starts_with("tmp-a")),
        "not in the trash: {listing}"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", s3.gateway.addrs().admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scaidrive_gateway_lifecycle_actions_total{action=\"expired\"} 1"),
        "{metrics}"
    );

    // Deleted, the configuration is gone and nothing more expires.
    let del = s3
        .call(
            "DELETE",
            "/documents",
            &[("lifecycle", "")],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(s3.put("/documents/tmp-b.txt", b"x").await.status, 200);
    let report = run_pass(&s3, now + chrono::Duration::days(30)).await;
    assert_eq!(report["buckets"], 0, "{report}");
    assert_eq!(s3.get("/documents/tmp-b.txt").await.status, 200);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn rules_put_with_a_key_revoked_since_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = started(dir.path()).await;
    let db = scaidrive_gateway::state::StateDb::open(dir.path().join("gateway.db")).unwrap();
    let seed = &s3.gateway.emulator().unwrap().tokens()[0];
    let cred = db
        .create_credential(scaidrive_gateway::state::NewCredential {
            access_key_id: None,
            secret_access_key: None,
            token: seed.token.clone(),
            label: Some("lifecycle".into()),
            user_id: seed.user_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(s3.put("/documents/tmp-r.txt", b"x").await.status, 200);
    let put = s3
        .call_as(
            &cred.access_key_id,
            &cred.secret_access_key,
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            ONE_DAY_RULE.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    db.revoke_credential(&cred.access_key_id).await.unwrap();
    let report = run_pass(&s3, chrono::Utc::now() + chrono::Duration::days(3)).await;
    assert_eq!(
        (report["skipped"].as_u64(), report["expired"].as_u64()),
        (Some(1), Some(0)),
        "{report}"
    );
    assert_eq!(s3.get("/documents/tmp-r.txt").await.status, 200);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn lifecycle_rules_scaidrive_cannot_apply_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = started(dir.path()).await;
    let noncurrent = "<LifecycleConfiguration><Rule><ID>nc</ID><Prefix></Prefix><Status>Enabled</Status>\
        <NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays></NoncurrentVersionExpiration>\
        </Rule></LifecycleConfiguration>";
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            noncurrent.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 501, "{}", r.text());
    assert!(
        r.text().contains("ScaiDrive keeps every version"),
        "{}",
        r.text()
    );
    let bad_status = ONE_DAY_RULE.replace("Enabled", "enabled");
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            bad_status.into_bytes(),
        )
        .await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("MalformedXML")
    );
    // Nothing was stored.
    let r = s3
        .call("GET", "/documents", &[("lifecycle", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 404);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn bucket_tags_are_stored_validated_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = started(dir.path()).await;
    let r = s3
        .call("GET", "/documents", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(
        xml_value(&r.text(), "Code").as_deref(),
        Some("NoSuchTagSet")
    );
    let tags = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag>\
        <Tag><Key>cost</Key><Value>42</Value></Tag></TagSet></Tagging>";
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("tagging", "")],
            &[],
            tags.as_bytes().to_vec(),
        )
        .await;
    // S3 answers 204; s3s 0.14 sends 200 for this operation whatever the handler says.
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call("GET", "/documents", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["team", "cost"]);
    let dup = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>\
        <Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>";
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("tagging", "")],
            &[],
            dup.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(xml_value(&r.text(), "Code").as_deref(), Some("InvalidTag"));
    let r = s3
        .call("DELETE", "/documents", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204);
    let r = s3
        .call("GET", "/documents", &[("tagging", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 404);
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn cors_rules_answer_preflights_and_decorate_requests_with_an_origin() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = started(dir.path()).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &str, method: &str, headers: Option<&str>| {
        let mut r = http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/documents/up.txt", s3.endpoint),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method);
        if let Some(h) = headers {
            r = r.header("Access-Control-Request-Headers", h);
        }
        r.send()
    };
    // No rules yet: 403.
    assert_eq!(
        preflight("https://app.example", "PUT", None)
            .await
            .unwrap()
            .status(),
        403
    );
    let cors = "<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example</AllowedOrigin>\
        <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>\
        <AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader>\
        <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>";
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("cors", "")],
            &[],
            cors.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3
        .call("GET", "/documents", &[("cors", "")], &[], Vec::new())
        .await;
    assert_eq!(
        xml_value(&r.text(), "MaxAgeSeconds").as_deref(),
        Some("600")
    );

    let ok = preflight(
        "https://app.example",
        "PUT",
        Some("x-amz-date, Content-Type"),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let h = |name: &str| {
        ok.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        h("access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    assert_eq!(
        h("access-control-allow-methods").as_deref(),
        Some("PUT, GET")
    );
    assert_eq!(
        h("access-control-allow-headers").as_deref(),
        Some("x-amz-date, Content-Type")
    );
    assert_eq!(h("access-control-expose-headers").as_deref(), Some("ETag"));
    assert_eq!(h("access-control-max-age").as_deref(), Some("600"));
    // Another origin, method or header: 403; no Origin: 400.
    assert_eq!(
        preflight("https://evil.test", "PUT", None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        preflight("https://app.example", "DELETE", None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        preflight("https://app.example", "PUT", Some("authorization-x"))
            .await
            .unwrap()
            .status(),
        403
    );
    let bare = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/documents/up.txt", s3.endpoint),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 400);

    // An actual (signed) request with an Origin carries the headers; it is still checked.
    let r = s3
        .call(
            "PUT",
            "/documents/up.txt",
            &[],
            &[("origin", "https://app.example")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let r = s3
        .call(
            "GET",
            "/documents/up.txt",
            &[],
            &[("origin", "https://evil.test")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let anonymous = http
        .put(format!("{}/documents/anon.txt", s3.endpoint))
        .header("Origin", "https://app.example")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);

    let r = s3
        .call("DELETE", "/documents", &[("cors", "")], &[], Vec::new())
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        preflight("https://app.example", "PUT", None)
            .await
            .unwrap()
            .status(),
        403
    );
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn incomplete_multipart_uploads_are_aborted_after_their_days() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = started(dir.path()).await;
    let create = |key: &'static str| s3.call("POST", key, &[("uploads", "")], &[], Vec::new());
    let r = create("/documents/tmp-up.bin").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = create("/documents/other.bin").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let rule = "<LifecycleConfiguration><Rule><ID>mpu</ID><Filter><Prefix>tmp-</Prefix></Filter>\
        <Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1\
        </DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>";
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            rule.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = run_pass(&s3, chrono::Utc::now()).await;
    assert_eq!(report["aborted"], 0, "{report}");
    let report = run_pass(&s3, chrono::Utc::now() + chrono::Duration::days(2)).await;
    assert_eq!(report["aborted"], 1, "{report}");
    let r = s3
        .call("GET", "/documents", &[("uploads", "")], &[], Vec::new())
        .await;
    assert_eq!(xml_values(&r.text(), "Key"), ["other.bin"], "{}", r.text());
    s3.gateway.shutdown().await;
}

#[tokio::test]
async fn a_pass_stops_at_its_action_bound_and_the_next_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = start_with(dir.path(), |cfg| {
        cfg.lifecycle.admin_run = true;
        cfg.lifecycle.pace_ms = 0;
        // One listing page and one delete per pass.
        cfg.lifecycle.max_actions_per_pass = 2;
    })
    .await;
    for k in ["tmp-1", "tmp-2", "tmp-3"] {
        assert_eq!(s3.put(&format!("/documents/{k}"), b"x").await.status, 200);
    }
    let r = s3
        .call(
            "PUT",
            "/documents",
            &[("lifecycle", "")],
            &[],
            ONE_DAY_RULE.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    for left in [2, 1, 0] {
        let report = run_pass(&s3, later).await;
        assert_eq!(report["expired"], 1, "{report}");
        assert_eq!(report["deferred"], u64::from(left > 0), "{report}");
        let list = s3
            .call(
                "GET",
                "/documents",
                &[("list-type", "2"), ("prefix", "tmp-")],
                &[],
                Vec::new(),
            )
            .await;
        assert_eq!(
            xml_values(&list.text(), "Key").len(),
            left,
            "{}",
            list.text()
        );
    }
    s3.gateway.shutdown().await;
}
