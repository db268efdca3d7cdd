//! The client against the real emulator over HTTP (port 0, temp data dir): a full round trip,
//! injected 503s, 429 with `Retry-After`, a download cut mid-body, chunk retries, rate-limit
//! headers.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use scaidrive_gateway::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use scaidrive_gateway::scaidrive::{
    ByteRange, ChangeType, Client, ClientOptions, CreateLink, CreateShare, CreateUploadSession,
    ErrorKind, FilePatch, Item, LinkPatch, LinkQuery, Target, Token, UpdateShare, UploadFile,
};

struct Env {
    emu: RunningEmulator,
    client: Client,
    token: Token,
    _dir: tempfile::TempDir,
}

async fn start_with(rate_limit_per_minute: Option<u32>, opts: ClientOptions) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        seed: None,
        rate_limit_per_minute,
        faults: Faults::default(),
        upload_session_ttl: Duration::from_secs(3600),
        public_url: None,
    })
    .await
    .unwrap();
    let client = Client::new(&emu.url(), opts).unwrap();
    let token = Token::new(emu.tokens()[0].token.clone());
    Env {
        emu,
        client,
        token,
        _dir: dir,
    }
}

fn fast_opts(max_retries: u32) -> ClientOptions {
    ClientOptions {
        max_retries,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    }
}

async fn start() -> Env {
    start_with(None, fast_opts(3)).await
}

/// Deterministic test content.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A streamed body in 7 KiB pieces.
fn streamed(data: &[u8]) -> reqwest::Body {
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(7 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(pieces))
}

async fn upload(env: &Env, share: &str, folder: Option<&str>, name: &str, data: &[u8]) -> String {
    env.client
        .upload_file(
            &env.token,
            UploadFile {
                share_id: share.into(),
                folder_id: folder.map(str::to_owned),
                name: name.into(),
                content_type: Some("application/octet-stream".into()),
                size: Some(data.len() as u64),
                body: streamed(data),
            },
        )
        .await
        .unwrap()
        .id
}

async fn documents_share(env: &Env) -> String {
    let shares = env.client.my_shares(&env.token).await.unwrap();
    shares
        .iter()
        .find(|s| s.name == "Documents")
        .map(|s| s.id.clone())
        .unwrap()
}

#[tokio::test]
async fn full_round_trip() {
    let env = start().await;
    let (c, t) = (&env.client, &env.token);

    // Platform and user.
    assert_eq!(c.health().await.unwrap().status, "healthy");
    assert!(c.ready().await.unwrap().is_ready());
    let config = c.config().await.unwrap();
    assert!(config.limits.max_upload_chunk_size_bytes.is_some());
    let me = c.me(t).await.unwrap();
    let shares = c.my_shares(t).await.unwrap();
    let names: Vec<_> = shares.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"Documents") && names.contains(&"Photos"),
        "{names:?}"
    );
    assert!(c.my_quota(t).await.is_ok());
    let docs = documents_share(&env).await;
    assert_eq!(c.get_share(t, &docs).await.unwrap().name, "Documents");

    // Shares CRUD.
    let scratch = c
        .create_share(
            t,
            &CreateShare {
                name: "Scratch".into(),
                share_type: "project".into(),
                owner_id: me.id.clone(),
                description: Some("test".into()),
                quota_bytes: None,
            },
        )
        .await
        .unwrap();
    let renamed = c
        .update_share(
            t,
            &scratch.id,
            &UpdateShare {
                name: Some("Scratch 2".into()),
                description: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Scratch 2");
    assert!(
        c.list_shares(t)
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == scratch.id)
    );

    // Change feed head.
    let head = c.changes(t, &docs, None, None).await.unwrap();
    assert!(head.changes.is_empty());

    // Folders.
    let reports = c.create_folder(t, &docs, None, "Reports").await.unwrap();
    assert_eq!(reports.parent_id, None);
    let sub = c
        .create_folder(t, &docs, Some(&reports.id), "Q1")
        .await
        .unwrap();
    assert_eq!(sub.path, "/Reports/Q1");
    let dup = c
        .create_folder(t, &docs, None, "Reports")
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    assert_eq!(c.get_folder(t, &sub.id).await.unwrap().name, "Q1");

    // Upload (streamed, known size) and an awkward name with unknown size (chunked).
    let data = content(300_000, 1);
    let file_id = upload(&env, &docs, Some(&reports.id), "data.bin", &data).await;
    let awkward = "é ü & +%20 \"q\".txt";
    let small = b"hello world\n".to_vec();
    let awkward_up = c
        .upload_file(
            t,
            UploadFile {
                share_id: docs.clone(),
                folder_id: Some(reports.id.clone()),
                name: awkward.into(),
                content_type: Some("text/plain".into()),
                size: None,
                body: streamed(&small),
            },
        )
        .await
        .unwrap();
    assert_eq!(awkward_up.name, awkward);
    assert_eq!(awkward_up.size, small.len() as u64);
    let clash = c
        .upload_file(
            t,
            UploadFile {
                share_id: docs.clone(),
                folder_id: Some(reports.id.clone()),
                name: "data.bin".into(),
                content_type: None,
                size: Some(3),
                body: reqwest::Body::from("abc"),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(clash.kind(), ErrorKind::Conflict);

    let listing = c.list_children(t, &docs, Some(&reports.id)).await.unwrap();
    assert_eq!(listing.path, "/Reports");
    assert!(matches!(&listing.items[0], Item::Folder(f) if f.name == "Q1"));
    assert!(
        listing
            .items
            .iter()
            .any(|i| matches!(i, Item::File(f) if f.name == "data.bin" && f.size == 300_000))
    );
    let root = c.list_children(t, &docs, None).await.unwrap();
    assert!(root.items.iter().any(|i| i.name() == "Reports"));

    // Downloads: whole, ranges, unsatisfiable.
    let f = c.get_file(t, &file_id).await.unwrap();
    assert_eq!(f.size, 300_000);
    assert_eq!(f.version, Some(1));
    let whole = c.download(t, &file_id, None, None).await.unwrap();
    assert_eq!(whole.status, 200);
    assert_eq!(whole.content_length, Some(300_000));
    assert_eq!(whole.bytes().await.unwrap(), data);
    let part = c
        .download(t, &file_id, None, Some(ByteRange::FromTo(10, 19)))
        .await
        .unwrap();
    assert_eq!(part.status, 206);
    let cr = part.content_range.unwrap();
    assert_eq!((cr.start, cr.end, cr.total), (10, 19, Some(300_000)));
    assert_eq!(part.bytes().await.unwrap(), data[10..20]);
    let tail = c
        .download(t, &file_id, None, Some(ByteRange::From(299_990)))
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap(), data[299_990..]);
    let suffix = c
        .download(t, &file_id, None, Some(ByteRange::Suffix(5)))
        .await
        .unwrap();
    assert_eq!(suffix.bytes().await.unwrap(), data[300_000 - 5..]);
    let bad = c
        .download(t, &file_id, None, Some(ByteRange::From(400_000)))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::RangeNotSatisfiable);
    assert_eq!(bad.total_size(), Some(300_000));

    // A new version through an upload session with replace_file_id (chunks out of order).
    let v2 = content(150_000, 2);
    let session = c
        .create_upload_session(
            t,
            &CreateUploadSession {
                share_id: docs.clone(),
                folder_id: Some(reports.id.clone()),
                file_name: "data.bin".into(),
                file_size: v2.len() as u64,
                chunk_size: Some(65_536),
                replace_file_id: Some(file_id.clone()),
                ..CreateUploadSession::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(session.total_chunks, 3);
    for i in [2u64, 0, 1] {
        let start = (i * 65_536) as usize;
        let end = (start + 65_536).min(v2.len());
        c.put_chunk(
            t,
            &session.session_id,
            i,
            Bytes::copy_from_slice(&v2[start..end]),
        )
        .await
        .unwrap();
    }
    let progress = c.upload_progress(t, &session.session_id).await.unwrap();
    let mut got = progress.received_chunks.clone();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
    let done = c.complete_upload(t, &session.session_id).await.unwrap();
    assert_eq!(done.file_id, file_id);
    assert_eq!(done.version, Some(2));
    let gone = c.complete_upload(t, &session.session_id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::Gone);

    let versions = c.list_versions(t, &file_id).await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.version_number)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    let old = c.download(t, &file_id, Some(1), None).await.unwrap();
    assert_eq!(old.bytes().await.unwrap(), data);
    let current = c.download(t, &file_id, None, None).await.unwrap();
    assert_eq!(current.bytes().await.unwrap(), v2);
    let restored = c.restore_version(t, &file_id, 1).await.unwrap();
    assert_eq!(restored.version, Some(3));
    let back = c.download(t, &file_id, None, None).await.unwrap();
    assert_eq!(back.bytes().await.unwrap(), data);

    // Copy, rename, move, delete, restore.
    let copy = c
        .copy_file(
            t,
            &file_id,
            &Target::Folder(sub.id.clone()),
            Some("copy.bin"),
        )
        .await
        .unwrap();
    assert_eq!(copy.folder_id.as_deref(), Some(sub.id.as_str()));
    assert_eq!(copy.version, Some(1));
    let renamed = c
        .update_file(
            t,
            &copy.id,
            &FilePatch {
                name: Some("copy2.bin".into()),
                ..FilePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "copy2.bin");
    let to_root = c
        .update_file(
            t,
            &copy.id,
            &FilePatch {
                folder_id: Some(None),
                ..FilePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(to_root.folder_id, None);
    let moved = c
        .move_file(t, &copy.id, &Target::ShareRoot(scratch.id.clone()), None)
        .await
        .unwrap();
    assert_eq!(moved.share_id, scratch.id);
    c.delete_file(t, &copy.id, false).await.unwrap();
    assert_eq!(
        c.get_file(t, &copy.id).await.unwrap_err().kind(),
        ErrorKind::Gone
    );
    let back = c.restore_file(t, &copy.id).await.unwrap();
    assert!(!back.is_deleted);
    c.delete_file(t, &copy.id, true).await.unwrap();
    assert_eq!(
        c.get_file(t, &copy.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Folder rename, move, delete.
    let q2 = c.rename_folder(t, &sub.id, "Q2").await.unwrap();
    assert_eq!(q2.path, "/Reports/Q2");
    let top = c
        .move_folder(t, &sub.id, &Target::ShareRoot(docs.clone()))
        .await
        .unwrap();
    assert_eq!(top.parent_id, None);
    c.delete_folder(t, &sub.id, false).await.unwrap();
    assert_eq!(
        c.get_folder(t, &sub.id).await.unwrap_err().kind(),
        ErrorKind::Gone
    );
    c.delete_folder(t, &sub.id, true).await.unwrap();

    // Change feed since the head.
    let mut cursor = head.cursor.clone();
    let mut kinds = Vec::new();
    loop {
        let page = c.changes(t, &docs, Some(&cursor), Some(5)).await.unwrap();
        kinds.extend(page.changes.iter().map(|ch| ch.change_type.clone()));
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    for want in [
        ChangeType::Created,
        ChangeType::Updated,
        ChangeType::Renamed,
        ChangeType::Moved,
        ChangeType::Deleted,
    ] {
        assert!(kinds.contains(&want), "{want:?} missing from {kinds:?}");
    }
    let empty = c.changes(t, &docs, Some(&cursor), None).await.unwrap();
    assert!(empty.changes.is_empty());

    // External links.
    let link = c
        .create_link(
            t,
            &CreateLink {
                resource_type: "file".into(),
                resource_id: file_id.clone(),
                share_id: docs.clone(),
                link_type: "DOWNLOAD".into(),
                expires_in_days: Some(7),
                password: Some("hunter2".into()),
                ..CreateLink::default()
            },
        )
        .await
        .unwrap();
    assert!(link.password_required);
    assert!(link.url.as_deref().unwrap_or("").contains("/share/"));
    let listed = c
        .list_links(
            t,
            &LinkQuery {
                share_id: Some(docs.clone()),
                ..LinkQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.iter().any(|l| l.id == link.id));
    assert_eq!(c.get_link(t, &link.id).await.unwrap().id, link.id);
    let patched = c
        .update_link(
            t,
            &link.id,
            &LinkPatch {
                custom_name: Some(Some("Report".into())),
                ..LinkPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.custom_name.as_deref(), Some("Report"));
    c.delete_link(t, &link.id).await.unwrap();

    // Share delete hides everything under it.
    c.delete_share(t, &scratch.id).await.unwrap();
    assert_eq!(
        c.get_share(t, &scratch.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    env.emu.shutdown().await;
}

#[tokio::test]
async fn unknown_token_is_unauthorized() {
    let env = start().await;
    let err = env.client.me(&Token::new("not-a-token")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.status(), Some(401));
    env.emu.shutdown().await;
}

#[tokio::test]
async fn idempotent_calls_survive_thirty_percent_injected_503s() {
    let env = start_with(None, fast_opts(12)).await;
    let (c, t) = (&env.client, &env.token);
    let docs = documents_share(&env).await;
    let data = content(100_000, 3);
    let file_id = upload(&env, &docs, None, "f.bin", &data).await;
    let session = c
        .create_upload_session(
            t,
            &CreateUploadSession {
                share_id: docs.clone(),
                file_name: "g.bin".into(),
                file_size: data.len() as u64,
                chunk_size: Some(65_536),
                ..CreateUploadSession::default()
            },
        )
        .await
        .unwrap();

    env.emu.set_faults(Faults {
        error_rate: 0.3,
        error_statuses: vec![503],
        ..Faults::default()
    });
    for _ in 0..10 {
        c.me(t).await.unwrap();
        let listing = c.list_children(t, &docs, None).await.unwrap();
        assert!(listing.items.iter().any(|i| i.id() == file_id));
        assert_eq!(c.get_file(t, &file_id).await.unwrap().size, 100_000);
        let d = c.download(t, &file_id, None, None).await.unwrap();
        assert_eq!(d.bytes().await.unwrap(), data);
    }
    for (i, chunk) in data.chunks(65_536).enumerate() {
        c.put_chunk(
            t,
            &session.session_id,
            i as u64,
            Bytes::copy_from_slice(chunk),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        c.upload_progress(t, &session.session_id)
            .await
            .unwrap()
            .received_chunks
            .len(),
        2
    );
    env.emu.set_faults(Faults::default());
    let done = c.complete_upload(t, &session.session_id).await.unwrap();
    let d = c.download(t, &done.file_id, None, None).await.unwrap();
    assert_eq!(d.bytes().await.unwrap(), data);
    env.emu.shutdown().await;
}

#[tokio::test]
async fn non_idempotent_calls_are_not_retried_on_503() {
    let env = start().await;
    let docs = documents_share(&env).await;
    env.emu.set_faults(Faults {
        error_rate: 1.0,
        error_statuses: vec![503],
        ..Faults::default()
    });
    let err = env
        .client
        .create_folder(&env.token, &docs, None, "X")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    env.emu.set_faults(Faults::default());
    env.emu.shutdown().await;
}

#[tokio::test]
async fn rate_limited_call_waits_for_retry_after_then_succeeds() {
    let env = start().await;
    let docs = documents_share(&env).await;
    env.emu.set_faults(Faults {
        burst_429: 1,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let started = Instant::now();
    env.client.me(&env.token).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // A POST with a replayable body is retried after a 429 too.
    env.emu.set_faults(Faults {
        burst_429: 1,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let started = Instant::now();
    env.client
        .create_folder(&env.token, &docs, None, "after-429")
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    env.emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_persisting_past_max_retries_is_reported() {
    let env = start_with(None, fast_opts(1)).await;
    env.emu.set_faults(Faults {
        burst_429: 5,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let err = env.client.me(&env.token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    env.emu.set_faults(Faults::default());
    env.emu.shutdown().await;
}

#[tokio::test]
async fn download_cut_mid_body_is_an_error_not_a_short_success() {
    let env = start().await;
    let docs = documents_share(&env).await;
    let data = content(1_000_000, 4);
    let file_id = upload(&env, &docs, None, "big.bin", &data).await;
    env.emu.set_faults(Faults {
        reset_after_bytes: Some(100_000),
        reset_count: 1,
        ..Faults::default()
    });
    let d = env
        .client
        .download(&env.token, &file_id, None, None)
        .await
        .unwrap();
    assert_eq!(d.content_length, Some(1_000_000));
    let mut body = d.body;
    let mut received = 0usize;
    let mut failure = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(b) => received += b.len(),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let err = failure.expect("a cut download must end with an error");
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(received < 1_000_000);
    // The fault was one-shot: the next download is whole.
    let again = env
        .client
        .download(&env.token, &file_id, None, None)
        .await
        .unwrap();
    match again.bytes().await {
        Ok(b) => assert_eq!(b, data),
        Err(e) => panic!("second download failed: {e:?}"),
    }
    env.emu.shutdown().await;
}

#[tokio::test]
async fn chunk_puts_are_retried_through_errors_and_429s() {
    let env = start_with(None, fast_opts(10)).await;
    let (c, t) = (&env.client, &env.token);
    let docs = documents_share(&env).await;
    let data = content(5 * 65_536 + 123, 5);
    let session = c
        .create_upload_session(
            t,
            &CreateUploadSession {
                share_id: docs.clone(),
                file_name: "chunked.bin".into(),
                file_size: data.len() as u64,
                chunk_size: Some(65_536),
                ..CreateUploadSession::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(session.total_chunks, 6);
    env.emu.set_faults(Faults {
        error_rate: 0.5,
        error_statuses: vec![500, 502, 503],
        burst_429: 2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    for (i, chunk) in data.chunks(65_536).enumerate() {
        c.put_chunk(
            t,
            &session.session_id,
            i as u64,
            Bytes::copy_from_slice(chunk),
        )
        .await
        .unwrap();
    }
    // Re-sending a chunk is harmless.
    c.put_chunk(
        t,
        &session.session_id,
        0,
        Bytes::copy_from_slice(&data[..65_536]),
    )
    .await
    .unwrap();
    env.emu.set_faults(Faults::default());
    let done = c.complete_upload(t, &session.session_id).await.unwrap();
    assert_eq!(done.size, Some(data.len() as u64));
    let d = c.download(t, &done.file_id, None, None).await.unwrap();
    assert_eq!(d.bytes().await.unwrap(), data);
    env.emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_headers_are_exposed() {
    let env = start_with(Some(1000), fast_opts(3)).await;
    assert_eq!(env.client.rate_limit_state().limit, None);
    env.client.me(&env.token).await.unwrap();
    let state = env.client.rate_limit_state();
    assert_eq!(state.limit, Some(1000));
    assert!(state.remaining.unwrap() < 1000);
    assert!(state.reset.is_some());
    env.emu.shutdown().await;
}

/// A body whose producer is slower than `request_timeout` (a client uploading through the gateway
/// over a slow link) still uploads: the read timeout of metadata calls does not apply while a
/// streamed body is being sent.
#[tokio::test]
async fn a_streamed_upload_slower_than_the_request_timeout_completes() {
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(600),
        ..fast_opts(0)
    };
    let env = start_with(None, opts).await;
    let share = documents_share(&env).await;
    let data = content(64 * 1024, 9);
    // Eight pieces, 300 ms apart: about 2.4 s in all, four times the request timeout.
    let pieces: Vec<Bytes> = data.chunks(8 * 1024).map(Bytes::copy_from_slice).collect();
    let body = futures::stream::iter(pieces).then(|piece| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, std::io::Error>(piece)
    });
    let uploaded = env
        .client
        .upload_file(
            &env.token,
            UploadFile {
                share_id: share,
                folder_id: None,
                name: "slow.bin".into(),
                content_type: None,
                size: Some(data.len() as u64),
                body: reqwest::Body::wrap_stream(body),
            },
        )
        .await
        .expect("a slow but steady upload completes");
    assert_eq!(uploaded.size, data.len() as u64);
    let dl = env
        .client
        .download(&env.token, &uploaded.id, None, None)
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut body = dl.body;
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert!(got == data, "content differs");
}
