//! A ScaiDrive behind TLS with a certificate from a private CA: the client reaches it only when
//! `ca_file` (config `upstream.ca_file`) names that CA, and refuses it otherwise. The TLS end is
//! a real rustls listener in front of the real emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod emulator_support;

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use scaidrive_gateway::scaidrive::{Client, ClientOptions, Token};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Terminates TLS on a port of its own and forwards every connection to `upstream`.
async fn tls_front(upstream: std::net::SocketAddr, cert: &rcgen::CertifiedKey) -> u16 {
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to forward.
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut plain = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn a_scaidrive_behind_a_private_ca_is_reached_only_with_its_ca_file() {
    let emu = emulator_support::start().await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let port = tls_front(emu.emu.addr(), &cert).await;
    let url = format!("https://localhost:{port}");
    let token = Token::new(emu.token.clone());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();

    // With the CA file: the same user the emulator answers in plain HTTP.
    let opts = ClientOptions {
        ca_file: Some(ca.clone()),
        max_retries: 0,
        ..ClientOptions::default()
    };
    let me = Client::new(&url, opts).unwrap().me(&token).await.unwrap();
    let plain = Client::new(&emu.emu.url(), ClientOptions::default())
        .unwrap()
        .me(&token)
        .await
        .unwrap();
    assert_eq!(me.id, plain.id);

    // Without it: the certificate is not trusted and the call fails.
    let opts = ClientOptions {
        max_retries: 0,
        ..ClientOptions::default()
    };
    let err = Client::new(&url, opts)
        .unwrap()
        .me(&token)
        .await
        .unwrap_err();
    let chain = format!("{err:?}");
    assert!(
        chain.to_ascii_lowercase().contains("certificate"),
        "expected a certificate error, got {chain}"
    );
    // The message itself says so in words, with the URL.
    let message = err.to_string();
    assert!(
        message.contains("connect failed: TLS certificate not trusted"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{url}/api/v1/users/me")),
        "{message}"
    );

    // A file that holds no certificate is refused when the client is made, not at first use.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let opts = ClientOptions {
        ca_file: Some(junk),
        ..ClientOptions::default()
    };
    let Err(err) = Client::new(&url, opts) else {
        panic!("a CA file without certificates was accepted");
    };
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    let opts = ClientOptions {
        ca_file: Some(dir.path().join("missing.pem")),
        ..ClientOptions::default()
    };
    let Err(err) = Client::new(&url, opts) else {
        panic!("a missing CA file was accepted");
    };
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
