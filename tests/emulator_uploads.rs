//! Emulator upload behaviour over real HTTP: chunked sessions, checksums, replacement versions,
//! expiry, and truncated multipart uploads that must leave nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;

use std::time::Duration;

use emulator_support::{Emu, sha256_hex, start, start_with};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const CHUNK: usize = 65_536;

async fn put_chunk(emu: &Emu, sid: &str, i: usize, data: &[u8]) -> reqwest::Response {
    emu.http
        .put(emu.api(&format!("/uploads/{sid}/chunks/{i}")))
        .bearer_auth(&emu.token)
        .body(data.to_vec())
        .send()
        .await
        .unwrap()
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

#[tokio::test]
async fn upload_session_accepts_out_of_order_and_repeated_chunks_then_completes() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let data = content(2 * CHUNK + 100);
    let r = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "big.bin", "file_size": data.len(),
                   "chunk_size": CHUNK, "checksum_sha256": sha256_hex(&data)}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["total_chunks"], 3);
    assert_eq!(s["chunk_size"], CHUNK);
    assert!(s["expires_at"].as_str().unwrap().ends_with('Z'));
    let sid = s["session_id"].as_str().unwrap();
    let chunks: Vec<&[u8]> = data.chunks(CHUNK).collect();

    // Last chunk first, then chunk 0 with wrong bytes, then re-PUT chunk 0 correctly.
    assert_eq!(put_chunk(&emu, sid, 2, chunks[2]).await.status(), 200);
    assert_eq!(
        put_chunk(&emu, sid, 0, &vec![0xff; CHUNK]).await.status(),
        200
    );
    let r = put_chunk(&emu, sid, 0, chunks[0]).await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["chunk_index"], 0);
    assert_eq!(c["checksum_sha256"], sha256_hex(chunks[0]));

    // Wrong sizes and indexes are 400.
    assert_eq!(
        put_chunk(&emu, sid, 1, &chunks[1][..100]).await.status(),
        400
    );
    assert_eq!(put_chunk(&emu, sid, 2, chunks[1]).await.status(), 400);
    assert_eq!(put_chunk(&emu, sid, 3, chunks[2]).await.status(), 400);
    let r = emu
        .http
        .put(emu.api(&format!("/uploads/{sid}/chunks/1")))
        .bearer_auth(&emu.token)
        .header("X-Chunk-SHA256", sha256_hex(b"other"))
        .body(chunks[1].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let st: Value = emu
        .get(&format!("/uploads/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "pending");
    assert_eq!(st["received_chunks"], json!([0, 2]));
    assert_eq!(st["bytes_received"], CHUNK + 100);

    let r = emu
        .post(&format!("/uploads/{sid}/complete"), json!({}))
        .await;
    assert_eq!(r.status(), 409);
    assert!(
        r.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("[1]")
    );

    assert_eq!(put_chunk(&emu, sid, 1, chunks[1]).await.status(), 200);
    let r = emu
        .post(&format!("/uploads/{sid}/complete"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["size"], data.len());
    assert_eq!(done["version"], 1);
    assert_eq!(done["checksum_sha256"], sha256_hex(&data));
    let fid = done["file_id"].as_str().unwrap();
    assert_eq!(done["id"], fid);
    let got = emu
        .get(&format!("/files/{fid}/content"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), data.as_slice());

    let st: Value = emu
        .get(&format!("/uploads/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "completed");
    assert_eq!(st["file_id"], fid);
    assert_eq!(put_chunk(&emu, sid, 0, chunks[0]).await.status(), 410);
    assert!(!emu.data_dir().join("uploads").join(sid).exists());
}

#[tokio::test]
async fn upload_session_rejects_bad_chunk_sizes_and_existing_names() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    for cs in [1000, 32_768, 8_388_608, 100_000] {
        let r = emu
            .post(
                "/uploads",
                json!({"share_id": share, "file_name": "x", "file_size": 10, "chunk_size": cs}),
            )
            .await;
        assert_eq!(r.status(), 422, "chunk_size {cs}");
    }
    emu.upload(&share, None, "taken.txt", b"x").await;
    let r = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "taken.txt", "file_size": 1}),
        )
        .await;
    assert_eq!(r.status(), 409);
    // An empty file has zero chunks and completes at once.
    let s: Value = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "empty", "file_size": 0}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["total_chunks"], 0);
    assert_eq!(s["chunk_size"], 4_194_304);
    let r = emu
        .post(
            &format!("/uploads/{}/complete", s["session_id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["size"], 0);
}

#[tokio::test]
async fn checksum_mismatch_is_400_and_keeps_the_session_open() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let data = content(1000);
    let s: Value = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "c.bin", "file_size": 1000,
                   "chunk_size": CHUNK, "checksum_sha256": sha256_hex(b"something else")}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = s["session_id"].as_str().unwrap();
    assert_eq!(put_chunk(&emu, sid, 0, &data).await.status(), 200);
    let r = emu
        .post(&format!("/uploads/{sid}/complete"), json!({}))
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("CHECKSUM_MISMATCH")
    );
    let st: Value = emu
        .get(&format!("/uploads/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "pending");
    assert_eq!(st["received_chunks"], json!([0]));
    assert!(emu.names(&share, "root").await.is_empty());
}

#[tokio::test]
async fn replace_file_id_creates_a_new_version_and_old_versions_stay_readable() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let f = emu.upload(&share, None, "doc.txt", b"version one").await;
    let fid = f["id"].as_str().unwrap();
    let v2 = b"version two, longer".to_vec();
    let r = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "other.txt", "file_size": v2.len(),
                   "replace_file_id": fid}),
        )
        .await;
    assert_eq!(r.status(), 422, "a new version does not rename");
    let s: Value = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "doc.txt", "file_size": v2.len(),
                   "replace_file_id": fid, "chunk_size": CHUNK}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = s["session_id"].as_str().unwrap();
    assert_eq!(put_chunk(&emu, sid, 0, &v2).await.status(), 200);
    let done: Value = emu
        .post(&format!("/uploads/{sid}/complete"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["file_id"], fid);
    assert_eq!(done["version"], 2);
    let meta: Value = emu
        .get(&format!("/files/{fid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["version"], 2);
    assert_eq!(meta["version_id"], done["version_id"]);
    assert_eq!(meta["size"], v2.len());
    let now = emu
        .get(&format!("/files/{fid}/content"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(now.as_ref(), v2.as_slice());
    let old = emu
        .get(&format!("/files/{fid}/content?version=1"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(old.as_ref(), b"version one");
    assert_eq!(emu.names(&share, "root").await, ["doc.txt"]);
}

#[tokio::test]
async fn expired_session_is_410_and_its_chunks_are_deleted() {
    let emu = start_with(|c| c.upload_session_ttl = Duration::from_millis(700), None).await;
    let share = emu.share_id("Documents").await;
    let s: Value = emu
        .post(
            "/uploads",
            json!({"share_id": share, "file_name": "e.bin", "file_size": CHUNK + 1, "chunk_size": CHUNK}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = s["session_id"].as_str().unwrap().to_string();
    assert_eq!(
        put_chunk(&emu, &sid, 0, &content(CHUNK)).await.status(),
        200
    );
    let dir = emu.data_dir().join("uploads").join(&sid);
    assert!(dir.join("0").exists());
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(put_chunk(&emu, &sid, 1, &[1]).await.status(), 410);
    assert_eq!(emu.get(&format!("/uploads/{sid}")).await.status(), 410);
    assert_eq!(
        emu.post(&format!("/uploads/{sid}/complete"), json!({}))
            .await
            .status(),
        410
    );
    assert!(!dir.exists());
}

/// Waits (bounded) until `cond` holds.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

fn files_under(dir: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { files_under(&p) } else { 1 }
        })
        .sum()
}

#[tokio::test]
async fn truncated_multipart_upload_leaves_no_file_and_the_name_stays_free() {
    let emu = start().await;
    let share = emu.share_id("Documents").await;
    let boundary = "XBOUNDARYX";
    let file_len = 1_000_000;
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"share_id\"\r\n\r\n{share}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let total = head.len() + file_len + tail.len();
    let mut sock = tokio::net::TcpStream::connect(emu.emu.addr())
        .await
        .unwrap();
    let req = format!(
        "POST /api/v1/files HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {total}\r\n\r\n",
        emu.emu.addr(),
        emu.token
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&vec![7u8; file_len / 2]).await.unwrap();
    sock.flush().await.unwrap();
    // Give the server a moment to start spooling, then cut the connection mid-file.
    let tmp = emu.data_dir().join("tmp");
    assert!(
        eventually(|| files_under(&tmp) > 0).await,
        "spool never started"
    );
    drop(sock);

    assert!(
        eventually(|| files_under(&tmp) == 0).await,
        "spool file left in tmp/"
    );
    assert_eq!(files_under(&emu.data_dir().join("blobs")), 0);
    assert!(emu.names(&share, "root").await.is_empty());
    let r = emu
        .upload_as(&emu.token, &share, None, "cut.bin", b"whole".to_vec())
        .await;
    assert_eq!(r.status(), 201);
}
