//! Nextcloud chunked uploads with their pieces kept in ScaiDrive (`s3.multipart_staging =
//! "scaidrive"`), two gateway instances on one PostgreSQL: rclone's sequence and the desktop
//! client's spread over both, DELETE of an upload, and idle uploads taken at the user's next
//! upload. Each checks the staging folder upstream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;
#[path = "../src/state/testpg.rs"]
mod testpg;
mod webdav_chunked_support;

use reqwest::{Client, StatusCode};
use scaidrive_gateway::server::{GatewayHandle, start_gateway};
use scaidrive_gateway::state::StateLocation;
use webdav_chunked_support::{Dav, GRID, config, data, held_files, sha};

/// Gateways A (embedded emulator) and B on one fresh PostgreSQL with ScaiDrive staging, each
/// with its own data directory; the Basic credentials of A's user for both.
async fn two_instances_staging_in_scaidrive(
    a_dir: &std::path::Path,
    b_dir: &std::path::Path,
) -> (GatewayHandle, GatewayHandle, Dav, Dav) {
    let url = testpg::fresh_database_url().await;
    let StateLocation::Postgres(pg) = StateLocation::parse_state_url(&url).unwrap() else {
        panic!("not a PostgreSQL URL")
    };
    let staging = Some(scaidrive_gateway::config::MultipartStaging::ScaiDrive);
    let mut a_cfg = config(a_dir);
    a_cfg.state.url = Some(pg.clone());
    a_cfg.s3.multipart_staging = staging;
    let a = start_gateway(a_cfg).await.unwrap();
    let cred = a.embedded_credential().unwrap().clone();
    let mut b_cfg = config(b_dir);
    b_cfg.state.url = Some(pg);
    b_cfg.s3.multipart_staging = staging;
    b_cfg.scaidrive.url = Some(a.emulator().unwrap().url());
    let b = start_gateway(b_cfg).await.unwrap();
    let da = Dav::new(&a, &cred.access_key_id, &cred.secret_access_key);
    let db = Dav::new(&b, &cred.access_key_id, &cred.secret_access_key);
    (a, b, da, db)
}

/// Everything below `.scaidrive-gateway-uploads` in every share of the emulator's first user,
/// deleted entries included (`<upload folder>/<piece>` and bare upload folders).
async fn staged_upstream(gw: &GatewayHandle) -> Vec<String> {
    let emu = gw.emulator().unwrap();
    let (http, base) = (Client::new(), format!("{}/api/v1", emu.url()));
    let token = emu.tokens()[0].token.clone();
    let children = |share: String, folder: String| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let v: serde_json::Value = http
                .get(format!("{base}/folders/{folder}/children"))
                .bearer_auth(&token)
                .query(&[("share_id", share.as_str()), ("include_deleted", "true")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["name"].as_str().unwrap().to_owned(),
                        i["id"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let shares: serde_json::Value = http
        .get(format!("{base}/users/me/shares"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for share in shares["shares"].as_array().unwrap() {
        let share = share["id"].as_str().unwrap().to_owned();
        for (name, top) in children(share.clone(), "root".into()).await {
            if name != ".scaidrive-gateway-uploads" {
                continue;
            }
            for (upload, folder) in children(share.clone(), top).await {
                let inside = children(share.clone(), folder).await;
                if inside.is_empty() {
                    out.push(upload.clone());
                }
                out.extend(inside.into_iter().map(|(n, _)| format!("{upload}/{n}")));
            }
        }
    }
    out
}

#[tokio::test]
async fn rclones_sequence_spread_over_two_instances_stages_pieces_in_scaidrive() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b, da, db) = two_instances_staging_in_scaidrive(a_dir.path(), b_dir.path()).await;
    let body = data(300_001, 9);
    let up = "rclone-chunked-upload-spread";
    let dir = format!("{}/{up}", da.uploads());
    assert_eq!(
        da.status("DELETE", &format!("{dir}/"), &[]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        db.status("MKCOL", &format!("{dir}/"), &[]).await,
        StatusCode::CREATED
    );
    let before = da.chunk_puts().await + db.chunk_puts().await;
    let mut offset = 0usize;
    // Chunk PUTs alternate between A and B; none names the target or the length.
    for (i, part) in body.chunks(100_000).enumerate() {
        let via = if i % 2 == 0 { &da } else { &db };
        let name = format!("{:015}-{:015}", offset, offset + part.len() - 1);
        assert_eq!(via.put_chunk(up, &name, part).await, StatusCode::CREATED);
        offset += part.len();
    }
    // The pieces wait in ScaiDrive, not on either instance's disk, and nothing is visible.
    assert!(!staged_upstream(&a).await.is_empty());
    assert_eq!(held_files(a_dir.path()) + held_files(b_dir.path()), 0);
    assert_eq!(da.chunk_puts().await + db.chunk_puts().await, before);
    for dav in [&da, &db] {
        let r = dav
            .req("PROPFIND", "/Documents/")
            .header("Depth", "1")
            .send()
            .await
            .unwrap();
        let listing = r.text().await.unwrap();
        assert!(!listing.contains("spread.bin"), "{listing}");
        assert!(!listing.contains(".scaidrive-gateway-uploads"), "{listing}");
        assert_eq!(
            dav.get("/Documents/spread.bin").await.0,
            StatusCode::NOT_FOUND
        );
    }
    let r = db
        .req("MOVE", &format!("{dir}/.file"))
        .header("Destination", da.files_url("/Documents/spread.bin"))
        .header("X-OC-Mtime", "1700000000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    for dav in [&da, &db] {
        let (status, got) = dav.get("/Documents/spread.bin").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sha(&got), sha(&body));
    }
    // Each upstream chunk went up once; the staging folder is empty, nothing in the trash.
    assert_eq!(
        da.chunk_puts().await + db.chunk_puts().await - before,
        body.len().div_ceil(GRID) as u64
    );
    assert_eq!(staged_upstream(&a).await, Vec::<String>::new());
    assert_eq!(
        da.status("PROPFIND", &dir, &[("Depth", "1".into())]).await,
        StatusCode::NOT_FOUND
    );
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn deleting_an_upload_staged_in_scaidrive_deletes_its_pieces() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b, da, db) = two_instances_staging_in_scaidrive(a_dir.path(), b_dir.path()).await;
    let up = "rclone-chunked-upload-dropped";
    let dir = format!("{}/{up}", da.uploads());
    assert_eq!(da.status("MKCOL", &dir, &[]).await, StatusCode::CREATED);
    let body = data(150_000, 3);
    assert_eq!(
        da.put_chunk(up, "000000000000000-000000000099999", &body[..100_000])
            .await,
        StatusCode::CREATED
    );
    assert_eq!(
        db.put_chunk(up, "000000000100000-000000000149999", &body[100_000..])
            .await,
        StatusCode::CREATED
    );
    // Pieces along the 64 KiB grid: 0, 65536 (first chunk), 100000, 131072 (second).
    let staged = staged_upstream(&a).await;
    assert_eq!(staged.len(), 4, "{staged:?}");
    assert_eq!(db.status("DELETE", &dir, &[]).await, StatusCode::NO_CONTENT);
    assert_eq!(staged_upstream(&a).await, Vec::<String>::new());
    assert_eq!(
        da.status(
            "MOVE",
            &format!("{dir}/.file"),
            &[("Destination", da.files_url("/Documents/dropped.bin"))]
        )
        .await,
        StatusCode::NOT_FOUND
    );
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn idle_uploads_staged_in_scaidrive_go_with_their_users_next_upload() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b, da, db) = two_instances_staging_in_scaidrive(a_dir.path(), b_dir.path()).await;
    let up = "rclone-chunked-upload-idle";
    assert_eq!(
        da.status("MKCOL", &format!("{}/{up}", da.uploads()), &[])
            .await,
        StatusCode::CREATED
    );
    assert_eq!(
        da.put_chunk(up, "000000000000000-000000000009999", &data(10_000, 5))
            .await,
        StatusCode::CREATED
    );
    assert_eq!(staged_upstream(&a).await.len(), 1);
    // Last touched 25 hours ago: the periodic sweep has no token to delete the piece with.
    let state = a.state_db();
    let user = a.embedded_credential().unwrap().user_id.clone();
    let mut idle = state.get_chunked_upload(&user, up).await.unwrap().unwrap();
    idle.updated_at = (chrono::Utc::now() - chrono::Duration::hours(25))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    state.put_chunked_upload(&idle).await.unwrap();
    assert_eq!(
        scaidrive_gateway::webdav::sweep_chunked_uploads(state, a_dir.path()).await,
        0
    );
    assert!(state.get_chunked_upload(&user, up).await.unwrap().is_some());
    // The user's next upload, through the other instance, takes it with its piece.
    assert_eq!(
        db.status("MKCOL", &format!("{}/next", db.uploads()), &[])
            .await,
        StatusCode::CREATED
    );
    assert!(state.get_chunked_upload(&user, up).await.unwrap().is_none());
    assert_eq!(staged_upstream(&a).await, Vec::<String>::new());
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn the_desktop_clients_sequence_over_two_instances_with_pieces_in_scaidrive() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b, da, db) = two_instances_staging_in_scaidrive(a_dir.path(), b_dir.path()).await;
    let body = data(390_000, 8);
    let parts: Vec<&[u8]> = body.chunks(100_000).collect();
    let dest = da.files_url("/Documents/desktop-spread.bin");
    let total = body.len().to_string();
    let dir = format!("{}/desktop", da.uploads());
    let headers = [
        ("Destination", dest.clone()),
        ("OC-Total-Length", total.clone()),
    ];
    assert_eq!(
        da.status("MKCOL", &dir, &headers).await,
        StatusCode::CREATED
    );
    let before = da.chunk_puts().await + db.chunk_puts().await;
    // Out of order (2 and 4 wait whole until the chunks before them arrive), alternating.
    for (i, n) in [2usize, 4, 1, 3].into_iter().enumerate() {
        let via = if i % 2 == 0 { &da } else { &db };
        assert_eq!(
            via.put_chunk("desktop", &n.to_string(), parts[n - 1]).await,
            StatusCode::CREATED
        );
    }
    let r = da
        .req("MOVE", &format!("{dir}/.file"))
        .header("Destination", &dest)
        .header("OC-Total-Length", &total)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert_eq!(
        sha(&db.get("/Documents/desktop-spread.bin").await.1),
        sha(&body)
    );
    assert_eq!(
        da.chunk_puts().await + db.chunk_puts().await - before,
        body.len().div_ceil(GRID) as u64,
        "each upstream chunk once"
    );
    assert_eq!(staged_upstream(&a).await, Vec::<String>::new());
    assert_eq!(held_files(a_dir.path()) + held_files(b_dir.path()), 0);
    b.shutdown().await;
    a.shutdown().await;
}
