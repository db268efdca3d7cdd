//! Precedence, parsing and checks of the whole configuration.

#![allow(clippy::unwrap_used)]

use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

#[test]
fn defaults_are_valid() {
    for addr in [
        DEFAULT_S3_LISTEN,
        DEFAULT_WEBDAV_LISTEN,
        DEFAULT_ADMIN_LISTEN,
        DEFAULT_EMBEDDED_LISTEN,
    ] {
        addr.parse::<SocketAddr>().unwrap();
    }
    let cfg = Config::load(&ConfigFlags::default(), env_of(&[])).unwrap();
    assert_eq!(cfg, Config::default());
    assert_eq!(cfg.s3.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(cfg.webdav.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.admin.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(cfg.embedded.listen.to_string(), "127.0.0.1:0");
    assert_eq!(cfg.data_dir, PathBuf::from("./scaidrive-data"));
    assert_eq!(cfg.s3.region, "us-east-1");
    assert_eq!(cfg.s3.bucket_mode, BucketMode::Share);
    assert_eq!(cfg.log.format, LogFormat::Human);
    assert!(cfg.scaidrive.url.is_none());
    assert_eq!(
        cfg.state_db_path(),
        PathBuf::from("./scaidrive-data/gateway.db")
    );
    assert_eq!(
        cfg.emulator_data_dir(),
        PathBuf::from("./scaidrive-data/emulator")
    );
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let file = write_config(
        r#"
        data_dir = "/from/file"
        [scaidrive]
        url = "http://file.example"
        [s3]
        listen = "127.0.0.1:1001"
        region = "file-region"
        [webdav]
        listen = "127.0.0.1:2001"
        [log]
        level = "debug"
        "#,
    );
    let flags = ConfigFlags {
        config: Some(file.path().to_owned()),
        s3_listen: Some("127.0.0.1:1003".parse().unwrap()),
        ..ConfigFlags::default()
    };
    let env = env_of(&[
        (ENV_S3_LISTEN, "127.0.0.1:1002"),
        (ENV_S3_REGION, "env-region"),
        (ENV_SCAIDRIVE_URL, "http://env.example"),
    ]);
    let cfg = Config::load(&flags, env).unwrap();
    // flag > env
    assert_eq!(cfg.s3.listen.to_string(), "127.0.0.1:1003");
    // env > file
    assert_eq!(cfg.s3.region, "env-region");
    assert_eq!(cfg.scaidrive.url.as_deref(), Some("http://env.example"));
    // file > default
    assert_eq!(cfg.webdav.listen.to_string(), "127.0.0.1:2001");
    assert_eq!(cfg.data_dir, PathBuf::from("/from/file"));
    assert_eq!(cfg.log.level, "debug");
    // default
    assert_eq!(cfg.admin.listen.to_string(), DEFAULT_ADMIN_LISTEN);
}

#[test]
fn config_file_can_come_from_env_and_flag_wins_over_it() {
    let from_env = write_config("data_dir = \"/env-file\"\n");
    let from_flag = write_config("data_dir = \"/flag-file\"\n");
    let env = env_of(&[(ENV_CONFIG, from_env.path().to_str().unwrap())]);
    let cfg = Config::load(&ConfigFlags::default(), &env).unwrap();
    assert_eq!(cfg.data_dir, PathBuf::from("/env-file"));
    let flags = ConfigFlags {
        config: Some(from_flag.path().to_owned()),
        ..ConfigFlags::default()
    };
    let cfg = Config::load(&flags, &env).unwrap();
    assert_eq!(cfg.data_dir, PathBuf::from("/flag-file"));
}

#[test]
fn multipart_max_age_from_file_env_and_flag() {
    assert_eq!(Config::default().s3.multipart_max_age_secs, 86_400);
    let file = write_config("[s3]\nmultipart_max_age_secs = 600\n");
    let from_file = ConfigFlags {
        config: Some(file.path().to_owned()),
        ..ConfigFlags::default()
    };
    let cfg = Config::load(&from_file, env_of(&[])).unwrap();
    assert_eq!(cfg.s3.multipart_max_age_secs, 600);
    let env = [(ENV_S3_MULTIPART_MAX_AGE_SECS, "60")];
    let cfg = Config::load(&from_file, env_of(&env)).unwrap();
    assert_eq!(cfg.s3.multipart_max_age_secs, 60);
    let flags = ConfigFlags {
        s3_multipart_max_age_secs: Some(5),
        ..from_file
    };
    let cfg = Config::load(&flags, env_of(&env)).unwrap();
    assert_eq!(cfg.s3.multipart_max_age_secs, 5);
    let err = Config::load(
        &ConfigFlags::default(),
        env_of(&[(ENV_S3_MULTIPART_MAX_AGE_SECS, "a day")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("s3.multipart_max_age_secs"), "{err}");
    let err = Config::from_toml("[s3]\nmultipart_max_age_secs = 0\n").unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn cache_and_upstream_from_file_env_and_flag() {
    let cfg = Config::default();
    assert!(cfg.cache.enabled);
    assert_eq!(cfg.cache.ttl_secs, 5);
    assert_eq!(cfg.cache.change_feed_interval_ms, 2000);
    assert_eq!(
        cfg.upstream.session_threshold_bytes,
        crate::scaidrive::SINGLE_POST_LIMIT
    );
    let file = write_config(
        "[cache]\nenabled = false\nttl_secs = 30\nchange_feed_interval_ms = 0\n\
         [upstream]\nchunk_size_bytes = 1048576\nparallel_chunks = 5\nmax_retries = 7\n\
         chunk_memory_bytes = 2097152\nca_file = \"/file/ca.pem\"\n",
    );
    let from_file = ConfigFlags {
        config: Some(file.path().to_owned()),
        ..ConfigFlags::default()
    };
    let cfg = Config::load(&from_file, env_of(&[])).unwrap();
    assert!(!cfg.cache.enabled);
    assert_eq!(cfg.cache.ttl_secs, 30);
    assert_eq!(cfg.cache.change_feed_interval_ms, 0);
    assert_eq!(cfg.upstream.chunk_size_bytes, 1 << 20);
    assert_eq!(cfg.upstream.parallel_chunks, 5);
    assert_eq!(cfg.upstream.chunk_memory_bytes, 2 << 20);
    assert_eq!(cfg.client_options().max_retries, 7);
    assert_eq!(
        cfg.client_options().ca_file.as_deref(),
        Some(Path::new("/file/ca.pem"))
    );
    let env = [
        (ENV_CACHE_ENABLED, "true"),
        (ENV_CACHE_TTL_SECS, "9"),
        (ENV_UPSTREAM_PERMANENT_DELETE, "true"),
        (ENV_UPSTREAM_CA_FILE, "/env/ca.pem"),
        (ENV_UPSTREAM_CHUNK_MEMORY_BYTES, "8388608"),
    ];
    let cfg = Config::load(&from_file, env_of(&env)).unwrap();
    assert_eq!(
        cfg.upstream.ca_file.as_deref(),
        Some(Path::new("/env/ca.pem"))
    );
    assert!(cfg.cache.enabled);
    assert_eq!(cfg.cache.ttl_secs, 9);
    assert!(cfg.upstream.permanent_delete);
    assert_eq!(cfg.upstream.chunk_memory_bytes, 8 << 20);
    let flags = ConfigFlags {
        cache_enabled: Some(false),
        cache_ttl_secs: Some(3),
        upstream_parallel_chunks: Some(2),
        upstream_chunk_memory_bytes: Some(4 << 20),
        upstream_ca_file: Some(PathBuf::from("/flag/ca.pem")),
        ..from_file
    };
    let cfg = Config::load(&flags, env_of(&env)).unwrap();
    assert_eq!(
        cfg.upstream.ca_file.as_deref(),
        Some(Path::new("/flag/ca.pem"))
    );
    assert!(!cfg.cache.enabled);
    assert_eq!(cfg.cache.ttl_secs, 3);
    assert_eq!(cfg.upstream.parallel_chunks, 2);
    assert_eq!(cfg.upstream.chunk_memory_bytes, 4 << 20);
    // Less than one chunk could never send one.
    let err = Config::from_toml("[upstream]\nchunk_memory_bytes = 65536\n").unwrap_err();
    assert!(
        err.to_string().contains("upstream.chunk_memory_bytes"),
        "{err}"
    );
    let err = Config::load(
        &ConfigFlags::default(),
        env_of(&[(ENV_CACHE_ENABLED, "maybe")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cache.enabled"), "{err}");
    let err = Config::from_toml("[upstream]\nchunk_size_bytes = 1000\n").unwrap_err();
    assert!(err.to_string().contains("power of two"), "{err}");
    let err = Config::from_toml("[cache]\nttl_secs = 0\n").unwrap_err();
    assert!(err.to_string().contains("ttl_secs"), "{err}");
    let err = Config::from_toml("[cache]\nttl = 3\n").unwrap_err();
    assert!(err.to_string().contains("ttl"), "{err}");
}

#[test]
fn flag_url_beats_env_url() {
    let flags = ConfigFlags {
        scaidrive_url: Some("http://flag.example".to_owned()),
        ..ConfigFlags::default()
    };
    let cfg = Config::load(&flags, env_of(&[(ENV_SCAIDRIVE_URL, "http://env.example")])).unwrap();
    assert_eq!(cfg.scaidrive.url.as_deref(), Some("http://flag.example"));
}

#[test]
fn embedded_seed_flag_beats_env() {
    let flags = ConfigFlags {
        embedded_seed: Some(PathBuf::from("flag.toml")),
        ..ConfigFlags::default()
    };
    let env = env_of(&[(ENV_EMBEDDED_SEED, "env.toml")]);
    let cfg = Config::load(&flags, &env).unwrap();
    assert_eq!(cfg.embedded.seed.as_deref(), Some(Path::new("flag.toml")));
    let cfg = Config::load(&ConfigFlags::default(), &env).unwrap();
    assert_eq!(cfg.embedded.seed.as_deref(), Some(Path::new("env.toml")));
    assert!(Config::default().embedded.seed.is_none());
}

#[test]
fn empty_env_url_means_embedded() {
    let cfg = Config::load(&ConfigFlags::default(), env_of(&[(ENV_SCAIDRIVE_URL, "")])).unwrap();
    assert!(cfg.scaidrive.url.is_none());
}

#[test]
fn full_file_parses() {
    let cfg = Config::from_toml(
        r#"
        data_dir = "/var/lib/scaidrive-gateway"
        [scaidrive]
        url = "https://drive.example.com"
        token = "tok-file"
        [s3]
        listen = "0.0.0.0:9000"
        region = "eu-west-1"
        bucket_mode = "folders"
        folders_share = "Backups"
        domain = "s3.example.com"
        [webdav]
        listen = "0.0.0.0:8080"
        [admin]
        listen = "0.0.0.0:9090"
        [embedded]
        listen = "127.0.0.1:8000"
        seed = "/etc/scaidrive-gateway/seed.toml"
        [[credentials]]
        access_key_id = "AKIAFILE"
        secret_access_key = "secret-file"
        token = "tok-file"
        [log]
        format = "json"
        level = "warn"
        "#,
    )
    .unwrap();
    assert_eq!(cfg.s3.bucket_mode, BucketMode::Folders);
    assert_eq!(cfg.s3.folders_share.as_deref(), Some("Backups"));
    assert_eq!(cfg.s3.domain.as_deref(), Some("s3.example.com"));
    assert_eq!(cfg.embedded.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(
        cfg.embedded.seed.as_deref(),
        Some(Path::new("/etc/scaidrive-gateway/seed.toml"))
    );
    assert_eq!(cfg.credentials.len(), 1);
    assert_eq!(cfg.log.format, LogFormat::Json);
}

#[test]
fn tls_limits_and_shutdown_from_file_env_and_flag() {
    let cfg = Config::default();
    assert!(cfg.tls.files().is_none());
    assert_eq!(cfg.limits.max_header_bytes, 65_536);
    assert_eq!(cfg.limits.header_read_timeout_secs, 30);
    assert_eq!(cfg.limits.idle_timeout_secs, 300);
    assert_eq!(cfg.limits.max_connections, 1024);
    assert_eq!(cfg.limits.max_object_size, None);
    assert_eq!(cfg.limits.body_read_timeout_secs, 20);
    assert_eq!(cfg.shutdown.grace_secs, 30);
    let file = write_config(
        r#"
        [tls]
        cert = "/file/cert.pem"
        key = "/file/key.pem"
        [limits]
        max_header_bytes = 16384
        header_read_timeout_secs = 7
        idle_timeout_secs = 0
        max_connections = 5
        max_object_size = 1000
        body_read_timeout_secs = 11
        [shutdown]
        grace_secs = 3
        "#,
    );
    let from_file = ConfigFlags {
        config: Some(file.path().to_owned()),
        ..ConfigFlags::default()
    };
    let cfg = Config::load(&from_file, env_of(&[])).unwrap();
    assert_eq!(
        cfg.tls.files(),
        Some((Path::new("/file/cert.pem"), Path::new("/file/key.pem")))
    );
    assert_eq!(cfg.limits.max_header_bytes, 16_384);
    assert_eq!(cfg.limits.header_read_timeout_secs, 7);
    assert_eq!(cfg.limits.idle_timeout_secs, 0);
    assert_eq!(cfg.limits.max_connections, 5);
    assert_eq!(cfg.limits.max_object_size, Some(1000));
    assert_eq!(cfg.limits.body_read_timeout_secs, 11);
    assert_eq!(cfg.shutdown.grace_secs, 3);
    let env = [
        (ENV_TLS_CERT, "/env/cert.pem"),
        (ENV_MAX_CONNECTIONS, "6"),
        (ENV_MAX_OBJECT_SIZE, "2000"),
        (ENV_SHUTDOWN_GRACE_SECS, "4"),
        (ENV_BODY_READ_TIMEOUT_SECS, "12"),
    ];
    let cfg = Config::load(&from_file, env_of(&env)).unwrap();
    assert_eq!(cfg.tls.cert.as_deref(), Some(Path::new("/env/cert.pem")));
    assert_eq!(cfg.limits.max_connections, 6);
    assert_eq!(cfg.limits.max_object_size, Some(2000));
    assert_eq!(cfg.limits.body_read_timeout_secs, 12);
    assert_eq!(cfg.shutdown.grace_secs, 4);
    let flags = ConfigFlags {
        tls_key: Some(PathBuf::from("/flag/key.pem")),
        max_connections: Some(7),
        shutdown_grace_secs: Some(5),
        idle_timeout_secs: Some(9),
        body_read_timeout_secs: Some(13),
        ..from_file
    };
    let cfg = Config::load(&flags, env_of(&env)).unwrap();
    assert_eq!(cfg.tls.key.as_deref(), Some(Path::new("/flag/key.pem")));
    assert_eq!(cfg.limits.max_connections, 7);
    assert_eq!(cfg.limits.idle_timeout_secs, 9);
    assert_eq!(cfg.limits.body_read_timeout_secs, 13);
    assert_eq!(cfg.shutdown.grace_secs, 5);
}

#[test]
fn tls_and_limits_are_checked() {
    let err = Config::from_toml("[tls]\ncert = \"/c.pem\"\n").unwrap_err();
    assert!(err.to_string().contains("tls.key"), "{err}");
    let err = Config::from_toml("[limits]\nmax_header_bytes = 100\n").unwrap_err();
    assert!(err.to_string().contains("8192"), "{err}");
    let err = Config::from_toml("[limits]\nmax_connections = 0\n").unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
    let err = Config::load(
        &ConfigFlags::default(),
        env_of(&[(ENV_MAX_OBJECT_SIZE, "5 GB")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains(ENV_MAX_OBJECT_SIZE), "{err}");
}

#[test]
fn unknown_key_is_an_error() {
    let err = Config::from_toml("[s3]\nlisten_addr = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("listen_addr"), "{err}");
}

#[test]
fn bad_env_value_names_the_variable() {
    let err = Config::load(
        &ConfigFlags::default(),
        env_of(&[(ENV_S3_BUCKET_MODE, "buckets")]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(ENV_S3_BUCKET_MODE) && msg.contains("s3.bucket_mode"),
        "{msg}"
    );
}

#[test]
fn folders_mode_needs_a_share() {
    let err = Config::from_toml("[s3]\nbucket_mode = \"folders\"\n").unwrap_err();
    assert!(err.to_string().contains("folders_share"), "{err}");
}

#[test]
fn static_credential_from_env_uses_scaidrive_token() {
    let cfg = Config::load(
        &ConfigFlags::default(),
        env_of(&[
            (ENV_ACCESS_KEY_ID, "AKIAENV"),
            (ENV_SECRET_ACCESS_KEY, "env-secret"),
            (ENV_SCAIDRIVE_TOKEN, "env-token"),
        ]),
    )
    .unwrap();
    assert_eq!(
        cfg.credentials,
        vec![StaticCredential {
            access_key_id: "AKIAENV".to_owned(),
            secret_access_key: "env-secret".to_owned(),
            token: "env-token".to_owned(),
        }]
    );
}

#[test]
fn static_credential_from_env_without_token_is_an_error() {
    let err = Config::load(
        &ConfigFlags::default(),
        env_of(&[
            (ENV_ACCESS_KEY_ID, "AKIAENV"),
            (ENV_SECRET_ACCESS_KEY, "env-secret"),
        ]),
    )
    .unwrap_err();
    assert!(err.to_string().contains(ENV_SCAIDRIVE_TOKEN), "{err}");
}

#[test]
fn debug_hides_secrets_and_tokens() {
    let cfg = Config::load(
        &ConfigFlags::default(),
        env_of(&[
            (ENV_ACCESS_KEY_ID, "AKIAENV"),
            (ENV_SECRET_ACCESS_KEY, "super-secret-value"),
            (ENV_SCAIDRIVE_TOKEN, "super-token-value"),
        ]),
    )
    .unwrap();
    let shown = format!("{cfg:?}");
    assert!(shown.contains("AKIAENV"), "{shown}");
    assert!(!shown.contains("super-secret-value"), "{shown}");
    assert!(!shown.contains("super-token-value"), "{shown}");
}

#[test]
fn multipart_streaming_keys_from_file() {
    let cfg = Config::default();
    assert_eq!(cfg.s3.multipart_stream_max, DEFAULT_S3_MULTIPART_STREAM_MAX);
    assert_eq!(cfg.s3.multipart_stream_idle_secs, 50);
    let cfg = Config::from_toml("[s3]\nmultipart_stream_max = 0\nmultipart_stream_idle_secs = 0\n")
        .unwrap();
    assert_eq!(cfg.s3.multipart_stream_max, 0);
    // An idle time of 0 would drop every upload at once: at least 1 second.
    assert_eq!(cfg.s3.multipart_stream_idle_secs, 1);
}
