//! WebDAV front end against the real gateway with its embedded emulator (port 0, temp dir).

#![allow(clippy::unwrap_used)]

use reqwest::{Client, Method, StatusCode};
use scaidrive_gateway::config::Config;
use scaidrive_gateway::server::{GatewayHandle, start_gateway};

struct Dav {
    gw: GatewayHandle,
    base: String,
    user: String,
    pass: String,
    http: Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Dav {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.embedded.listen = "127.0.0.1:0".parse().unwrap();
    let gw = start_gateway(cfg).await.unwrap();
    let cred = gw.embedded_credential().unwrap().clone();
    Dav {
        base: format!("http://{}", gw.addrs().webdav),
        user: cred.access_key_id,
        pass: cred.secret_access_key,
        gw,
        http: Client::new(),
        _dir: dir,
    }
}

impl Dav {
    /// PROPPATCH of the dead property `{urn:x-test}color` to `value` (XML text).
    async fn set_color(&self, path: &str, value: &str) {
        let body = format!(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test"><D:set><D:prop><Z:color>{value}</Z:color></D:prop></D:set></D:propertyupdate>"#
        );
        let r = self.req("PROPPATCH", path).body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 207);
    }

    /// An exclusive write lock of 600 s on `path`; its token.
    async fn lock(&self, path: &str) -> String {
        let lock = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>editor</D:owner></D:lockinfo>"#;
        let r = self
            .req("LOCK", path)
            .header("Timeout", "Second-600")
            .body(lock)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let token = r.headers()["lock-token"].to_str().unwrap().to_owned();
        token.trim_matches(['<', '>']).to_owned()
    }

    fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .basic_auth(&self.user, Some(&self.pass))
    }
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_basic_challenge() {
    let d = start().await;
    let resp = d.http.get(format!("{}/", d.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    d.gw.shutdown().await;
}

#[tokio::test]
async fn root_lists_shares_and_options_advertise_dav() {
    let d = start().await;
    let resp = d
        .req("PROPFIND", "/")
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 207);
    let body = resp.text().await.unwrap();
    assert!(body.contains("/Documents/"), "{body}");
    let resp = d.req("OPTIONS", "/Documents/").send().await.unwrap();
    let dav = resp.headers()["dav"].to_str().unwrap().to_owned();
    assert!(dav.contains('1') && dav.contains('2'), "{dav}");
    assert_eq!(resp.headers()["ms-author-via"], "DAV");
    let resp = d
        .req("PROPFIND", "/Documents/")
        .header("Depth", "infinity")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("propfind-finite-depth"));
    d.gw.shutdown().await;
}

#[tokio::test]
async fn put_get_round_trip_with_md5_etag_and_mtime() {
    let d = start().await;
    let resp = d
        .req("PUT", "/Documents/hello.txt")
        .header("X-OC-Mtime", "1700000000")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(resp.headers()["x-oc-mtime"], "accepted");
    let resp = d.req("GET", "/Documents/hello.txt").send().await.unwrap();
    assert_eq!(
        resp.headers()["etag"],
        "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""
    );
    assert_eq!(resp.text().await.unwrap(), "hello world");
    let resp = d
        .req("GET", "/Documents/hello.txt")
        .header("Range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    assert_eq!(resp.text().await.unwrap(), "world");
    let body = d
        .req("PROPFIND", "/Documents/hello.txt")
        .header("Depth", "0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Tue, 14 Nov 2023 22:13:20 GMT"), "{body}");
    d.gw.shutdown().await;
}

#[tokio::test]
async fn move_over_existing_file_makes_a_new_version() {
    let d = start().await;
    d.req("PUT", "/Documents/doc.txt")
        .body("v1")
        .send()
        .await
        .unwrap();
    d.req("PUT", "/Documents/doc.tmp")
        .body("v2 content")
        .send()
        .await
        .unwrap();
    let resp = d
        .req("MOVE", "/Documents/doc.tmp")
        .header("Destination", format!("{}/Documents/doc.txt", d.base))
        .header("Overwrite", "T")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let got = d
        .req("GET", "/Documents/doc.txt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(got, "v2 content");
    let gone = d.req("GET", "/Documents/doc.tmp").send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // The history survived: the emulator reports two versions for the file.
    let emu = d.gw.emulator().unwrap();
    let token = emu.tokens()[0].token.clone();
    let client = scaidrive_gateway::scaidrive::Client::new(
        &emu.url(),
        scaidrive_gateway::scaidrive::ClientOptions::default(),
    )
    .unwrap();
    let t = scaidrive_gateway::scaidrive::Token::new(token);
    let shares = client.my_shares(&t).await.unwrap();
    let docs = shares.iter().find(|s| s.name == "Documents").unwrap();
    let listing = client.list_children(&t, &docs.id, None).await.unwrap();
    let file = listing
        .items
        .iter()
        .find_map(|i| match i {
            scaidrive_gateway::scaidrive::Item::File(f) if f.name == "doc.txt" && !f.is_deleted => {
                Some(f.id.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(client.list_versions(&t, &file).await.unwrap().len(), 2);
    d.gw.shutdown().await;
}

#[tokio::test]
async fn empty_create_then_content_put_leaves_one_version_and_delete_recreate_works() {
    let d = start().await;
    let r = d
        .req("PUT", "/Documents/new.txt")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = d
        .req("PROPFIND", "/Documents/new.txt")
        .header("Depth", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    d.req("PUT", "/Documents/new.txt")
        .body("content")
        .send()
        .await
        .unwrap();
    let got = d
        .req("GET", "/Documents/new.txt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(got, "content");
    assert_eq!(
        d.req("DELETE", "/Documents/new.txt")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = d
        .req("PUT", "/Documents/new.txt")
        .body("again")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    d.gw.shutdown().await;
}

#[tokio::test]
async fn lock_conflicts_until_unlocked_and_persists_in_state_db() {
    let d = start().await;
    d.req("PUT", "/Documents/l.txt")
        .body("x")
        .send()
        .await
        .unwrap();
    let body = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>t</D:owner></D:lockinfo>"#;
    let r = d
        .req("LOCK", "/Documents/l.txt")
        .header("Timeout", "Second-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.headers()["lock-token"].to_str().unwrap().to_owned();
    let r = d
        .req("PUT", "/Documents/l.txt")
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 423);
    // The lock really expires.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let r = d
        .req("PUT", "/Documents/l.txt")
        .body("y")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = d
        .req("UNLOCK", "/Documents/l.txt")
        .header("Lock-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    d.gw.shutdown().await;
}

#[tokio::test]
async fn locks_survive_a_gateway_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut cfg = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
        cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
        cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
        cfg.embedded.listen = "127.0.0.1:0".parse().unwrap();
        cfg
    };
    let http = Client::new();
    let call = |gw: &GatewayHandle, method: &str, path: &str| {
        let cred = gw.embedded_credential().unwrap().clone();
        http.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://{}{path}", gw.addrs().webdav),
        )
        .basic_auth(cred.access_key_id, Some(cred.secret_access_key))
    };

    let gw = start_gateway(config()).await.unwrap();
    let r = call(&gw, "PUT", "/Documents/held.txt")
        .body("v1")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let body = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>editor</D:owner></D:lockinfo>"#;
    let r = call(&gw, "LOCK", "/Documents/held.txt")
        .header("Timeout", "Second-600")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.headers()["lock-token"].to_str().unwrap().to_owned();
    gw.shutdown().await;

    // A new process on the same data directory still holds the lock.
    let gw = start_gateway(config()).await.unwrap();
    let r = call(&gw, "PUT", "/Documents/held.txt")
        .body("v2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 423, "the lock was lost in the restart");
    let r = call(&gw, "PROPFIND", "/Documents/held.txt")
        .header("Depth", "0")
        .body(r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>"#)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains(token.trim_matches(['<', '>'])), "{text}");
    assert!(text.contains("editor"), "{text}");
    let r = call(&gw, "PUT", "/Documents/held.txt")
        .header("If", format!("({token})"))
        .body("v2")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = call(&gw, "UNLOCK", "/Documents/held.txt")
        .header("Lock-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    gw.shutdown().await;
}

#[tokio::test]
async fn depth_one_propfind_shows_each_entrys_own_locks_and_dead_properties() {
    let d = start().await;
    for name in ["a.txt", "b.txt"] {
        let r = d
            .req("PUT", &format!("/Documents/{name}"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let r = d.req("MKCOL", "/Documents/sub/").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    for (path, color) in [("/Documents/a.txt", "red"), ("/Documents/sub/", "blue")] {
        d.set_color(path, color).await;
    }
    let token = d.lock("/Documents/b.txt").await;
    let token = token.as_str();

    let r = d
        .req("PROPFIND", "/Documents/")
        .header("Depth", "1")
        .body(r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    let text = r.text().await.unwrap();
    let response_of = |href_end: &str| {
        text.split("<D:response>")
            .find(|part| part.contains(&format!("{href_end}</D:href>")))
            .unwrap_or_else(|| panic!("no response for {href_end}: {text}"))
            .to_owned()
    };
    let a = response_of("/Documents/a.txt");
    let b = response_of("/Documents/b.txt");
    let sub = response_of("/Documents/sub/");
    assert!(a.contains(">red<") && !a.contains(token), "{a}");
    assert!(b.contains(token) && !b.contains(">red<"), "{b}");
    assert!(sub.contains(">blue<") && !sub.contains(token), "{sub}");
    d.gw.shutdown().await;
}

/// One `<D:response>` of a multistatus: its href and, per propstat status, the properties as
/// `{namespace}name` → text content (child elements' text concatenated).
#[derive(Debug)]
struct Answered {
    href: String,
    props: Vec<(u16, Vec<(String, String)>)>,
}

impl Answered {
    fn value(&self, status: u16, key: &str) -> Option<&str> {
        self.props
            .iter()
            .filter(|(s, _)| *s == status)
            .flat_map(|(_, p)| p.iter())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn names(&self, status: u16) -> Vec<&str> {
        self.props
            .iter()
            .filter(|(s, _)| *s == status)
            .flat_map(|(_, p)| p.iter().map(|(k, _)| k.as_str()))
            .collect()
    }
}

fn multistatus(xml: &str) -> Vec<Answered> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut out: Vec<Answered> = Vec::new();
    // Element path below <D:response>, as `{ns}name`.
    let mut path: Vec<String> = Vec::new();
    let mut props: Vec<(String, String)> = Vec::new();
    loop {
        let (ns, ev) = reader.read_resolved_event().unwrap();
        let key = |local: &[u8]| {
            let ns = match &ns {
                ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                _ => String::new(),
            };
            format!("{{{ns}}}{}", String::from_utf8_lossy(local))
        };
        match ev {
            Event::Start(e) => {
                let k = key(e.local_name().as_ref());
                if k == "{DAV:}response" {
                    out.push(Answered {
                        href: String::new(),
                        props: Vec::new(),
                    });
                }
                path.push(k.clone());
                if path.len() >= 2 && path[path.len() - 2] == "{DAV:}prop" {
                    props.push((k, String::new()));
                }
            }
            Event::Empty(e) => {
                let k = key(e.local_name().as_ref());
                if path.last().map(String::as_str) == Some("{DAV:}prop") {
                    props.push((k, String::new()));
                }
            }
            Event::Text(t) => {
                let text = t.unescape().unwrap().into_owned();
                match path.last().map(String::as_str) {
                    Some("{DAV:}href") if path.len() == 3 => {
                        out.last_mut().unwrap().href = text;
                    }
                    Some("{DAV:}status") => {
                        let code: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
                        let p = std::mem::take(&mut props);
                        out.last_mut().unwrap().props.push((code, p));
                    }
                    _ if path.iter().any(|p| p == "{DAV:}prop") => {
                        props.last_mut().unwrap().1.push_str(&text);
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn propfind_lists_live_dead_and_lock_properties_of_every_entry() {
    let d = start().await;
    assert_eq!(
        d.req("MKCOL", "/Documents/p/")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    for (path, ct) in [
        ("/Documents/p/a%20b.txt", "text/x-custom"),
        ("/Documents/p/.hidden", "application/octet-stream"),
    ] {
        let r = d
            .req("PUT", path)
            .header("Content-Type", ct)
            .body("abc")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    assert_eq!(
        d.req("MKCOL", "/Documents/p/sub/")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    d.set_color("/Documents/p/a%20b.txt", "red &amp; blue")
        .await;
    let token = d.lock("/Documents/p/sub/").await;
    let etag = d
        .req("HEAD", "/Documents/p/a%20b.txt")
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    // allprop, Depth 1, on the collection named without its slash.
    let r = d
        .req("PROPFIND", "/Documents/p")
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    assert_eq!(r.headers()["content-location"], "/Documents/p/");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let all = multistatus(&r.text().await.unwrap());
    let hrefs: Vec<&str> = all.iter().map(|a| a.href.as_str()).collect();
    assert_eq!(
        hrefs,
        [
            "/Documents/p/",
            "/Documents/p/.hidden",
            "/Documents/p/a%20b.txt",
            "/Documents/p/sub/"
        ]
    );
    let (dir, file, sub) = (&all[0], &all[2], &all[3]);
    assert_eq!(
        dir.value(200, "{DAV:}getcontenttype"),
        Some("httpd/unix-directory")
    );
    assert_eq!(dir.value(200, "{DAV:}lockdiscovery"), Some(""));
    assert_eq!(file.value(200, "{DAV:}getcontentlength"), Some("3"));
    assert_eq!(
        file.value(200, "{DAV:}getcontenttype"),
        Some("text/x-custom")
    );
    assert_eq!(file.value(200, "{DAV:}getetag"), Some(etag.as_str()));
    assert_eq!(file.value(200, "{urn:x-test}color"), Some("red & blue"));
    assert_eq!(
        file.value(200, "{http://owncloud.org/ns}checksums"),
        Some(format!("MD5:{}", etag.trim_matches('"')).as_str())
    );
    assert!(
        file.value(200, "{DAV:}getlastmodified")
            .unwrap()
            .ends_with(" GMT")
    );
    assert!(
        file.value(200, "{DAV:}creationdate")
            .unwrap()
            .ends_with('Z')
    );
    assert!(file.names(200).contains(&"{DAV:}resourcetype"));
    assert!(file.names(200).contains(&"{DAV:}supportedlock"));
    assert!(
        sub.value(200, "{DAV:}lockdiscovery")
            .unwrap()
            .contains(&token)
    );
    assert_eq!(sub.value(200, "{DAV:}getcontentlength"), None);
    assert!(all.iter().all(|a| a.names(404).is_empty()));

    // Named properties: each found one once in the 200 propstat, the others in a 404 propstat.
    let named = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x-test" xmlns:X="urn:x-none"><D:prop><D:getcontentlength/><D:getetag/><Z:color/><D:displayname/><X:nope/><D:getetag/></D:prop></D:propfind>"#;
    let r = d
        .req("PROPFIND", "/Documents/p/")
        .header("Depth", "1")
        .body(named)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    let all = multistatus(&r.text().await.unwrap());
    let file = all
        .iter()
        .find(|a| a.href == "/Documents/p/a%20b.txt")
        .unwrap();
    assert_eq!(
        file.names(200),
        [
            "{DAV:}getcontentlength",
            "{DAV:}getetag",
            "{urn:x-test}color"
        ]
    );
    assert_eq!(file.names(404), ["{DAV:}displayname", "{urn:x-none}nope"]);
    let sub = all.iter().find(|a| a.href == "/Documents/p/sub/").unwrap();
    assert_eq!(sub.names(200), ["{DAV:}getetag"]);
    assert_eq!(
        sub.names(404),
        [
            "{DAV:}getcontentlength",
            "{urn:x-test}color",
            "{DAV:}displayname",
            "{urn:x-none}nope"
        ]
    );

    // Depth 0 of a file, as Windows asks: its Win32 attributes (hidden, archive).
    let r = d
        .req("PROPFIND", "/Documents/p/.hidden")
        .header("Depth", "0")
        .header("User-Agent", "Microsoft-WebDAV-MiniRedir/10.0.19045")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    let all = multistatus(&r.text().await.unwrap());
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].value(200, "{urn:schemas-microsoft-com:}Win32FileAttributes"),
        Some("00000022")
    );

    // propname and a missing resource are still dav-server's to answer.
    let r = d
        .req("PROPFIND", "/Documents/p/")
        .header("Depth", "0")
        .body(r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 207);
    assert!(r.text().await.unwrap().contains("getetag"));
    let r = d
        .req("PROPFIND", "/Documents/p/missing.txt")
        .header("Depth", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = d
        .req("PROPFIND", "/Documents/p/")
        .header("Depth", "1")
        .body("<propfind")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    d.gw.shutdown().await;
}
