//! The lifecycle worker: applies the buckets' stored lifecycle rules, once per cluster (the
//! instance that takes the `lifecycle` cluster lock runs a pass; the others skip it).
//!
//! - `Expiration` (Days or Date, with prefix, tag and size filters) deletes the object the way
//!   DeleteObject does: to ScaiDrive's trash, where it stays recoverable.
//! - `AbortIncompleteMultipartUpload` aborts the gateway's own multipart uploads of the
//!   bucket (matched by bucket name and key prefix) older than the rule's days.
//!
//! The worker acts with the ScaiDrive token of the access key that put the configuration
//! (recorded with it): it can do no more than that user could. A key revoked or expired since
//! skips the bucket's rules, logged and counted. Upstream cost is bounded: at most
//! `lifecycle.max_actions_per_pass` actions (deletes, aborts, pages of 1,000 listed keys) per
//! pass, `lifecycle.pace_ms` apart, and a
//! bucket's pass stops while its key's ScaiDrive budget is below
//! `lifecycle.min_budget_percent` (the rest waits for the next pass). Every pass takes its
//! "now" as a parameter, so tests and the admin tool (`POST /lifecycle/run?now=…`) can run one
//! as of a later day.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use s3s::dto::BucketLifecycleConfiguration;

use super::bucketcfg::bucket_of;
use super::lifecycle::{abort_at, expires_at, scope};
use super::list::{ListParams, Listed, walk};
use super::stored::from_xml;
use super::{Gateway, S3Options, to_chrono};
use crate::auth::Session;
use crate::config::LifecycleConfig;
use crate::metrics::LifecycleStats;
use crate::server::GatewayContext;
use crate::state::{BucketConfig, ConfigKind};

/// The cluster lock of a pass.
const LOCK: &str = "lifecycle";
/// Keys listed per page while looking for expired objects.
const PAGE: usize = 1000;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    /// Buckets with a lifecycle configuration.
    pub buckets: u64,
    /// Objects moved to the trash.
    pub expired: u64,
    /// Multipart uploads aborted.
    pub aborted: u64,
    /// Buckets skipped because the key that put their rules no longer works.
    pub skipped: u64,
    /// Buckets whose pass stopped early (action bound or rate budget).
    pub deferred: u64,
    /// Failed actions and listings.
    pub errors: u64,
}

/// The worker: the S3 gateway it acts through, its settings and counters.
#[derive(Clone)]
pub struct Lifecycle {
    gw: Gateway,
    cfg: LifecycleConfig,
    stats: Arc<LifecycleStats>,
    /// One pass at a time on this instance (the periodic task and the admin tool).
    running: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// The periodic task; dropping it stops the worker.
#[derive(Debug)]
pub struct LifecycleTask(tokio::task::JoinHandle<()>);

impl Drop for LifecycleTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a bucket's pass stopped before its end.
enum Stop {
    /// The action bound of the pass or the key's rate budget: go on next pass.
    Deferred,
}

impl Lifecycle {
    /// The worker of a gateway.
    pub fn new(ctx: &GatewayContext) -> Self {
        Self {
            gw: Gateway::new(ctx, S3Options::from_config(&ctx.config)),
            cfg: ctx.config.lifecycle.clone(),
            stats: Arc::default(),
            running: Arc::default(),
        }
    }

    /// The worker's counters (for `/metrics`).
    pub fn stats(&self) -> &Arc<LifecycleStats> {
        &self.stats
    }

    /// The settings in force.
    pub fn config(&self) -> &LifecycleConfig {
        &self.cfg
    }

    /// Runs passes every `lifecycle.interval_secs` (the first after one interval), when the
    /// worker is enabled.
    pub fn spawn(&self) -> Option<LifecycleTask> {
        if !self.cfg.enabled {
            tracing::info!("the lifecycle worker is off (lifecycle.enabled = false)");
            return None;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: lifecycle rules will not be applied");
            return None;
        };
        let me = self.clone();
        let every = Duration::from_secs(self.cfg.interval_secs.max(1));
        Some(LifecycleTask(handle.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                me.run_once(Utc::now()).await;
            }
        })))
    }

    /// One pass as of `now`, if this instance gets the cluster lock (`None`: another instance
    /// runs passes now).
    pub async fn run_once(&self, now: DateTime<Utc>) -> Option<PassReport> {
        let _one = self.running.lock().await;
        let db = self.gw.store().db();
        let lease = match db.try_cluster_lock(LOCK).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tracing::debug!("another instance runs the lifecycle pass");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle pass skipped: no cluster lock");
                return None;
            }
        };
        let started = Instant::now();
        let report = self.pass(now).await;
        db.release_cluster_lock(lease).await;
        let s = &self.stats;
        s.passes.fetch_add(1, Ordering::Relaxed);
        s.expired.fetch_add(report.expired, Ordering::Relaxed);
        s.aborted.fetch_add(report.aborted, Ordering::Relaxed);
        s.skipped_revoked
            .fetch_add(report.skipped, Ordering::Relaxed);
        s.deferred.fetch_add(report.deferred, Ordering::Relaxed);
        s.errors.fetch_add(report.errors, Ordering::Relaxed);
        s.last_pass_end.store(
            u64::try_from(Utc::now().timestamp()).unwrap_or(0),
            Ordering::Relaxed,
        );
        s.last_pass_millis.store(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        tracing::info!(
            as_of = %now.to_rfc3339(),
            buckets = report.buckets,
            expired = report.expired,
            aborted = report.aborted,
            skipped = report.skipped,
            deferred = report.deferred,
            errors = report.errors,
            took_ms = started.elapsed().as_millis() as u64,
            "lifecycle pass done"
        );
        Some(report)
    }

    async fn pass(&self, now: DateTime<Utc>) -> PassReport {
        let mut report = PassReport::default();
        let configs = match self
            .gw
            .store()
            .db()
            .list_bucket_configs(ConfigKind::Lifecycle)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle pass: could not read the rules");
                report.errors += 1;
                return report;
            }
        };
        let mut budget = self.cfg.max_actions_per_pass;
        for cfg in configs {
            report.buckets += 1;
            if let Err(Stop::Deferred) = self.bucket(&cfg, now, &mut budget, &mut report).await {
                report.deferred += 1;
            }
        }
        report
    }

    /// Applies one bucket's rules.
    async fn bucket(
        &self,
        cfg: &BucketConfig,
        now: DateTime<Utc>,
        budget: &mut u64,
        report: &mut PassReport,
    ) -> Result<(), Stop> {
        let Some(config) = from_xml::<BucketLifecycleConfiguration>(cfg) else {
            report.errors += 1;
            return Ok(());
        };
        let session = match self
            .gw
            .ctx
            .auth
            .by_access_key_fresh(&cfg.access_key_id)
            .await
        {
            Ok(pair) => pair.session,
            Err(e) => {
                tracing::warn!(
                    bucket = %cfg.bucket,
                    access_key_id = %cfg.access_key_id,
                    error = %e,
                    "lifecycle rules skipped: the access key that put them no longer works"
                );
                report.skipped += 1;
                return Ok(());
            }
        };
        let bucket = bucket_of(&cfg.scope);
        for rule in &config.rules {
            let Ok(filter) = scope(rule) else {
                continue;
            };
            if rule
                .expiration
                .as_ref()
                .is_some_and(|e| e.days.is_some() || e.date.is_some())
                && expires_at(rule, now).is_some()
            {
                self.expire(&session, cfg, &bucket, rule, &filter, now, budget, report)
                    .await?;
            }
            if abort_at(rule, now).is_some() {
                self.abort(&session, cfg, rule, &filter.prefix, now, budget, report)
                    .await?;
            }
        }
        Ok(())
    }

    /// Takes one action from the pass's bound, after the pacing gap; `Deferred` when the bound
    /// is spent or the key's budget is low.
    async fn take(&self, s: &Session, budget: &mut u64) -> Result<(), Stop> {
        if *budget == 0 {
            return Err(Stop::Deferred);
        }
        if let Some((limit, remaining)) = self.gw.store().client().rate_budget(s.token())
            && limit > 0
            && remaining.saturating_mul(100) < limit.saturating_mul(self.cfg.min_budget_percent)
        {
            tracing::info!(
                limit,
                remaining,
                "lifecycle: the key's ScaiDrive budget is low; the rest waits for the next pass"
            );
            return Err(Stop::Deferred);
        }
        *budget -= 1;
        if self.cfg.pace_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.cfg.pace_ms)).await;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    async fn expire(
        &self,
        s: &Session,
        cfg: &BucketConfig,
        bucket: &super::BucketRef,
        rule: &s3s::dto::LifecycleRule,
        filter: &super::lifecycle::Scope,
        now: DateTime<Utc>,
        budget: &mut u64,
        report: &mut PassReport,
    ) -> Result<(), Stop> {
        let mut after: Option<String> = None;
        loop {
            let params = ListParams {
                prefix: filter.prefix.clone(),
                delimiter: None,
                after: after.clone(),
                max_keys: PAGE,
            };
            // A page of the walk costs folder listings: it counts as an action too.
            self.take(s, budget).await?;
            let page = match walk(&self.gw, s, bucket, &params).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(bucket = %cfg.bucket, error = ?e, "lifecycle: listing failed");
                    report.errors += 1;
                    return Ok(());
                }
            };
            after = page.last_key().map(str::to_owned);
            for item in &page.items {
                let Listed::Object(o) = item else { continue };
                let Some(file) = &o.file else { continue };
                let Some(modified) = o.last_modified.as_ref().and_then(to_chrono) else {
                    continue;
                };
                if expires_at(rule, modified).is_none_or(|at| at > now) {
                    continue;
                }
                let tags = if filter.tags.is_empty() {
                    Vec::new()
                } else {
                    match self.gw.store().attrs_of(file).await {
                        Ok(a) => super::tagging::get(a.as_ref()),
                        Err(e) => {
                            tracing::warn!(key = %o.key, error = %e, "lifecycle: no tags");
                            report.errors += 1;
                            continue;
                        }
                    }
                };
                if !filter.matches(&o.key, o.size, &tags) {
                    continue;
                }
                self.take(s, budget).await?;
                match super::delete::delete_one(&self.gw, s, bucket, &o.key, None).await {
                    Ok(_) => {
                        tracing::info!(
                            bucket = %cfg.bucket,
                            key = %o.key,
                            rule = rule.id.as_deref().unwrap_or_default(),
                            "lifecycle: expired, moved to the trash"
                        );
                        report.expired += 1;
                    }
                    Err(e) => {
                        tracing::warn!(bucket = %cfg.bucket, key = %o.key, error = ?e, "lifecycle: expiring failed");
                        report.errors += 1;
                    }
                }
            }
            if !page.truncated || after.is_none() {
                return Ok(());
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    async fn abort(
        &self,
        s: &Session,
        cfg: &BucketConfig,
        rule: &s3s::dto::LifecycleRule,
        prefix: &str,
        now: DateTime<Utc>,
        budget: &mut u64,
        report: &mut PassReport,
    ) -> Result<(), Stop> {
        let cutoff = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let uploads = match self.gw.store().db().uploads_created_before(&cutoff).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle: could not list multipart uploads");
                report.errors += 1;
                return Ok(());
            }
        };
        for up in uploads {
            if up.bucket != cfg.bucket || !up.key.starts_with(prefix) {
                continue;
            }
            let created = DateTime::parse_from_rfc3339(&up.created_at).map(|t| t.to_utc());
            if created
                .ok()
                .and_then(|c| abort_at(rule, c))
                .is_none_or(|at| at > now)
            {
                continue;
            }
            self.take(s, budget).await?;
            tracing::info!(
                bucket = %cfg.bucket,
                key = %up.key,
                upload_id = %up.upload_id,
                rule = rule.id.as_deref().unwrap_or_default(),
                "lifecycle: aborting an incomplete multipart upload"
            );
            super::multipart::remove_upload(&self.gw, None, &up).await;
            report.aborted += 1;
        }
        Ok(())
    }
}
