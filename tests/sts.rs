//! Temporary credentials (STS on the S3 listener) and self-service keys, over HTTP against a
//! gateway in front of a separately started emulator with two users (an owner and a reader of
//! one share): the credentials act with the user's rights and no more, need their session
//! token, expire, and stop at once when the ScaiDrive token is revoked; each user sees and
//! revokes only their own keys.

#![allow(clippy::unwrap_used)]

mod emulator_support;
mod s3_support;

use s3_support::{S3, client, xml_value};
use scaidrive_gateway::config::{Config, StaticCredential};

const KEYS: &str = "/.well-known/scaidrive-gateway/keys";

struct Temp {
    key: String,
    secret: String,
    token: String,
}

async fn start() -> (emulator_support::Emu, S3, tempfile::TempDir) {
    let emu = emulator_support::start_with(|_| {}, Some(emulator_support::ROLES_SEED)).await;
    let gw_dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: gw_dir.path().to_owned(),
        ..Config::default()
    };
    cfg.scaidrive.url = Some(emu.emu.url());
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.sts.min_session_secs = 1;
    cfg.credentials = vec![StaticCredential {
        access_key_id: "AKIAOWNER".to_owned(),
        secret_access_key: "AKIAOWNER-secret".to_owned(),
        token: "owner-token".to_owned(),
    }];
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    (
        emu,
        client(gateway, "AKIAOWNER", "AKIAOWNER-secret"),
        gw_dir,
    )
}

/// `AssumeRoleWithWebIdentity` with a ScaiDrive token: (status, body).
async fn web_identity(s3: &S3, token: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut form = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::scaidrive:role/user"),
        ("RoleSessionName", "test"),
        ("WebIdentityToken", token),
    ];
    form.extend_from_slice(extra);
    let resp = reqwest::Client::new()
        .post(format!("{}/", s3.endpoint))
        .form(&form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn temp_of(body: &str) -> Temp {
    Temp {
        key: xml_value(body, "AccessKeyId").unwrap(),
        secret: xml_value(body, "SecretAccessKey").unwrap(),
        token: xml_value(body, "SessionToken").unwrap(),
    }
}

async fn call_temp(
    s3: &S3,
    t: &Temp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> s3_support::Resp {
    let headers: Vec<(&str, &str)> = token
        .map(|tok| vec![("x-amz-security-token", tok)])
        .unwrap_or_default();
    s3.call_as(
        &t.key,
        &t.secret,
        method,
        path,
        &[],
        &headers,
        body.to_vec(),
    )
    .await
}

fn code(r: &s3_support::Resp) -> String {
    xml_value(&r.text(), "Code").unwrap_or_default()
}

#[tokio::test]
async fn temporary_credentials_act_as_their_user_need_their_token_and_end() {
    let (emu, s3, _dir) = start().await;

    // The owner's token becomes temporary credentials that write and read.
    let (status, body) = web_identity(&s3, "owner-token", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        xml_value(&body, "SubjectFromWebIdentityToken").as_deref(),
        Some("usr_01OWNER")
    );
    let owner = temp_of(&body);
    assert!(owner.key.starts_with("ASIA"), "{}", owner.key);
    let r = call_temp(
        &s3,
        &owner,
        Some(&owner.token),
        "PUT",
        "/team/sts.txt",
        b"via sts",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = call_temp(&s3, &owner, Some(&owner.token), "GET", "/team/sts.txt", b"").await;
    assert_eq!(r.body, b"via sts");

    // The session token is verified, not just present.
    let r = call_temp(&s3, &owner, None, "GET", "/team/sts.txt", b"").await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidToken"),
        "{}",
        r.text()
    );
    let r = call_temp(
        &s3,
        &owner,
        Some("not-the-token"),
        "GET",
        "/team/sts.txt",
        b"",
    )
    .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "InvalidToken"),
        "{}",
        r.text()
    );
    // A long-lived key with a session token is refused too.
    let r = s3
        .call(
            "GET",
            "/",
            &[],
            &[("x-amz-security-token", "x")],
            Vec::new(),
        )
        .await;
    assert_eq!(code(&r), "InvalidToken", "{}", r.text());

    // Nothing widened: the reader's temporary credentials read but cannot write.
    let (status, body) = web_identity(&s3, "reader-token", &[]).await;
    assert_eq!(status, 200, "{body}");
    let reader = temp_of(&body);
    let r = call_temp(
        &s3,
        &reader,
        Some(&reader.token),
        "GET",
        "/team/sts.txt",
        b"",
    )
    .await;
    assert_eq!(r.body, b"via sts");
    let r = call_temp(
        &s3,
        &reader,
        Some(&reader.token),
        "PUT",
        "/team/r.txt",
        b"no",
    )
    .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    let r = call_temp(
        &s3,
        &reader,
        Some(&reader.token),
        "DELETE",
        "/team/sts.txt",
        b"",
    )
    .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );

    // A session of one second is refused with ExpiredToken once it is over.
    let (status, body) = web_identity(&s3, "owner-token", &[("DurationSeconds", "1")]).await;
    assert_eq!(status, 200, "{body}");
    let short = temp_of(&body);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = call_temp(&s3, &short, Some(&short.token), "GET", "/team/sts.txt", b"").await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "ExpiredToken"),
        "{}",
        r.text()
    );

    // Out-of-range durations, bad tokens and unknown actions are STS errors.
    let (status, body) = web_identity(&s3, "owner-token", &[("DurationSeconds", "999999")]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(xml_value(&body, "Code").as_deref(), Some("ValidationError"));
    let (status, body) = web_identity(&s3, "no-such-token", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        xml_value(&body, "Code").as_deref(),
        Some("InvalidIdentityToken")
    );

    // Revoking the ScaiDrive token stops its temporary credentials at once, even for a
    // listing the gateway has cached.
    let r = call_temp(
        &s3,
        &reader,
        Some(&reader.token),
        "GET",
        "/team/sts.txt",
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    let db = rusqlite::Connection::open(emu.data_dir().join("scaidrive.db")).unwrap();
    db.execute("DELETE FROM tokens WHERE token = 'reader-token'", [])
        .unwrap();
    tokio::time::sleep(scaidrive_gateway::auth::LIVE_CHECK).await;
    let r = call_temp(&s3, &reader, Some(&reader.token), "GET", "/team", b"").await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn assume_role_and_caller_identity_are_signed_with_a_key() {
    let (emu, s3, _dir) = start().await;
    // A stored long-lived key an operator named `ASIA…` is still found.
    let stored = s3
        .gateway
        .state_db()
        .create_credential(scaidrive_gateway::state::NewCredential {
            access_key_id: Some("ASIACHOSENBYOPERATOR".to_owned()),
            secret_access_key: Some("chosen-secret".to_owned()),
            token: "owner-token".to_owned(),
            label: None,
            user_id: "usr_01OWNER".to_owned(),
        })
        .await
        .unwrap();
    let r = s3
        .call_as(
            &stored.access_key_id,
            "chosen-secret",
            "GET",
            "/",
            &[],
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let form = "Action=AssumeRole&Version=2011-06-15&RoleArn=example&RoleSessionName=ci&DurationSeconds=900";
    let ctype = [("content-type", "application/x-www-form-urlencoded")];
    let r = s3.call("POST", "/", &[], &ctype, form.into()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let temp = temp_of(&r.text());
    let expiration = xml_value(&r.text(), "Expiration").unwrap();
    let expiration = chrono::DateTime::parse_from_rfc3339(&expiration).unwrap();
    let left = expiration
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((890..=900).contains(&left), "{left}");

    let who = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut headers = ctype.to_vec();
    headers.push(("x-amz-security-token", &temp.token));
    let r = s3
        .call_as(
            &temp.key,
            &temp.secret,
            "POST",
            "/",
            &[],
            &headers,
            who.into(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        xml_value(&r.text(), "Arn").as_deref(),
        Some("arn:aws:sts::scaidrive:assumed-role/user/ci")
    );
    let r = s3.call("POST", "/", &[], &ctype, who.into()).await;
    assert_eq!(
        xml_value(&r.text(), "Arn").as_deref(),
        Some("arn:aws:iam::scaidrive:user/usr_01OWNER"),
        "{}",
        r.text()
    );
    // Unsigned AssumeRole is refused.
    let resp = reqwest::Client::new()
        .post(format!("{}/", s3.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn users_create_list_and_revoke_only_their_own_keys() {
    let (emu, s3, _dir) = start().await;
    let http = reqwest::Client::new();
    let webdav = format!("http://{}", s3.gateway.addrs().webdav);
    let url = |base: &str| format!("{base}{KEYS}");

    // Without a token: 401.
    let r = http.get(url(&webdav)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // The owner makes a key on the S3 listener; the secret is in that answer only.
    let r = http
        .post(url(&s3.endpoint))
        .bearer_auth("owner-token")
        .json(&serde_json::json!({"label": "backup job"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let made: serde_json::Value = r.json().await.unwrap();
    let key = made["access_key_id"].as_str().unwrap().to_owned();
    let secret = made["secret_access_key"].as_str().unwrap().to_owned();
    assert_eq!(made["label"], "backup job");

    // The key works, and its use is recorded.
    let r = s3
        .call_as(&key, &secret, "GET", "/", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // The owner lists it on the WebDAV listener (Basic, the token as password).
    let r = http
        .get(url(&webdav))
        .basic_auth("owner", Some("owner-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&secret), "{text}");
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed}");
    assert_eq!(keys[0]["access_key_id"], key.as_str());
    assert!(keys[0]["last_used"].is_string(), "{listed}");

    // The reader sees none of it and cannot revoke it.
    let r = http
        .get(url(&webdav))
        .bearer_auth("reader-token")
        .send()
        .await
        .unwrap();
    let listed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 0, "{listed}");
    let r = http
        .delete(format!("{}/{key}", url(&webdav)))
        .bearer_auth("reader-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // A write from another site is refused.
    let r = http
        .delete(format!("{}/{key}", url(&webdav)))
        .bearer_auth("owner-token")
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The owner revokes it; it stops working.
    let r = http
        .delete(format!("{}/{key}", url(&webdav)))
        .bearer_auth("owner-token")
        .header("origin", webdav.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = s3
        .call_as(&key, &secret, "GET", "/", &[], &[], Vec::new())
        .await;
    assert_eq!(code(&r), "InvalidAccessKeyId", "{}", r.text());

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

/// The browser page logs in to WebDAV with an access key id and its secret, and its "My S3
/// keys" section sends the same Basic credentials to the keys endpoint.
#[tokio::test]
async fn the_page_login_with_a_key_pair_lists_makes_and_revokes_keys() {
    let (emu, s3, _dir) = start().await;
    let http = reqwest::Client::new();
    let webdav = format!("http://{}", s3.gateway.addrs().webdav);
    let url = format!("{webdav}{KEYS}");
    let basic =
        |req: reqwest::RequestBuilder| req.basic_auth("AKIAOWNER", Some("AKIAOWNER-secret"));

    let r = basic(http.get(&url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());

    // Made from the page (its own origin): acts as the owner, like the pair it was made with.
    let r = basic(http.post(&url))
        .header("origin", webdav.as_str())
        .json(&serde_json::json!({"label": "laptop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let made: serde_json::Value = r.json().await.unwrap();
    let key = made["access_key_id"].as_str().unwrap().to_owned();
    let secret = made["secret_access_key"].as_str().unwrap().to_owned();
    let r = s3
        .call_as(&key, &secret, "GET", "/", &[], &[], Vec::new())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let r = basic(http.get(&url)).send().await.unwrap();
    let listed: serde_json::Value = r.json().await.unwrap();
    let ids: Vec<_> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [key.as_str()], "{listed}");

    // A wrong secret is refused; so is a new key from temporary credentials.
    let r = http
        .get(&url)
        .basic_auth("AKIAOWNER", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (status, body) = web_identity(&s3, "owner-token", &[]).await;
    assert_eq!(status, 200, "{body}");
    let t = temp_of(&body);
    let r = http
        .post(&url)
        .basic_auth(&t.key, Some(&t.secret))
        .header("x-amz-security-token", &t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        r.text().await.unwrap().contains("temporary credentials"),
        "the refusal says why"
    );

    let r = basic(http.delete(format!("{url}/{key}")))
        .header("origin", webdav.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = s3
        .call_as(&key, &secret, "GET", "/", &[], &[], Vec::new())
        .await;
    assert_eq!(code(&r), "InvalidAccessKeyId", "{}", r.text());

    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn webdav_takes_temporary_credentials_with_their_session_token() {
    let (emu, s3, _dir) = start().await;
    let (status, body) = web_identity(&s3, "owner-token", &[]).await;
    assert_eq!(status, 200, "{body}");
    let t = temp_of(&body);
    let url = format!("http://{}/Team/", s3.gateway.addrs().webdav);
    let http = reqwest::Client::new();
    let propfind = |token: Option<&str>| {
        let mut req = http
            .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), &url)
            .header("depth", "0")
            .basic_auth(&t.key, Some(&t.secret));
        if let Some(token) = token {
            req = req.header("x-amz-security-token", token);
        }
        req.send()
    };
    assert_eq!(
        propfind(Some(&t.token)).await.unwrap().status().as_u16(),
        207
    );
    assert_eq!(propfind(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(
        propfind(Some("wrong")).await.unwrap().status().as_u16(),
        401
    );
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn with_sts_turned_off_no_credentials_are_issued() {
    let emu = emulator_support::start_with(|_| {}, Some(emulator_support::ROLES_SEED)).await;
    let gw_dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: gw_dir.path().to_owned(),
        ..Config::default()
    };
    cfg.scaidrive.url = Some(emu.emu.url());
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    cfg.sts.enabled = false;
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let s3 = client(gateway, "AKIAOWNER", "AKIAOWNER-secret");
    let (status, body) = web_identity(&s3, "owner-token", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(xml_value(&body, "Code").as_deref(), Some("AccessDenied"));
    assert!(body.contains("sts.enabled"), "{body}");
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}

#[tokio::test]
async fn a_session_never_outlives_the_scaidrive_tokens_exp() {
    use base64::Engine as _;
    let exp = chrono::Utc::now().timestamp() + 120;
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = format!(
        "{}.{}.signature",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#.to_owned()),
        b64(format!(r#"{{"sub":"usr_01JWT","exp":{exp}}}"#))
    );
    let seed = format!(
        "[tenant]\nname = \"Jwt\"\n\n[[users]]\nid = \"usr_01JWT\"\nemail = \"jwt@example.com\"\n\n\
         [[tokens]]\ntoken = \"{jwt}\"\nuser = \"usr_01JWT\"\n"
    );
    let emu = emulator_support::start_with(|_| {}, Some(&seed)).await;
    let gw_dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: gw_dir.path().to_owned(),
        ..Config::default()
    };
    cfg.scaidrive.url = Some(emu.emu.url());
    cfg.s3.listen = "127.0.0.1:0".parse().unwrap();
    cfg.webdav.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin.listen = "127.0.0.1:0".parse().unwrap();
    let gateway = scaidrive_gateway::server::start_gateway(cfg).await.unwrap();
    let s3 = client(gateway, "-", "-");
    // An hour is asked for; the token has two minutes left.
    let (status, body) = web_identity(&s3, &jwt, &[("DurationSeconds", "3600")]).await;
    assert_eq!(status, 200, "{body}");
    let expiration = xml_value(&body, "Expiration").unwrap();
    let expiration = chrono::DateTime::parse_from_rfc3339(&expiration).unwrap();
    assert_eq!(expiration.timestamp(), exp, "{body}");
    s3.gateway.shutdown().await;
    emu.emu.shutdown().await;
}
