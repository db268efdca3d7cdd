//! Counters the admin listener exposes in the Prometheus text format: upstream ScaiDrive calls by
//! endpoint and status (so the gateway's economy with ScaiDrive can be measured and tested),
//! front-end requests by protocol, operation and status with their durations, bytes on the wire,
//! requests and connections open, the store's cache hits and misses, and the lifecycle worker's
//! passes and actions. The list, with what
//! each series means, is in `docs/operations.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (method, endpoint template, status).
pub type CallKey = (String, String, String);

/// Counts of ScaiDrive calls, keyed by (method, endpoint template, status). A transport failure
/// (no HTTP answer) is counted with status `error`.
#[derive(Debug, Default, Clone)]
pub struct UpstreamStats {
    counts: Arc<Mutex<BTreeMap<CallKey, u64>>>,
    /// Time to the response head, by (method, endpoint template).
    latency: Arc<Mutex<BTreeMap<(String, String), Histogram>>>,
    /// Requests that waited before being sent (rate-limit pacing), and the total wait.
    paced: Arc<AtomicU64>,
    paced_micros: Arc<AtomicU64>,
}

/// Path segments kept literally in endpoint templates; every other segment is an id.
const LITERALS: &[&str] = &[
    "api",
    "v1",
    "users",
    "me",
    "shares",
    "quota",
    "folders",
    "files",
    "uploads",
    "sync",
    "changes",
    "external",
    "links",
    "children",
    "content",
    "copy",
    "move",
    "versions",
    "restore",
    "chunks",
    "complete",
    "health",
    "ready",
    "config",
    "permissions",
    "check",
    "batch",
    "effective",
    "acl",
    "inheritance",
];

/// `/api/v1/folders/fld_01J…/children` → `/api/v1/folders/{id}/children`.
pub fn endpoint_template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if LITERALS.contains(&seg) {
            out.push_str(seg);
        } else {
            out.push_str("{id}");
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

impl UpstreamStats {
    /// Counts one call, and the time it took to its response head (or its failure).
    pub fn record(&self, method: &str, path: &str, status: Option<u16>, took: Duration) {
        let endpoint = endpoint_template(path);
        {
            let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
            latency
                .entry((method.to_owned(), endpoint.clone()))
                .or_default()
                .observe(took);
        }
        let key = (
            method.to_owned(),
            endpoint,
            status.map_or_else(|| "error".to_owned(), |s| s.to_string()),
        );
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(key).or_insert(0) += 1;
    }

    /// Counts one request that waited `wait` before it was sent (rate-limit pacing).
    pub fn record_pace(&self, wait: Duration) {
        self.paced.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.paced_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Requests that waited for the rate limit before being sent.
    pub fn paced(&self) -> u64 {
        self.paced.load(Ordering::Relaxed)
    }

    /// A copy of all counts.
    pub fn snapshot(&self) -> BTreeMap<CallKey, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Calls so far, all endpoints.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Calls so far to endpoints whose template equals `endpoint` (any method and status).
    pub fn count(&self, method: &str, endpoint: &str) -> u64 {
        self.snapshot()
            .iter()
            .filter(|((m, e, _), _)| m == method && e == endpoint)
            .map(|(_, n)| n)
            .sum()
    }

    /// Appends the Prometheus text form.
    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP scaidrive_gateway_upstream_requests_total ScaiDrive API calls by method, endpoint and status.\n\
             # TYPE scaidrive_gateway_upstream_requests_total counter\n",
        );
        for ((method, endpoint, status), n) in self.snapshot() {
            let _ = writeln!(
                out,
                "scaidrive_gateway_upstream_requests_total{{method=\"{method}\",endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP scaidrive_gateway_upstream_request_duration_seconds Time from sending a ScaiDrive API call to its response head, by method and endpoint.\n\
             # TYPE scaidrive_gateway_upstream_request_duration_seconds histogram\n",
        );
        let latency = self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((method, endpoint), h) in latency {
            h.render(
                out,
                "scaidrive_gateway_upstream_request_duration_seconds",
                &format!("method=\"{method}\",endpoint=\"{endpoint}\""),
            );
        }
        let micros = self.paced_micros.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP scaidrive_gateway_upstream_paced_total ScaiDrive API calls that waited for the rate limit before being sent.\n\
             # TYPE scaidrive_gateway_upstream_paced_total counter\n\
             scaidrive_gateway_upstream_paced_total {}\n\
             # HELP scaidrive_gateway_upstream_paced_seconds_total Time ScaiDrive API calls waited for the rate limit.\n\
             # TYPE scaidrive_gateway_upstream_paced_seconds_total counter\n\
             scaidrive_gateway_upstream_paced_seconds_total {}.{:06}\n",
            self.paced(),
            micros / 1_000_000,
            micros % 1_000_000
        );
    }
}

/// Upper bounds (seconds) of the request duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Wire counters of one listener: bytes, open connections and requests.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    /// Bytes read from clients (request heads and bodies, after TLS decryption).
    pub bytes_received: AtomicU64,
    /// Bytes written to clients (response heads and bodies, before TLS encryption).
    pub bytes_sent: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicI64,
    /// Connections answered 503 because `limits.max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections closed by the idle timeout.
    pub connections_idle_closed: AtomicU64,
    /// Requests whose response has not been sent completely yet (transfers in flight).
    pub requests_in_flight: AtomicI64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    /// Appends `name_bucket`, `name_sum` and `name_count` lines with `labels`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{bound}\"}} {}",
                self.buckets[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Appends the process series every Prometheus exporter has, read from `/proc/self` (Linux;
/// elsewhere nothing): `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
/// `process_cpu_seconds_total`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds`.
pub fn render_process(out: &mut String) {
    // /proc reports CPU time and start time in USER_HZ ticks, 100 per second on Linux.
    const TICKS: f64 = 100.0;
    let mut series: Vec<(&str, &str, &str, f64)> = Vec::new();
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .map(|v| v * 1024.0)
        };
        if let Some(v) = kib("VmRSS:") {
            series.push((
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                v,
            ));
        }
        if let Some(v) = kib("VmSize:") {
            series.push((
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                v,
            ));
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(utime), Some(stime)) = (field(14), field(15)) {
            series.push((
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (utime + stime) / TICKS,
            ));
        }
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(boot), Some(start)) = (boot, field(22)) {
            series.push((
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                boot + start / TICKS,
            ));
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let open = dir.count();
        series.push((
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            open as f64,
        ));
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
        let max = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(max) = max {
            series.push((
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max,
            ));
        }
    }
    for (name, kind, help, value) in series {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

/// (name, type, help, value) of a per-listener series.
type ListenerSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ListenerCounters) -> i64,
);

/// (protocol, operation, status).
type RequestKey = (&'static str, String, u16);

/// Front-end request metrics of all listeners.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    listeners: Mutex<BTreeMap<&'static str, Arc<ListenerCounters>>>,
    requests: Mutex<BTreeMap<RequestKey, u64>>,
    durations: Mutex<BTreeMap<(&'static str, String), Histogram>>,
}

impl RequestMetrics {
    /// The counters of the listener serving `protocol` (created on first use).
    pub fn listener(&self, protocol: &'static str) -> Arc<ListenerCounters> {
        let mut map = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(protocol).or_default())
    }

    /// Counts one finished request and its duration (until its response was sent or dropped).
    pub fn record(&self, protocol: &'static str, operation: &str, status: u16, took: Duration) {
        {
            let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *map.entry((protocol, operation.to_owned(), status))
                .or_insert(0) += 1;
        }
        let secs = took.as_secs_f64();
        let mut map = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        let h = map.entry((protocol, operation.to_owned())).or_default();
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Requests so far with this protocol, operation and status.
    pub fn requests(&self, protocol: &str, operation: &str, status: u16) -> u64 {
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|((p, o, s), _)| *p == protocol && o == operation && *s == status)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Appends the Prometheus text form.
    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP scaidrive_gateway_requests_total Front-end requests by protocol, operation and status.\n\
             # TYPE scaidrive_gateway_requests_total counter\n",
        );
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((protocol, op, status), n) in requests {
            let _ = writeln!(
                out,
                "scaidrive_gateway_requests_total{{protocol=\"{protocol}\",operation=\"{op}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP scaidrive_gateway_request_duration_seconds Time from request head to the end of the response body.\n\
             # TYPE scaidrive_gateway_request_duration_seconds histogram\n",
        );
        let durations = self
            .durations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((protocol, op), h) in durations {
            let labels = format!("protocol=\"{protocol}\",operation=\"{op}\"");
            for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "scaidrive_gateway_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "scaidrive_gateway_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scaidrive_gateway_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scaidrive_gateway_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let series: [ListenerSeries; 6] = [
            (
                "bytes_received_total",
                "counter",
                "Bytes read from clients (HTTP heads and bodies).",
                |c| c.bytes_received.load(Ordering::Relaxed) as i64,
            ),
            (
                "bytes_sent_total",
                "counter",
                "Bytes written to clients (HTTP heads and bodies).",
                |c| c.bytes_sent.load(Ordering::Relaxed) as i64,
            ),
            (
                "connections_open",
                "gauge",
                "Client connections open.",
                |c| c.connections_open.load(Ordering::Relaxed),
            ),
            (
                "connections_refused_total",
                "counter",
                "Connections answered 503 because limits.max_connections were open.",
                |c| c.connections_refused.load(Ordering::Relaxed) as i64,
            ),
            (
                "connections_idle_closed_total",
                "counter",
                "Connections closed by limits.idle_timeout_secs.",
                |c| c.connections_idle_closed.load(Ordering::Relaxed) as i64,
            ),
            (
                "requests_in_flight",
                "gauge",
                "Requests whose response is not completely sent yet (transfers in flight).",
                |c| c.requests_in_flight.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = writeln!(out, "# HELP scaidrive_gateway_{name} {help}");
            let _ = writeln!(out, "# TYPE scaidrive_gateway_{name} {kind}");
            for (protocol, c) in &listeners {
                let _ = writeln!(
                    out,
                    "scaidrive_gateway_{name}{{protocol=\"{protocol}\"}} {}",
                    value(c)
                );
            }
        }
    }
}

/// Hits and misses of the store's caches.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Share-list lookups answered from the cache.
    pub shares_hits: AtomicU64,
    /// Share-list lookups that went upstream.
    pub shares_misses: AtomicU64,
    /// Folder-listing lookups answered from the cache.
    pub listings_hits: AtomicU64,
    /// Folder-listing lookups that went upstream.
    pub listings_misses: AtomicU64,
    /// Times this instance dropped what it caches of a share (or its share lists) because it
    /// could not apply the other instances' changes (records missing or unreadable, the state
    /// DB unreachable).
    pub remote_invalidations: AtomicU64,
    /// Changes of other instances applied to this instance's caches (see `store/coherence.rs`).
    pub remote_changes: AtomicU64,
    /// Shares whose change feed this instance follows now (it leads them).
    pub feeds_led: AtomicI64,
    /// 1 while this instance is the only one on its PostgreSQL state DB and trusts its caches
    /// without a check (`store/solo.rs`), else 0.
    pub alone: AtomicI64,
    /// Bytes of upload-session chunks held in memory on their way to ScaiDrive now (sent or
    /// waiting to be retried; `store/write.rs`).
    pub upload_chunk_bytes: AtomicI64,
}

impl CacheStats {
    /// Counts one share-list lookup.
    pub fn shares(&self, hit: bool) {
        let c = if hit {
            &self.shares_hits
        } else {
            &self.shares_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one folder-listing lookup.
    pub fn listings(&self, hit: bool) {
        let c = if hit {
            &self.listings_hits
        } else {
            &self.listings_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the Prometheus text form.
    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP scaidrive_gateway_cache_lookups_total Lookups in the store's caches by cache and result.\n\
             # TYPE scaidrive_gateway_cache_lookups_total counter\n",
        );
        for (cache, result, c) in [
            ("shares", "hit", &self.shares_hits),
            ("shares", "miss", &self.shares_misses),
            ("listings", "hit", &self.listings_hits),
            ("listings", "miss", &self.listings_misses),
        ] {
            let _ = writeln!(
                out,
                "scaidrive_gateway_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scaidrive_gateway_changes_received_total Changes of other instances applied to this instance's caches.\n\
             # TYPE scaidrive_gateway_changes_received_total counter\n\
             scaidrive_gateway_changes_received_total {}\n\
             # HELP scaidrive_gateway_invalidations_received_total Times this instance dropped its cache of a share because it could not apply other instances' changes.\n\
             # TYPE scaidrive_gateway_invalidations_received_total counter\n\
             scaidrive_gateway_invalidations_received_total {}\n\
             # HELP scaidrive_gateway_feed_leaderships Shares whose change feed this instance follows (leads) now.\n\
             # TYPE scaidrive_gateway_feed_leaderships gauge\n\
             scaidrive_gateway_feed_leaderships {}\n\
             # HELP scaidrive_gateway_cluster_alone 1 while this instance is the only one on its PostgreSQL state database and trusts its caches without a check.\n\
             # TYPE scaidrive_gateway_cluster_alone gauge\n\
             scaidrive_gateway_cluster_alone {}\n\
             # HELP scaidrive_gateway_upload_chunk_bytes Bytes of upload-session chunks in memory on their way to ScaiDrive (bounded by upstream.chunk_memory_bytes).\n\
             # TYPE scaidrive_gateway_upload_chunk_bytes gauge\n\
             scaidrive_gateway_upload_chunk_bytes {}",
            self.remote_changes.load(Ordering::Relaxed),
            self.remote_invalidations.load(Ordering::Relaxed),
            self.feeds_led.load(Ordering::Relaxed),
            self.alone.load(Ordering::Relaxed),
            self.upload_chunk_bytes.load(Ordering::Relaxed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_placeholders_in_endpoint_templates() {
        assert_eq!(
            endpoint_template("/api/v1/folders/fld_01J3/children"),
            "/api/v1/folders/{id}/children"
        );
        assert_eq!(
            endpoint_template("/api/v1/folders/root/children"),
            "/api/v1/folders/{id}/children"
        );
        assert_eq!(
            endpoint_template("/api/v1/uploads/ups_1/chunks/7"),
            "/api/v1/uploads/{id}/chunks/{id}"
        );
        assert_eq!(
            endpoint_template("/api/v1/users/me/shares"),
            "/api/v1/users/me/shares"
        );
    }

    #[test]
    fn counts_render_as_prometheus_text() {
        let s = UpstreamStats::default();
        s.record(
            "GET",
            "/api/v1/files/fil_1",
            Some(200),
            Duration::from_millis(3),
        );
        s.record(
            "GET",
            "/api/v1/files/fil_2",
            Some(200),
            Duration::from_millis(40),
        );
        s.record("GET", "/api/v1/files/fil_3", None, Duration::from_secs(2));
        assert_eq!(s.count("GET", "/api/v1/files/{id}"), 3);
        assert_eq!(s.total(), 3);
        let mut text = String::new();
        s.render(&mut text);
        assert!(text.contains(
            "scaidrive_gateway_upstream_requests_total{method=\"GET\",endpoint=\"/api/v1/files/{id}\",status=\"200\"} 2"
        ));
        assert!(text.contains("status=\"error\"} 1"));
        let latency = "scaidrive_gateway_upstream_request_duration_seconds";
        let labels = "method=\"GET\",endpoint=\"/api/v1/files/{id}\"";
        for (le, n) in [("0.005", 1), ("0.05", 2), ("1", 2), ("2.5", 3), ("+Inf", 3)] {
            let line = format!("{latency}_bucket{{{labels},le=\"{le}\"}} {n}\n");
            assert!(text.contains(&line), "{line} not in {text}");
        }
        assert!(text.contains(&format!("{latency}_count{{{labels}}} 3\n")));
    }

    #[test]
    fn process_series_come_from_proc() {
        let mut text = String::new();
        render_process(&mut text);
        if std::path::Path::new("/proc/self/status").exists() {
            let value = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name} ")))
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            };
            assert!(value("process_resident_memory_bytes") > 1_000_000.0);
            assert!(value("process_open_fds") >= 3.0);
            assert!(value("process_max_fds") >= value("process_open_fds"));
            assert!(value("process_cpu_seconds_total") >= 0.0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let start = value("process_start_time_seconds");
            assert!(
                start <= now + 1.0 && start > now - 86_400.0,
                "{start} vs {now}"
            );
        }
    }

    #[test]
    fn request_metrics_render_counters_histograms_and_listener_series() {
        let m = RequestMetrics::default();
        m.record("s3", "PutObject", 200, Duration::from_millis(30));
        m.record("s3", "PutObject", 200, Duration::from_secs(2));
        m.listener("s3")
            .bytes_received
            .fetch_add(10, Ordering::Relaxed);
        assert_eq!(m.requests("s3", "PutObject", 200), 2);
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains(
            "scaidrive_gateway_requests_total{protocol=\"s3\",operation=\"PutObject\",status=\"200\"} 2"
        ), "{text}");
        assert!(text.contains(
            "scaidrive_gateway_request_duration_seconds_bucket{protocol=\"s3\",operation=\"PutObject\",le=\"0.05\"} 1"
        ), "{text}");
        assert!(text.contains(
            "scaidrive_gateway_request_duration_seconds_bucket{protocol=\"s3\",operation=\"PutObject\",le=\"+Inf\"} 2"
        ), "{text}");
        assert!(
            text.contains("scaidrive_gateway_bytes_received_total{protocol=\"s3\"} 10"),
            "{text}"
        );
        let c = CacheStats::default();
        c.listings(true);
        c.listings(false);
        c.listings(false);
        let mut text = String::new();
        c.render(&mut text);
        assert!(
            text.contains("cache=\"listings\",result=\"miss\"} 2"),
            "{text}"
        );
    }
}

/// What the lifecycle worker did on this instance (`s3/lifecycle_run.rs`).
#[derive(Debug, Default)]
pub struct LifecycleStats {
    /// Passes run (this instance held the cluster lock).
    pub passes: AtomicU64,
    /// Objects moved to ScaiDrive's trash by an Expiration rule.
    pub expired: AtomicU64,
    /// Multipart uploads aborted by an AbortIncompleteMultipartUpload rule.
    pub aborted: AtomicU64,
    /// Buckets whose rules were skipped because the key that put them no longer works.
    pub skipped_revoked: AtomicU64,
    /// Buckets whose pass stopped early (action bound or rate budget) to go on next time.
    pub deferred: AtomicU64,
    /// Actions or listings that failed (logged).
    pub errors: AtomicU64,
    /// End of the last pass, Unix seconds (0: none yet).
    pub last_pass_end: AtomicU64,
    /// Duration of the last pass, milliseconds.
    pub last_pass_millis: AtomicU64,
}

impl LifecycleStats {
    /// Appends the Prometheus text form.
    pub fn render(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP scaidrive_gateway_lifecycle_passes_total Lifecycle passes this instance ran.\n\
             # TYPE scaidrive_gateway_lifecycle_passes_total counter\n\
             scaidrive_gateway_lifecycle_passes_total {}\n\
             # HELP scaidrive_gateway_lifecycle_actions_total Lifecycle actions by kind (expired: moved to the trash; aborted: multipart uploads).\n\
             # TYPE scaidrive_gateway_lifecycle_actions_total counter\n\
             scaidrive_gateway_lifecycle_actions_total{{action=\"expired\"}} {}\n\
             scaidrive_gateway_lifecycle_actions_total{{action=\"aborted\"}} {}\n\
             # HELP scaidrive_gateway_lifecycle_buckets_skipped_total Buckets whose rules were not applied, by reason.\n\
             # TYPE scaidrive_gateway_lifecycle_buckets_skipped_total counter\n\
             scaidrive_gateway_lifecycle_buckets_skipped_total{{reason=\"credential\"}} {}\n\
             scaidrive_gateway_lifecycle_buckets_skipped_total{{reason=\"deferred\"}} {}\n\
             # HELP scaidrive_gateway_lifecycle_errors_total Lifecycle actions and listings that failed.\n\
             # TYPE scaidrive_gateway_lifecycle_errors_total counter\n\
             scaidrive_gateway_lifecycle_errors_total {}\n\
             # HELP scaidrive_gateway_lifecycle_last_pass_timestamp_seconds End of the last lifecycle pass (0: none yet).\n\
             # TYPE scaidrive_gateway_lifecycle_last_pass_timestamp_seconds gauge\n\
             scaidrive_gateway_lifecycle_last_pass_timestamp_seconds {}\n\
             # HELP scaidrive_gateway_lifecycle_last_pass_duration_seconds Duration of the last lifecycle pass.\n\
             # TYPE scaidrive_gateway_lifecycle_last_pass_duration_seconds gauge\n\
             scaidrive_gateway_lifecycle_last_pass_duration_seconds {:.3}",
            get(&self.passes),
            get(&self.expired),
            get(&self.aborted),
            get(&self.skipped_revoked),
            get(&self.deferred),
            get(&self.errors),
            get(&self.last_pass_end),
            get(&self.last_pass_millis) as f64 / 1000.0,
        );
    }
}
