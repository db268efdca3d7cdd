//! The protocol-neutral store against the real emulator over HTTP: path resolution, streamed
//! writes (new files, new versions, large files through sessions), reads, deletes, copies,
//! moves, and that a broken body stores nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use futures::StreamExt;
use scaidrive_gateway::auth::Session;
use scaidrive_gateway::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use scaidrive_gateway::namespace::ObjectPath;
use scaidrive_gateway::scaidrive::{ByteRange, Client, ClientOptions, Token};
use scaidrive_gateway::state::{ObjectAttrs, StateDb};
use scaidrive_gateway::store::{
    BodyAbort, BodyStream, Entry, FileInfo, FolderRef, Store, StoreError, StoreOptions,
    WriteRequest,
};

struct Fixture {
    emu: RunningEmulator,
    _dir: tempfile::TempDir,
    store: Store,
    session: Session,
    share: String,
}

async fn fixture(opts: StoreOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator::start(EmulatorConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.path().join("emu"),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let seed = emu.tokens()[0].clone();
    let client = Client::new(&emu.url(), ClientOptions::default()).unwrap();
    let token = Token::new(seed.token.clone());
    let me = client.me(&token).await.unwrap();
    let session = Session::new(me.id, token);
    let db = StateDb::open(dir.path().join("gateway.db")).unwrap();
    let store = Store::new(client, db, opts);
    let share = store.shares(&session).await.unwrap()[0].id.clone();
    Fixture {
        emu,
        _dir: dir,
        store,
        session,
        share,
    }
}

fn body_of(data: Vec<u8>, piece: usize) -> BodyStream {
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(piece.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(pieces).boxed()
}

fn key(k: &str) -> ObjectPath {
    ObjectPath::from_key(k).unwrap()
}

impl Fixture {
    async fn put(
        &self,
        k: &str,
        data: &[u8],
    ) -> Result<scaidrive_gateway::store::Written, StoreError> {
        self.store
            .write(
                &self.session,
                WriteRequest {
                    share_id: self.share.clone(),
                    path: key(k),
                    size: data.len() as u64,
                    content_type: Some("text/plain".into()),
                    body: body_of(data.to_vec(), 7),
                    create_parents: true,
                    attrs: ObjectAttrs::default(),
                    content_md5: None,
                },
            )
            .await
    }

    async fn get(&self, k: &str) -> Vec<u8> {
        let r = self
            .store
            .resolve(&self.session, &self.share, &key(k), false)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{k} not found"));
        let Entry::File(f) = r.entry else {
            panic!("{k} is not a file")
        };
        let d = self
            .store
            .read(&self.session, &f.id, None, None)
            .await
            .unwrap();
        d.bytes().await.unwrap().to_vec()
    }

    async fn file(&self, k: &str) -> FileInfo {
        match self
            .store
            .resolve(&self.session, &self.share, &key(k), false)
            .await
            .unwrap()
            .map(|r| r.entry)
        {
            Some(Entry::File(f)) => FileInfo::clone(&f),
            other => panic!("{k}: {other:?}"),
        }
    }

    async fn folder(&self, k: &str) -> scaidrive_gateway::store::FolderInfo {
        match self
            .store
            .resolve(&self.session, &self.share, &key(k), false)
            .await
            .unwrap()
            .map(|r| r.entry)
        {
            Some(Entry::Folder(d)) => scaidrive_gateway::store::FolderInfo::clone(&d),
            other => panic!("{k}: {other:?}"),
        }
    }

    async fn exists(&self, k: &str) -> bool {
        self.store
            .resolve(&self.session, &self.share, &key(k), false)
            .await
            .unwrap()
            .is_some()
    }
}

#[tokio::test]
async fn write_creates_parent_folders_and_reads_back() {
    let f = fixture(StoreOptions::default()).await;
    let w = f.put("a/b/c/hello.txt", b"hello world").await.unwrap();
    assert!(!w.replaced);
    assert_eq!(w.size, 11);
    assert_eq!(f.get("a/b/c/hello.txt").await, b"hello world");
    // The folders exist and are listed as folders.
    let a = f
        .store
        .resolve(&f.session, &f.share, &key("a/b/"), false)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(a.entry, Entry::Folder(_)));
}

#[tokio::test]
async fn overwrite_makes_a_new_version_not_a_new_file() {
    let f = fixture(StoreOptions::default()).await;
    let first = f.put("doc.txt", b"version one").await.unwrap();
    let second = f.put("doc.txt", b"version two!").await.unwrap();
    assert!(second.replaced);
    assert_eq!(first.file_id, second.file_id);
    assert_eq!(f.get("doc.txt").await, b"version two!");
    let versions = f.store.versions(&f.session, &first.file_id).await.unwrap();
    assert_eq!(versions.len(), 2);
}

#[tokio::test]
async fn large_new_file_goes_through_a_session_in_parallel_chunks() {
    let opts = StoreOptions {
        session_threshold: 256 << 10,
        chunk_size: 64 << 10,
        ..StoreOptions::default()
    };
    let f = fixture(opts).await;
    let data: Vec<u8> = (0..(1u32 << 20) + 123)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let w = f.put("big.bin", &data).await.unwrap();
    assert_eq!(w.size, data.len() as u64);
    assert_eq!(f.get("big.bin").await, data);
    // A ranged read streams only the range.
    let Entry::File(file) = f
        .store
        .resolve(&f.session, &f.share, &key("big.bin"), false)
        .await
        .unwrap()
        .unwrap()
        .entry
    else {
        panic!()
    };
    let part = f
        .store
        .read(
            &f.session,
            &file.id,
            None,
            Some(ByteRange::FromTo(100, 199)),
        )
        .await
        .unwrap();
    assert!(part.is_partial());
    assert_eq!(part.bytes().await.unwrap().as_ref(), &data[100..200]);
}

#[tokio::test]
async fn concurrent_overwrites_keep_their_chunks_in_flight_within_the_memory_budget() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let opts = StoreOptions {
        chunk_size: 64 << 10,
        parallel_chunks: 3,
        chunk_memory: 64 << 10,
        ..StoreOptions::default()
    };
    let f = fixture(opts).await;
    let data = |i: u8| -> Vec<u8> { (0..256u32 << 10).map(|j| (j % 241) as u8 ^ i).collect() };
    // The files exist, so each write below is an overwrite, through an upload session of four
    // 64 KiB chunks.
    for i in 0..4 {
        f.put(&format!("o{i}.bin"), b"old").await.unwrap();
    }
    // Chunks take a while upstream, so the ones in flight can be seen.
    f.emu.set_faults(Faults {
        latency_ms: 20,
        paths: vec!["/api/v1/uploads/".into()],
        ..Faults::default()
    });
    let stats = f.store.cache_stats();
    let peak = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stats, peak, done) = (Arc::clone(&stats), Arc::clone(&peak), Arc::clone(&done));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(
                    stats.upload_chunk_bytes.load(Ordering::Relaxed),
                    Ordering::Relaxed,
                );
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
    };
    let names: Vec<String> = (0..4).map(|i| format!("o{i}.bin")).collect();
    let bodies: Vec<Vec<u8>> = (0..4).map(data).collect();
    let writes = futures::future::join_all(names.iter().zip(&bodies).map(|(n, b)| f.put(n, b)));
    for w in writes.await {
        assert!(w.unwrap().replaced);
    }
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    f.emu.set_faults(Faults::default());
    let peak = peak.load(Ordering::Relaxed);
    // Without the budget: up to 3 chunks of each of the 4 uploads, 768 KiB.
    assert!(peak > 0, "no chunk was seen in flight");
    assert!(peak <= 64 << 10, "chunks in flight peaked at {peak} bytes");
    assert_eq!(stats.upload_chunk_bytes.load(Ordering::Relaxed), 0);
    for (n, b) in names.iter().zip(&bodies) {
        assert!(f.get(n).await == *b, "{n} reads back different");
    }
}

#[tokio::test]
async fn short_or_aborted_body_stores_nothing() {
    let f = fixture(StoreOptions::default()).await;
    // Announced 100 bytes, sent 10.
    let short = f
        .store
        .write(
            &f.session,
            WriteRequest {
                share_id: f.share.clone(),
                path: key("short.txt"),
                size: 100,
                content_type: None,
                body: body_of(vec![1; 10], 5),
                create_parents: true,
                attrs: ObjectAttrs::default(),
                content_md5: None,
            },
        )
        .await;
    assert!(
        matches!(short, Err(StoreError::IncompleteBody)),
        "{short:?}"
    );
    assert!(!f.exists("short.txt").await);

    // A front end aborts the body at its end (digest mismatch): nothing stored either, for a
    // new file and for a new version of an existing one.
    f.put("kept.txt", b"original").await.unwrap();
    for name in ["bad.txt", "kept.txt"] {
        let body: BodyStream = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"12345")),
            Err(BodyAbort::BadDigest.into_io()),
        ])
        .boxed();
        let res = f
            .store
            .write(
                &f.session,
                WriteRequest {
                    share_id: f.share.clone(),
                    path: key(name),
                    size: 5,
                    content_type: None,
                    body,
                    create_parents: true,
                    attrs: ObjectAttrs::default(),
                    content_md5: None,
                },
            )
            .await;
        assert!(matches!(res, Err(StoreError::BadDigest)), "{name}: {res:?}");
    }
    assert!(!f.exists("bad.txt").await);
    assert_eq!(f.get("kept.txt").await, b"original");
}

#[tokio::test]
async fn a_content_md5_mismatch_stores_nothing_and_a_match_is_the_etag() {
    use md5::Digest as _;
    let f = fixture(StoreOptions::default()).await;
    f.put("kept.bin", b"original").await.unwrap();
    // Small bodies are hashed inline, bodies of 1 MiB and more on a thread beside the upload;
    // new files go up in one POST, existing ones through a replacing session.
    let small = b"twelve bytes".to_vec();
    let large: Vec<u8> = (0..(3u32 << 20) + 7).map(|i| (i % 253) as u8).collect();
    for (name, data) in [
        ("new-small.bin", &small),
        ("new-large.bin", &large),
        ("kept.bin", &small),
        ("kept.bin", &large),
    ] {
        let write = |md5: [u8; 16]| WriteRequest {
            share_id: f.share.clone(),
            path: key(name),
            size: data.len() as u64,
            content_type: None,
            body: body_of(data.clone(), 64 << 10),
            create_parents: true,
            attrs: ObjectAttrs::default(),
            content_md5: Some(md5),
        };
        let res = f.store.write(&f.session, write([0; 16])).await;
        assert!(
            matches!(res, Err(StoreError::BadDigest)),
            "{name} ({} bytes): {res:?}",
            data.len()
        );
        if name == "kept.bin" {
            assert_eq!(f.get(name).await, b"original");
        } else {
            assert!(!f.exists(name).await, "{name}");
        }
    }
    for (name, data) in [("new-large.bin", &large), ("kept.bin", &large)] {
        let md5: [u8; 16] = md5::Md5::digest(data).into();
        let w = f
            .store
            .write(
                &f.session,
                WriteRequest {
                    share_id: f.share.clone(),
                    path: key(name),
                    size: data.len() as u64,
                    content_type: None,
                    body: body_of(data.clone(), 64 << 10),
                    create_parents: true,
                    attrs: ObjectAttrs::default(),
                    content_md5: Some(md5),
                },
            )
            .await
            .unwrap();
        assert_eq!(w.md5, md5);
        assert_eq!(w.etag, hex::encode(md5));
        assert_eq!(&f.get(name).await, data);
    }
}

#[tokio::test]
async fn file_and_folder_names_cannot_collide() {
    let f = fixture(StoreOptions::default()).await;
    f.put("x/inner.txt", b"1").await.unwrap();
    // A file where folder "x" is.
    assert!(matches!(
        f.put("x", b"2").await,
        Err(StoreError::Conflict(_))
    ));
    // A folder needed where file "x/inner.txt" is.
    assert!(matches!(
        f.put("x/inner.txt/deeper", b"3").await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn delete_copy_and_move_are_visible_at_once() {
    let f = fixture(StoreOptions::default()).await;
    let w = f.put("src/one.txt", b"payload").await.unwrap();
    let dest = f
        .store
        .ensure_folder(&f.session, &f.share, &["dst".into()])
        .await
        .unwrap();
    let one = f.file("src/one.txt").await;
    f.store
        .copy_file(&f.session, &one, &dest, "copy.txt", None)
        .await
        .unwrap();
    assert_eq!(f.get("dst/copy.txt").await, b"payload");

    f.store
        .move_file(&f.session, &one, &w.parent, &dest, "moved.txt")
        .await
        .unwrap();
    assert!(!f.exists("src/one.txt").await);
    assert_eq!(f.get("dst/moved.txt").await, b"payload");

    let moved = f
        .store
        .resolve(&f.session, &f.share, &key("dst/moved.txt"), false)
        .await
        .unwrap()
        .unwrap();
    let moved_file = f.file("dst/moved.txt").await;
    assert_eq!(moved_file.id, w.file_id);
    f.store
        .delete_file(&f.session, &moved.parent, &moved_file)
        .await
        .unwrap();
    assert!(!f.exists("dst/moved.txt").await);
    // The name is free again at once (the trashed file went under another name).
    f.put("dst/moved.txt", b"again").await.unwrap();
    assert_eq!(f.get("dst/moved.txt").await, b"again");

    let dst = f
        .store
        .resolve(&f.session, &f.share, &key("dst/"), false)
        .await
        .unwrap()
        .unwrap();
    let Entry::Folder(folder) = dst.entry else {
        panic!()
    };
    f.store
        .delete_folder(&f.session, &FolderRef::root(f.share.clone()), &folder)
        .await
        .unwrap();
    assert!(!f.exists("dst/copy.txt").await);
    assert!(!f.exists("dst/").await);
    f.store
        .ensure_folder(&f.session, &f.share, &["dst".into()])
        .await
        .unwrap();
    assert!(f.exists("dst/").await);
}

#[tokio::test]
async fn etag_is_the_body_md5_and_follows_copies_and_moves() {
    let f = fixture(StoreOptions::default()).await;
    let w = f.put("e/tag.txt", b"hello").await.unwrap();
    let md5_hello = "5d41402abc4b2a76b9719d911017c592";
    assert_eq!(w.etag, md5_hello);
    let file = f.file("e/tag.txt").await;
    let attrs = f.store.attrs_of(&file).await.unwrap();
    assert_eq!(Store::etag(&file, attrs.as_ref()), md5_hello);

    // A copy carries the attributes; a rename (which changes modified_at upstream) too.
    let root = FolderRef::root(f.share.clone());
    f.store
        .copy_file(&f.session, &file, &root, "copy.txt", None)
        .await
        .unwrap();
    let copy = f.file("copy.txt").await;
    let copy_attrs = f.store.attrs_of(&copy).await.unwrap();
    assert_eq!(Store::etag(&copy, copy_attrs.as_ref()), md5_hello);
    f.store
        .move_file(&f.session, &copy, &root, &root, "renamed.txt")
        .await
        .unwrap();
    let renamed = f.file("renamed.txt").await;
    let renamed_attrs = f.store.attrs_of(&renamed).await.unwrap();
    assert_eq!(Store::etag(&renamed, renamed_attrs.as_ref()), md5_hello);
}

#[tokio::test]
async fn own_writes_keep_their_etag_before_and_after_the_listing_is_fetched_again() {
    let f = fixture(StoreOptions::default()).await;
    let w = f.put("own.txt", b"written here").await.unwrap();
    // Served from the listing the write updated in place (a provisional modified_at).
    let patched = f.file("own.txt").await;
    assert_eq!(patched.id, w.file_id);
    assert!(patched.modified_at.is_some());
    let attrs = f.store.attrs_of(&patched).await.unwrap().unwrap();
    assert_eq!(attrs.etag, w.etag);
    // Fetched from ScaiDrive again: bound to ScaiDrive's modified_at, still valid.
    f.store.invalidate_share(&f.share).await;
    let listed = f.file("own.txt").await;
    assert_eq!(
        f.store.attrs_of(&listed).await.unwrap().unwrap().etag,
        w.etag
    );
    assert_eq!(
        f.store.attrs_of(&listed).await.unwrap().unwrap().etag,
        w.etag
    );
}

#[tokio::test]
async fn files_written_elsewhere_get_a_stable_opaque_etag() {
    let f = fixture(StoreOptions::default()).await;
    f.put("x.txt", b"through the gateway").await.unwrap();
    let before = f.file("x.txt").await;
    assert!(f.store.attrs_of(&before).await.unwrap().is_some());

    // Another ScaiDrive client writes a new version directly (same size, new content), a
    // second later (upstream modified_at has second precision).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let client = f.store.client().clone();
    let session = client
        .create_upload_session(
            f.session.token(),
            &scaidrive_gateway::scaidrive::CreateUploadSession {
                share_id: f.share.clone(),
                file_name: "x.txt".into(),
                file_size: 19,
                replace_file_id: Some(before.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .put_chunk(
            f.session.token(),
            &session.session_id,
            0,
            Bytes::from_static(b"written by web ui!!"),
        )
        .await
        .unwrap();
    client
        .complete_upload(f.session.token(), &session.session_id)
        .await
        .unwrap();
    // The gateway had not listed the file from ScaiDrive since its own write (its cached listing
    // was updated in place), so its attributes were not yet bound to an upstream modified_at:
    // the change feed reports the write made elsewhere, and they are dropped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let after = loop {
        f.store.invalidate_share(&f.share).await;
        let after = f.file("x.txt").await;
        if f.store.attrs_of(&after).await.unwrap().is_none() {
            break after;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway's attributes still describe a file changed elsewhere"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_ne!(after.modified_at, before.modified_at);
    let etag = Store::etag(&after, None);
    assert!(etag.ends_with("-1"), "{etag}");
    assert_eq!(etag, Store::etag(&after, None));
    assert_ne!(etag, Store::etag(&before, None));
}

#[tokio::test]
async fn invalid_names_are_refused_before_any_upstream_call() {
    let f = fixture(StoreOptions::default()).await;
    let res = f
        .store
        .create_folder_in(&f.session, &FolderRef::root(f.share.clone()), "..")
        .await;
    assert!(matches!(res, Err(StoreError::InvalidName(_))));
}

#[tokio::test]
async fn cold_lookup_lists_each_folder_once_and_warm_lookup_calls_nothing() {
    let f = fixture(StoreOptions {
        cache_ttl: std::time::Duration::from_secs(60),
        // The feed follower polls on its own schedule; keep these counts to lookups alone.
        change_feed_interval: None,
        ..StoreOptions::default()
    })
    .await;
    f.put("a/b/c/d.txt", b"deep").await.unwrap();
    f.store.invalidate_share(&f.share).await;
    let stats = f.store.client().upstream_stats().clone();
    let children = "/api/v1/folders/{id}/children";

    let before = stats.total();
    let listings_before = stats.count("GET", children);
    assert!(f.exists("a/b/c/d.txt").await);
    // Root, a, b, c: one listing each, nothing else.
    assert_eq!(stats.count("GET", children) - listings_before, 4);
    assert_eq!(stats.total() - before, 4, "{:?}", stats.snapshot());

    let warm = stats.total();
    assert!(f.exists("a/b/c/d.txt").await);
    assert!(f.exists("a/b/c/").await);
    assert_eq!(stats.total(), warm, "a warm lookup makes no upstream call");
}

#[tokio::test]
async fn writes_made_elsewhere_show_up_through_the_change_feed_before_the_ttl() {
    let f = fixture(StoreOptions {
        cache_ttl: std::time::Duration::from_secs(3600),
        change_feed_interval: Some(std::time::Duration::from_millis(200)),
        ..StoreOptions::default()
    })
    .await;
    assert!(!f.exists("from-elsewhere.txt").await);
    // Give the follower its first poll (it starts at the feed's head).
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;

    // Another ScaiDrive client uploads straight to ScaiDrive.
    let client = f.store.client().clone();
    client
        .upload_file(
            f.session.token(),
            scaidrive_gateway::scaidrive::UploadFile {
                share_id: f.share.clone(),
                folder_id: None,
                name: "from-elsewhere.txt".into(),
                content_type: None,
                size: Some(3),
                body: reqwest::Body::from("abc"),
            },
        )
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !f.exists("from-elsewhere.txt").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a write made elsewhere stayed invisible for 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Live items of a folder as ScaiDrive lists them (not through the store's cache).
async fn upstream_names(f: &Fixture, folder_id: &str) -> Vec<String> {
    let listing = f
        .store
        .client()
        .list_children(f.session.token(), &f.share, Some(folder_id))
        .await
        .unwrap();
    listing
        .items
        .iter()
        .filter_map(|i| match i {
            scaidrive_gateway::scaidrive::Item::File(x) if !x.is_deleted => Some(x.name.clone()),
            scaidrive_gateway::scaidrive::Item::Folder(x) if !x.is_deleted => Some(x.name.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_delete_cut_between_rename_and_trash_is_finished_by_the_sweep_after_a_restart() {
    use scaidrive_gateway::store::DeletedItem;
    let f = fixture(StoreOptions::default()).await;
    let name = "文".repeat(76) + ".txt";
    f.put(&format!("dir/{name}"), b"one").await.unwrap();
    f.put("dir/sub/x.txt", b"x").await.unwrap();
    let file = f.file(&format!("dir/{name}")).await;
    let dir = f.folder("dir/").await;
    let sub = f.folder("dir/sub/").await;
    // The process dies right after the first step of both deletes: the items are renamed to
    // their trash names, the trash calls never happen.
    assert!(
        f.store
            .rename_for_delete(&f.session, &f.share, DeletedItem::File(&file))
            .await
    );
    assert!(
        f.store
            .rename_for_delete(&f.session, &f.share, DeletedItem::Folder(&sub))
            .await
    );
    let live = upstream_names(&f, &dir.id).await;
    assert_eq!(live.len(), 2, "{live:?}");
    assert!(
        live.iter()
            .all(|n| n.contains(" (deleted ") && n.len() <= 255),
        "{live:?}"
    );

    // The restart: a new store on the same state database sweeps at start.
    let restarted = Store::new(
        f.store.client().clone(),
        f.store.db().clone(),
        StoreOptions::default(),
    );
    let done = restarted.recover_deletes(true).await;
    assert_eq!((done.finished, done.kept), (2, 0), "{done:?}");
    assert_eq!(upstream_names(&f, &dir.id).await, Vec::<String>::new());
    // Both are in the trash (recoverable), and their names are free.
    let gone = f.store.client().get_file(f.session.token(), &file.id).await;
    assert!(gone.is_err() || gone.is_ok_and(|x| x.is_deleted));
    f.store.invalidate_share(&f.share).await;
    f.put(&format!("dir/{name}"), b"two").await.unwrap();
    f.put("dir/sub/x.txt", b"y").await.unwrap();
    assert_eq!(f.get(&format!("dir/{name}")).await, b"two");
    // Nothing is left to do.
    assert_eq!(restarted.recover_deletes(true).await, Default::default());
}
