//! Nextcloud chunked upload v2 over the real WebDAV listener and an emulator: the desktop
//! client's sequence (MKCOL with Destination and OC-Total-Length, chunks out of order,
//! PROPFIND, MOVE .file), rclone's (byte-range names, the length only at MOVE), a wrong total,
//! abort, another user's name, resume after a gateway restart, two instances on one PostgreSQL
//! sharing an upload, the sweep of idle uploads, and the files tree under
//! `/remote.php/dav/files/<user>/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;
#[path = "../src/state/testpg.rs"]
mod testpg;
mod webdav_chunked_support;

use reqwest::{Method, StatusCode};
use scaidrive_gateway::emulator::{self, EmulatorConfig, RunningEmulator};
use scaidrive_gateway::server::{GatewayHandle, start_gateway};
use scaidrive_gateway::state::StateLocation;
use webdav_chunked_support::{Dav, GRID, config, data, held_files, sha};

async fn start() -> (GatewayHandle, Dav, tempfile::TempDir) {
    start_with(GRID as u64).await
}

async fn start_with(grid: u64) -> (GatewayHandle, Dav, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.upstream.chunk_size_bytes = grid;
    let gw = start_gateway(cfg).await.unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    let dav = Dav::new(&gw, &cred.access_key_id, &cred.secret_access_key);
    (gw, dav, dir)
}

#[tokio::test]
async fn the_desktop_clients_sequence_streams_chunks_upstream_as_they_arrive() {
    let (gw, dav, _dir) = start().await;
    // 5 client chunks of 100,000 bytes (not a multiple of the 64 KiB upstream chunk) and a
    // short last one.
    let body = data(512_345, 1);
    let parts: Vec<&[u8]> = body.chunks(100_000).collect();
    let up = "web-file-upload-4711";
    let dest = dav.files_url("/Documents/big.bin");
    let total = body.len().to_string();
    assert_eq!(
        dav.status(
            "MKCOL",
            &format!("{}/{up}", dav.uploads()),
            &[
                ("Destination", dest.clone()),
                ("OC-Total-Length", total.clone())
            ],
        )
        .await,
        StatusCode::CREATED
    );
    let before = dav.chunk_puts().await;
    // Out of order: 3, 1, 6, 2, 5, 4.
    for n in [3usize, 1, 6, 2, 5, 4] {
        let r = dav
            .req("PUT", &format!("{}/{up}/{n:05}", dav.uploads()))
            .header("Destination", &dest)
            .header("OC-Total-Length", &total)
            .body(parts[n - 1].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "chunk {n}");
    }
    // Every upstream chunk went up once, before MOVE.
    let upstream_chunks = body.len().div_ceil(GRID) as u64;
    assert_eq!(dav.chunk_puts().await - before, upstream_chunks);

    // PROPFIND lists the chunks received (how a client resumes).
    let r = dav
        .req("PROPFIND", &format!("{}/{up}/", dav.uploads()))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let listing = r.text().await.unwrap();
    for n in 1..=6 {
        assert!(
            listing.contains(&format!("/{up}/{n:05}</D:href>")),
            "{listing}"
        );
    }
    assert!(listing.contains("<D:getcontentlength>100000</D:getcontentlength>"));

    // Nothing at the target before MOVE.
    assert_eq!(dav.get("/Documents/big.bin").await.0, StatusCode::NOT_FOUND);

    let r = dav
        .req("MOVE", &format!("{}/{up}/.file", dav.uploads()))
        .header("Destination", &dest)
        .header("OC-Total-Length", &total)
        .header("X-OC-Mtime", "1700000000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let h = r.headers();
    assert!(h.contains_key("oc-fileid"));
    assert_eq!(h["etag"], h["oc-etag"]);
    assert_eq!(h["x-oc-mtime"], "accepted");
    let (status, got) = dav.get("/Documents/big.bin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha(&got), sha(&body));
    assert_eq!(dav.chunk_puts().await - before, upstream_chunks);
    // The upload collection is gone.
    assert_eq!(
        dav.status(
            "PROPFIND",
            &format!("{}/{up}/", dav.uploads()),
            &[("Depth", "0".into())]
        )
        .await,
        StatusCode::NOT_FOUND
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn uniform_chunks_in_order_stream_without_holding_anything() {
    // Upstream chunks of at most 256 KiB; client chunks of 192 KiB (3 × 64 KiB): the session
    // takes 64 KiB chunks, which divide them, so nothing waits on disk.
    let (gw, dav, dir) = start_with(256 << 10).await;
    let body = data(5 * (192 << 10) + 1000, 5);
    let up = "uniform";
    let dest = dav.files_url("/Documents/uniform.bin");
    let total = body.len().to_string();
    let mkcol = [
        ("Destination", dest.clone()),
        ("OC-Total-Length", total.clone()),
    ];
    assert_eq!(
        dav.status("MKCOL", &format!("{}/{up}", dav.uploads()), &mkcol)
            .await,
        StatusCode::CREATED
    );
    let before = dav.chunk_puts().await;
    for (i, part) in body.chunks(192 << 10).enumerate() {
        assert_eq!(
            dav.put_chunk(up, &(i + 1).to_string(), part).await,
            StatusCode::CREATED
        );
        assert_eq!(held_files(dir.path()), 0, "after chunk {}", i + 1);
    }
    assert_eq!(
        dav.chunk_puts().await - before,
        body.len().div_ceil(64 << 10) as u64
    );
    let r = dav
        .req("MOVE", &format!("{}/{up}/.file", dav.uploads()))
        .header("Destination", &dest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(sha(&dav.get("/Documents/uniform.bin").await.1), sha(&body));
    gw.shutdown().await;
}

#[tokio::test]
async fn chunks_sent_again_after_their_neighbours_went_up_and_one_past_the_total() {
    let (gw, dav, data_dir) = start().await;
    let body = data(512_345, 8);
    let parts: Vec<&[u8]> = body.chunks(100_000).collect();
    let up = "again";
    let dest = dav.files_url("/Documents/again.bin");
    let total = body.len().to_string();
    let mkcol = [
        ("Destination", dest.clone()),
        ("OC-Total-Length", total.clone()),
    ];
    assert_eq!(
        dav.status("MKCOL", &format!("{}/{up}", dav.uploads()), &mkcol)
            .await,
        StatusCode::CREATED
    );
    for n in 1..=5 {
        let name = format!("{n:05}");
        assert_eq!(
            dav.put_chunk(up, &name, parts[n - 1]).await,
            StatusCode::CREATED
        );
    }
    // Chunk 6 starts at 500,000: 20,000 bytes would end past the total.
    let r = dav
        .req("PUT", &format!("{}/{up}/00006", dav.uploads()))
        .body(vec![0u8; 20_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("past OC-Total-Length"));
    // A client starting over sends every chunk again, in another order.
    for n in [3usize, 1, 6, 2, 5, 4] {
        let name = format!("{n:05}");
        assert_eq!(
            dav.put_chunk(up, &name, parts[n - 1]).await,
            StatusCode::CREATED
        );
    }
    let r = dav
        .req("MOVE", &format!("{}/{up}/.file", dav.uploads()))
        .header("Destination", &dest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert_eq!(sha(&dav.get("/Documents/again.bin").await.1), sha(&body));
    assert_eq!(held_files(data_dir.path()), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn rclones_sequence_replaces_a_file_and_a_wrong_total_writes_nothing() {
    let (gw, dav, _dir) = start().await;
    assert_eq!(
        dav.req("PUT", "/Documents/r.bin")
            .body("old")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let body = data(300_001, 2);
    let up = "rclone-chunked-upload-0123456789abcdef";
    let dir = format!("{}/{up}", dav.uploads());
    // rclone purges first (404 when there is nothing), then MKCOL without headers.
    assert_eq!(
        dav.status("DELETE", &format!("{dir}/"), &[]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        dav.status("MKCOL", &format!("{dir}/"), &[]).await,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.status("MKCOL", &format!("{dir}/"), &[]).await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let mut offset = 0usize;
    for part in body.chunks(131_072) {
        let name = format!("{:015}-{:015}", offset, offset + part.len() - 1);
        assert_eq!(dav.put_chunk(up, &name, part).await, StatusCode::CREATED);
        offset += part.len();
    }
    // A name that does not match the body is refused.
    assert_eq!(
        dav.put_chunk(up, "000000000000000-000000000000009", b"short")
            .await,
        StatusCode::BAD_REQUEST
    );
    let dest = dav.files_url("/Documents/r.bin");
    // A wrong total: 400, the old file is untouched.
    let r = dav
        .req("MOVE", &format!("{dir}/.file"))
        .header("Destination", &dest)
        .header("OC-Total-Length", "300000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("300001"));
    assert_eq!(dav.get("/Documents/r.bin").await.1, b"old");

    let before = dav.chunk_puts().await;
    let r = dav
        .req("MOVE", &format!("{dir}/.file"))
        .header("Destination", &dest)
        .header("X-OC-Mtime", "1700000000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        dav.chunk_puts().await - before,
        body.len().div_ceil(GRID) as u64
    );
    let (status, got) = dav.get("/Documents/r.bin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha(&got), sha(&body));
    // Nextcloud's checksum recalculation, which rclone asks after an upload.
    let r = dav
        .http
        .request(Method::PATCH, dav.files_url("/Documents/r.bin"))
        .basic_auth(&dav.user, Some(&dav.pass))
        .header("X-Recalculate-Hash", "sha1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let want = {
        use sha1::Digest as _;
        format!("SHA1:{}", hex::encode(sha1::Sha1::digest(&body)))
    };
    assert_eq!(r.headers()["oc-checksum"], want.as_str());
    let r = dav
        .req("PATCH", "/Documents/r.bin")
        .header("X-Recalculate-Hash", "md4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = dav
        .req("PATCH", "/Documents/missing.bin")
        .header("X-Recalculate-Hash", "md5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The new version is listed with the client's mtime under the Nextcloud prefix.
    let r = dav
        .http
        .request(
            Method::from_bytes(b"PROPFIND").unwrap(),
            dav.files_url("/Documents/"),
        )
        .basic_auth(&dav.user, Some(&dav.pass))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let listing = r.text().await.unwrap();
    let href = format!("/remote.php/dav/files/{}/Documents/r.bin", dav.user);
    assert!(listing.contains(&href), "{listing}");
    assert!(
        listing.contains("Tue, 14 Nov 2023 22:13:20 GMT"),
        "{listing}"
    );
    // The versions view under the prefix: its hrefs carry the prefix too.
    let r = dav
        .http
        .request(
            Method::from_bytes(b"PROPFIND").unwrap(),
            dav.files_url("/Documents/.scaidrive-versions/r.bin/"),
        )
        .basic_auth(&dav.user, Some(&dav.pass))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let listing = r.text().await.unwrap();
    let prefix = format!(
        "<D:href>/remote.php/dav/files/{}/Documents/.scaidrive-versions/r.bin/",
        dav.user
    );
    assert_eq!(listing.matches(&prefix).count(), 3, "{listing}");
    gw.shutdown().await;
}

#[tokio::test]
async fn abort_gaps_and_other_users() {
    let (gw, dav, data_dir) = start().await;
    let dir = format!("{}/gap", dav.uploads());
    assert_eq!(dav.status("MKCOL", &dir, &[]).await, StatusCode::CREATED);
    assert_eq!(
        dav.put_chunk("gap", "1", &data(1000, 3)).await,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.put_chunk("gap", "3", &data(1000, 3)).await,
        StatusCode::CREATED
    );
    let dest = dav.files_url("/Documents/gap.bin");
    let r = dav
        .req("MOVE", &format!("{dir}/.file"))
        .header("Destination", &dest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("chunk 3"));
    assert_eq!(dav.get("/Documents/gap.bin").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        dav.put_chunk("gap", "0", b"x").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        dav.put_chunk("nope", "1", b"x").await,
        StatusCode::NOT_FOUND
    );
    // DELETE aborts.
    assert_eq!(
        dav.status("DELETE", &dir, &[]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(held_files(data_dir.path()), 0);
    assert_eq!(
        dav.status("PROPFIND", &dir, &[("Depth", "1".into())]).await,
        StatusCode::NOT_FOUND
    );
    // Another user's trees.
    assert_eq!(
        dav.status("MKCOL", "/remote.php/dav/uploads/somebody-else/x", &[])
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        dav.status(
            "PROPFIND",
            "/remote.php/dav/files/somebody-else/",
            &[("Depth", "0".into())]
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // A Destination in another user's tree.
    assert_eq!(
        dav.status(
            "MKCOL",
            &format!("{}/y", dav.uploads()),
            &[(
                "Destination",
                format!(
                    "{}/remote.php/dav/files/somebody-else/Documents/y",
                    dav.base
                )
            )],
        )
        .await,
        StatusCode::FORBIDDEN
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn idle_uploads_are_swept_with_what_they_hold() {
    let (gw, dav, data_dir) = start().await;
    for name in ["idle", "busy"] {
        let dir = format!("{}/{name}", dav.uploads());
        assert_eq!(dav.status("MKCOL", &dir, &[]).await, StatusCode::CREATED);
        assert_eq!(
            dav.put_chunk(name, "1", &data(1000, 6)).await,
            StatusCode::CREATED
        );
    }
    assert_eq!(held_files(data_dir.path()), 2);
    // "idle" was last touched 25 hours ago.
    let db = gw.state_db();
    let user = gw.embedded_credential().unwrap().user_id.clone();
    let mut idle = db.get_chunked_upload(&user, "idle").await.unwrap().unwrap();
    idle.updated_at = (chrono::Utc::now() - chrono::Duration::hours(25))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.put_chunked_upload(&idle).await.unwrap();
    assert_eq!(
        scaidrive_gateway::webdav::sweep_chunked_uploads(db, data_dir.path()).await,
        1
    );
    assert_eq!(held_files(data_dir.path()), 1);
    let gone = format!("{}/idle", dav.uploads());
    assert_eq!(
        dav.status("PROPFIND", &gone, &[("Depth", "1".into())])
            .await,
        StatusCode::NOT_FOUND
    );
    let kept = format!("{}/busy", dav.uploads());
    assert_eq!(
        dav.status("PROPFIND", &kept, &[("Depth", "1".into())])
            .await,
        StatusCode::MULTI_STATUS
    );
    gw.shutdown().await;
}

async fn external_emulator(dir: &std::path::Path) -> RunningEmulator {
    emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("emu"),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_upload_resumes_after_a_gateway_restart_without_resending() {
    let dir = tempfile::tempdir().unwrap();
    let emu = external_emulator(dir.path()).await;
    let token = emu.tokens()[0].token.clone();
    let mut cfg = config(&dir.path().join("gw"));
    cfg.scaidrive.url = Some(emu.url());
    let gw = start_gateway(cfg.clone()).await.unwrap();
    let dav = Dav::new(&gw, "anyone", &token);

    let body = data(400_000, 4);
    let parts: Vec<&[u8]> = body.chunks(150_000).collect();
    let dest = dav.files_url("/Documents/resumed.bin");
    let total = body.len().to_string();
    let dir_url = format!("{}/resume", dav.uploads());
    let mkcol = [
        ("Destination", dest.clone()),
        ("OC-Total-Length", total.clone()),
    ];
    assert_eq!(
        dav.status("MKCOL", &dir_url, &mkcol).await,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.put_chunk("resume", "1", parts[0]).await,
        StatusCode::CREATED
    );
    let sent_first = dav.chunk_puts().await;
    assert_eq!(sent_first, 2, "150,000 bytes cover two whole 64 KiB chunks");
    gw.shutdown().await;

    // A new gateway on the same data directory and state DB.
    let gw = start_gateway(cfg).await.unwrap();
    let dav = Dav::new(&gw, "anyone", &token);
    let r = dav
        .req("PROPFIND", &dir_url)
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    let listing = r.text().await.unwrap();
    assert!(listing.contains("/resume/1</D:href>"), "{listing}");
    assert!(!listing.contains("/resume/2</D:href>"), "{listing}");
    for (i, part) in parts.iter().enumerate().skip(1) {
        assert_eq!(
            dav.put_chunk("resume", &(i + 1).to_string(), part).await,
            StatusCode::CREATED
        );
    }
    let r = dav
        .req("MOVE", &format!("{dir_url}/.file"))
        .header("Destination", &dest)
        .header("OC-Total-Length", &total)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (status, got) = dav.get("/Documents/resumed.bin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha(&got), sha(&body));
    // Every upstream chunk went up exactly once over both gateways.
    assert_eq!(
        sent_first + dav.chunk_puts().await,
        body.len().div_ceil(GRID) as u64
    );
    gw.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn two_instances_on_one_state_db_share_an_upload() {
    // Gateway A (embedded emulator) and B on that emulator, one PostgreSQL, separate data dirs.
    let url = testpg::fresh_database_url().await;
    let StateLocation::Postgres(pg) = StateLocation::parse_state_url(&url).unwrap() else {
        panic!("not a PostgreSQL URL")
    };
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a_cfg = config(a_dir.path());
    a_cfg.upstream.chunk_size_bytes = 256 << 10;
    a_cfg.state.url = Some(pg.clone());
    let a = start_gateway(a_cfg).await.unwrap();
    let cred = a.embedded_credential().unwrap().clone();
    let mut b_cfg = config(b_dir.path());
    b_cfg.upstream.chunk_size_bytes = 256 << 10;
    b_cfg.state.url = Some(pg);
    b_cfg.scaidrive.url = Some(a.emulator().unwrap().url());
    let b = start_gateway(b_cfg).await.unwrap();
    let (da, db) = (
        Dav::new(&a, &cred.access_key_id, &cred.secret_access_key),
        Dav::new(&b, &cred.access_key_id, &cred.secret_access_key),
    );

    let body = data(4 * (192 << 10) + 5000, 7);
    let dest = da.files_url("/Documents/shared.bin");
    let total = body.len().to_string();
    let mkcol = [
        ("Destination", dest.clone()),
        ("OC-Total-Length", total.clone()),
    ];
    assert_eq!(
        da.status("MKCOL", &format!("{}/both", da.uploads()), &mkcol)
            .await,
        StatusCode::CREATED
    );
    let before = da.chunk_puts().await + db.chunk_puts().await;
    // Chunks alternate between the instances.
    for (i, part) in body.chunks(192 << 10).enumerate() {
        let via = if i % 2 == 0 { &db } else { &da };
        assert_eq!(
            via.put_chunk("both", &(i + 1).to_string(), part).await,
            StatusCode::CREATED
        );
    }
    // B lists what A received.
    let r = db
        .req("PROPFIND", &format!("{}/both/", db.uploads()))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    let listing = r.text().await.unwrap();
    for n in 1..=5 {
        assert!(
            listing.contains(&format!("/both/{n}</D:href>")),
            "{listing}"
        );
    }
    let r = db
        .req("MOVE", &format!("{}/both/.file", db.uploads()))
        .header("Destination", &dest)
        .header("OC-Total-Length", &total)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert_eq!(sha(&da.get("/Documents/shared.bin").await.1), sha(&body));
    assert_eq!(
        da.chunk_puts().await + db.chunk_puts().await - before,
        body.len().div_ceil(64 << 10) as u64
    );
    b.shutdown().await;
    a.shutdown().await;
}
