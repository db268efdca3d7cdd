//! Counters the admin listener exposes in the Prometheus text format: upstream ScaiDrive calls by
//! endpoint and status (so the gateway's economy with ScaiDrive can be measured and tested) and
//! front-end requests by protocol, operation and status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (method, endpoint template, status).
pub type CallKey = (String, String, String);

/// Counts of ScaiDrive calls, keyed by (method, endpoint template, status). A transport failure
/// (no HTTP answer) is counted with status `error`.
#[derive(Debug, Default, Clone)]
pub struct UpstreamStats {
    counts: Arc<Mutex<BTreeMap<CallKey, u64>>>,
    /// Requests that waited before being sent (rate-limit pacing), and the total wait.
    paced: Arc<AtomicU64>,
    paced_micros: Arc<AtomicU64>,
}

/// Path segments kept literally in endpoint templates; every other segment is an id.
const LITERALS: &[&str] = &[
    "api", "v1", "users", "me", "shares", "quota", "folders", "files", "uploads", "sync",
    "changes", "external", "links", "children", "content", "copy", "move", "versions", "restore",
    "chunks", "complete", "health", "ready", "config",
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
    /// Counts one call.
    pub fn record(&self, method: &str, path: &str, status: Option<u16>) {
        let key = (
            method.to_owned(),
            endpoint_template(path),
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
        s.record("GET", "/api/v1/files/fil_1", Some(200));
        s.record("GET", "/api/v1/files/fil_2", Some(200));
        s.record("GET", "/api/v1/files/fil_3", None);
        assert_eq!(s.count("GET", "/api/v1/files/{id}"), 3);
        assert_eq!(s.total(), 3);
        let mut text = String::new();
        s.render(&mut text);
        assert!(text.contains(
            "scaidrive_gateway_upstream_requests_total{method=\"GET\",endpoint=\"/api/v1/files/{id}\",status=\"200\"} 2"
        ));
        assert!(text.contains("status=\"error\"} 1"));
    }
}
