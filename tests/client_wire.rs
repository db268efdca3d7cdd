//! Wire behaviour the emulator cannot script exactly: a tiny TCP server on port 0 answers each
//! connection with the next canned HTTP response and records what it received. Pins down
//! retry counts, `Retry-After` strictness, short-body detection and header bookkeeping.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use scaidrive_gateway::scaidrive::{
    ByteRange, Client, ClientOptions, ErrorKind, Token, UploadFile,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Script {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Script {
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serve `responses` in order, one per connection (the last one repeats).
async fn serve(responses: Vec<String>) -> Script {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let resp = responses[n.min(responses.len() - 1)].clone();
            n += 1;
            let seen = seen.clone();
            tokio::spawn(async move {
                let head = read_request(&mut sock).await;
                seen.lock().unwrap().push(head);
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Script { url, requests }
}

/// Read a request head and its body (Content-Length or chunked); return head + body as text.
async fn read_request(sock: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let body_len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let chunked = head.contains("transfer-encoding: chunked");
            let done = match body_len {
                Some(len) => buf.len() >= end + 4 + len,
                None if chunked => find(&buf[end..], b"0\r\n\r\n").is_some(),
                None => true,
            };
            if done {
                return String::from_utf8_lossy(&buf).to_lowercase();
            }
        }
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).to_lowercase(),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn response(status: &str, headers: &[&str], body: &str) -> String {
    let mut s = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    if !headers
        .iter()
        .any(|h| h.to_lowercase().starts_with("content-length"))
    {
        s.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

fn json(status: &str, body: &str) -> String {
    response(status, &["content-type: application/json"], body)
}

const ME: &str = r#"{"id": "usr_1", "email": "a@example.com"}"#;

fn client(url: &str, max_retries: u32) -> Client {
    Client::new(
        url,
        ClientOptions {
            max_retries,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            request_timeout: Duration::from_secs(5),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

fn token() -> Token {
    Token::new("wire-secret-token")
}

#[tokio::test]
async fn get_is_retried_on_503_up_to_max_retries() {
    let s = serve(vec![json(
        "503 Service Unavailable",
        r#"{"detail": "degraded"}"#,
    )])
    .await;
    let err = client(&s.url, 2).me(&token()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.message(), "degraded");
    assert_eq!(s.requests().len(), 3);
}

#[tokio::test]
async fn get_succeeds_after_transient_errors() {
    let s = serve(vec![
        json("500 Internal Server Error", "{}"),
        json("502 Bad Gateway", "oops"),
        json("200 OK", ME),
    ])
    .await;
    let me = client(&s.url, 3).me(&token()).await.unwrap();
    assert_eq!(me.id, "usr_1");
    assert_eq!(s.requests().len(), 3);
}

#[tokio::test]
async fn post_is_not_retried_on_503() {
    let s = serve(vec![json("503 Service Unavailable", "{}")]).await;
    let err = client(&s.url, 3)
        .create_folder(&token(), "shr_1", None, "x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(s.requests().len(), 1);
}

#[tokio::test]
async fn post_is_retried_after_429_no_sooner_than_retry_after() {
    let s = serve(vec![
        response(
            "429 Too Many Requests",
            &["retry-after: 1", "content-type: application/json"],
            r#"{"status": "error", "error": {"code": "RATE_LIMITED", "message": "slow down", "retry_after": 1}}"#,
        ),
        json(
            "201 Created",
            r#"{"id": "fld_1", "share_id": "shr_1", "name": "x", "path": "/x"}"#,
        ),
    ])
    .await;
    let started = Instant::now();
    let folder = client(&s.url, 3)
        .create_folder(&token(), "shr_1", None, "x")
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(folder.id, "fld_1");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    // The replayed request carried the same body.
    assert!(reqs[1].contains(r#""name":"x""#), "{}", reqs[1]);
}

#[tokio::test]
async fn streamed_upload_is_not_retried_even_on_429() {
    let s = serve(vec![response(
        "429 Too Many Requests",
        &["retry-after: 1"],
        "",
    )])
    .await;
    let err = client(&s.url, 3)
        .upload_file(
            &token(),
            UploadFile {
                share_id: "shr_1".into(),
                folder_id: None,
                name: "a.txt".into(),
                content_type: Some("text/plain".into()),
                size: Some(5),
                body: reqwest::Body::from("hello"),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].contains("multipart/form-data"));
    assert!(reqs[0].contains("name=\"share_id\""));
    assert!(reqs[0].contains("hello"));
}

#[tokio::test]
async fn long_retry_after_is_handed_back_not_slept() {
    let s = serve(vec![response(
        "429 Too Many Requests",
        &["retry-after: 3600"],
        "",
    )])
    .await;
    let started = Instant::now();
    let err = client(&s.url, 3).me(&token()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(s.requests().len(), 1);
}

#[tokio::test]
async fn short_body_is_an_error_in_the_stream() {
    // Promises 100 bytes, sends 10, closes.
    let s = serve(vec![response(
        "200 OK",
        &[
            "content-length: 100",
            "content-type: application/octet-stream",
        ],
        "0123456789",
    )])
    .await;
    let d = client(&s.url, 0)
        .download(&token(), "fil_1", None, None)
        .await
        .unwrap();
    assert_eq!(d.content_length, Some(100));
    let items: Vec<_> = d.body.collect().await;
    let last = items.last().unwrap();
    assert_eq!(last.as_ref().unwrap_err().kind(), ErrorKind::Transport);
    let ok: usize = items
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|b| b.len())
        .sum();
    assert!(ok <= 10);
}

#[tokio::test]
async fn range_download_sends_header_and_parses_content_range() {
    let s = serve(vec![response(
        "206 Partial Content",
        &["content-range: bytes 2-4/10", "content-type: text/plain"],
        "234",
    )])
    .await;
    let d = client(&s.url, 0)
        .download(&token(), "fil_1", Some(2), Some(ByteRange::FromTo(2, 4)))
        .await
        .unwrap();
    assert!(d.is_partial());
    let cr = d.content_range.unwrap();
    assert_eq!((cr.start, cr.end, cr.total), (2, 4, Some(10)));
    assert_eq!(d.content_type.as_deref(), Some("text/plain"));
    assert_eq!(&d.bytes().await.unwrap()[..], b"234");
    let req = &s.requests()[0];
    assert!(
        req.starts_with("get /api/v1/files/fil_1/content?version=2 "),
        "{req}"
    );
    assert!(req.contains("range: bytes=2-4"));
}

#[tokio::test]
async fn unsatisfiable_range_carries_total_size() {
    let s = serve(vec![response(
        "416 Range Not Satisfiable",
        &["content-range: bytes */10"],
        "",
    )])
    .await;
    let err = client(&s.url, 3)
        .download(&token(), "fil_1", None, Some(ByteRange::From(50)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RangeNotSatisfiable);
    assert_eq!(err.total_size(), Some(10));
    assert_eq!(s.requests().len(), 1);
}

#[tokio::test]
async fn bearer_token_and_user_agent_are_sent_and_rate_headers_recorded() {
    let s = serve(vec![response(
        "200 OK",
        &[
            "content-type: application/json",
            "x-ratelimit-limit: 1000",
            "x-ratelimit-remaining: 998",
            "x-ratelimit-reset: 1760000060",
        ],
        ME,
    )])
    .await;
    let c = client(&s.url, 0);
    c.me(&token()).await.unwrap();
    let req = &s.requests()[0];
    assert!(req.contains("authorization: bearer wire-secret-token"));
    assert!(req.contains("user-agent: scaidrive-gateway/"));
    let rl = c.rate_limit_state();
    assert_eq!(
        (rl.limit, rl.remaining, rl.reset),
        (Some(1000), Some(998), Some(1760000060))
    );
    assert!(!format!("{c:?}").contains("wire-secret-token"));
}

#[tokio::test]
async fn connect_failure_is_transport() {
    // Bind and drop to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client(&format!("http://127.0.0.1:{port}"), 1)
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn unparseable_success_body_is_protocol() {
    let s = serve(vec![json("200 OK", r#"{"unexpected": true}"#)]).await;
    let err = client(&s.url, 0).me(&token()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
}

#[tokio::test]
async fn my_shares_follows_pages_until_total() {
    let share = |i: u32| format!(r#"{{"id": "shr_{i}", "name": "S{i}", "type": "central"}}"#);
    let page1: Vec<String> = (0..100).map(share).collect();
    let page2: Vec<String> = (100..130).map(share).collect();
    let s = serve(vec![
        json(
            "200 OK",
            &format!(r#"{{"shares": [{}], "total": 130}}"#, page1.join(",")),
        ),
        json(
            "200 OK",
            &format!(r#"{{"shares": [{}], "total": 130}}"#, page2.join(",")),
        ),
    ])
    .await;
    let shares = client(&s.url, 0).my_shares(&token()).await.unwrap();
    assert_eq!(shares.len(), 130);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].contains("limit=100&offset=0"));
    assert!(reqs[1].contains("limit=100&offset=100"));
}

#[tokio::test]
async fn chunk_put_carries_sha256_and_is_retried() {
    let s = serve(vec![
        json("503 Service Unavailable", "{}"),
        json("200 OK", r#"{"chunk_index": 0, "size": 3}"#),
    ])
    .await;
    client(&s.url, 2)
        .put_chunk(&token(), "ups_1", 0, bytes::Bytes::from_static(b"abc"))
        .await
        .unwrap();
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].starts_with("put /api/v1/uploads/ups_1/chunks/0 "));
    assert!(reqs[1].contains(
        "x-chunk-sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    ));
}

#[tokio::test]
async fn delete_retried_after_unclear_failure_accepts_gone() {
    let s = serve(vec![
        json("502 Bad Gateway", "{}"),
        json("410 Gone", r#"{"detail": "file is deleted"}"#),
    ])
    .await;
    client(&s.url, 3)
        .delete_file(&token(), "fil_1", false)
        .await
        .unwrap();
    assert_eq!(s.requests().len(), 2);
}

#[tokio::test]
async fn delete_of_missing_file_without_retry_is_not_found() {
    let s = serve(vec![json("404 Not Found", r#"{"detail": "not found"}"#)]).await;
    let err = client(&s.url, 3)
        .delete_file(&token(), "fil_1", true)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn transport_errors_name_the_root_cause_in_words() {
    let opts = || ClientOptions {
        max_retries: 0,
        ..ClientOptions::default()
    };
    // Nobody listens on a port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::new(&format!("http://127.0.0.1:{port}"), opts())
        .unwrap()
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(
        err.to_string(),
        format!(
            "scaidrive: transport error: connect failed: connection refused \
             (http://127.0.0.1:{port}/api/v1/health)"
        )
    );
    // `.invalid` never resolves (RFC 2606).
    let err = Client::new("http://no-such-host.invalid", opts())
        .unwrap()
        .health()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("scaidrive: transport error: connect failed: DNS name not found ("),
        "{message}"
    );
    assert!(
        message.ends_with("(http://no-such-host.invalid/api/v1/health)"),
        "{message}"
    );
}

/// A listing body of `n` files.
fn listing_body(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"type": "file", "id": "fil_{i}", "name": "f{i}", "size": {i}}}"#))
        .collect();
    format!(
        r#"{{"items": [{}], "path": "/", "total": {n}}}"#,
        items.join(", ")
    )
}

#[tokio::test]
async fn a_listing_cut_mid_body_is_asked_again_and_never_comes_back_shorter() {
    let whole = listing_body(50);
    // Promises the whole body, sends half of it, closes.
    let cut = response(
        "200 OK",
        &[
            &format!("content-length: {}", whole.len()),
            "content-type: application/json",
        ],
        &whole[..whole.len() / 2],
    );
    let s = serve(vec![cut.clone(), json("200 OK", &whole)]).await;
    let l = client(&s.url, 2)
        .list_children(&token(), "shr_1", Some("fld_1"))
        .await
        .unwrap();
    assert_eq!(l.items.len(), 50);
    assert_eq!(s.requests().len(), 2);

    let s = serve(vec![cut]).await;
    let err = client(&s.url, 1)
        .list_children(&token(), "shr_1", Some("fld_1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(s.requests().len(), 2);
}

#[tokio::test]
async fn a_listing_body_ending_early_but_whole_by_its_length_is_protocol() {
    let whole = listing_body(5);
    let s = serve(vec![json("200 OK", &whole[..whole.len() - 3])]).await;
    let err = client(&s.url, 2)
        .list_children(&token(), "shr_1", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(s.requests().len(), 1);
}
