//! Listing a big folder costs one upstream listing, never one call per entry, through both
//! protocols; a warm listing costs nothing. Counted with the gateway's own upstream counters
//! (`/metrics` on the admin listener).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod s3_support;

use s3_support::xml_values;

const FILES: usize = 300;

async fn upstream_calls(admin: &str) -> u64 {
    let text = reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The change-feed follower polls on its own schedule; it is not part of any request's cost.
    text.lines()
        .filter(|l| l.starts_with("scaidrive_gateway_upstream_requests_total{"))
        .filter(|l| !l.contains("endpoint=\"/api/v1/sync/changes\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test]
async fn big_folder_listings_cost_one_upstream_listing_and_warm_ones_none() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3_support::start(dir.path()).await;
    let admin = format!("http://{}", s3.gateway.addrs().admin);
    let dav = format!("http://{}", s3.gateway.addrs().webdav);

    // Fill two folders straight through ScaiDrive (as another client would), so the gateway
    // has nothing about these files cached.
    let emu = s3.gateway.emulator().unwrap();
    let token = emu.tokens()[0].token.clone();
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", emu.url());
    let shares: serde_json::Value = http
        .get(format!("{api}/users/me/shares"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let share = shares["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Documents")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for folder in ["via-s3", "via-dav"] {
        let created: serde_json::Value = http
            .post(format!("{api}/folders"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"share_id": share, "name": folder}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let folder_id = created["id"].as_str().unwrap().to_owned();
        for i in 0..FILES {
            let form = reqwest::multipart::Form::new()
                .text("share_id", share.clone())
                .text("folder_id", folder_id.clone())
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(vec![b'x'; 10])
                        .file_name(format!("f{i:04}.txt")),
                );
            let r = http
                .post(format!("{api}/files"))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    }

    // S3: ListObjectsV2 of the folder, cold then warm.
    let before = upstream_calls(&admin).await;
    let listed = s3
        .call(
            "GET",
            "/documents",
            &[
                ("list-type", "2"),
                ("prefix", "via-s3/"),
                ("delimiter", "/"),
                ("max-keys", "1000"),
            ],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(xml_values(&listed.text(), "Key").len(), FILES);
    let cold = upstream_calls(&admin).await - before;
    // The share list, the root listing and the folder listing at most.
    assert!(
        cold <= 3,
        "a cold S3 listing of {FILES} files made {cold} upstream calls"
    );
    let before = upstream_calls(&admin).await;
    let again = s3
        .call(
            "GET",
            "/documents",
            &[
                ("list-type", "2"),
                ("prefix", "via-s3/"),
                ("delimiter", "/"),
            ],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        upstream_calls(&admin).await - before,
        0,
        "a warm S3 listing"
    );

    // WebDAV: PROPFIND Depth 1 of the other folder, cold then warm.
    let propfind = || {
        http.request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{dav}/Documents/via-dav/"),
        )
        .basic_auth(&s3.access_key, Some(&s3.secret))
        .header("Depth", "1")
        .send()
    };
    let before = upstream_calls(&admin).await;
    let r = propfind().await.unwrap();
    assert_eq!(r.status(), 207);
    let body = r.text().await.unwrap();
    assert_eq!(body.matches("<D:response>").count(), FILES + 1);
    let cold = upstream_calls(&admin).await - before;
    assert!(
        cold <= 3,
        "a cold PROPFIND of {FILES} files made {cold} upstream calls"
    );
    let before = upstream_calls(&admin).await;
    assert_eq!(propfind().await.unwrap().status(), 207);
    assert_eq!(upstream_calls(&admin).await - before, 0, "a warm PROPFIND");

    s3.gateway.shutdown().await;
}
