//! A `DavLockSystem` over the state database: locks persist across restarts and instances,
//! and timeouts really expire. Paths are keyed by share id (`shr_…/a/b`), so a lock holds for
//! every user of the share whatever its collection name is for them. The conflict rules are
//! dav-server's `MemLs` rules, applied to the locks loaded for the path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dav_server::davpath::DavPath;
use dav_server::ls::{DavLock, DavLockSystem, LsFuture};
use futures::FutureExt as _;
use xmltree::Element;

use crate::state::{StateDb, StoredLock};

/// The lock system of one request.
#[derive(Clone, Debug)]
pub(crate) struct DbLs {
    pub db: StateDb,
    /// Collection name → share id, and back.
    pub names: Arc<BTreeMap<String, String>>,
    /// In a PROPFIND (which changes no lock), the locks loaded for the first path asked about
    /// answer `lockdiscovery` for every path below it too, instead of one query per entry.
    pub discovered: Option<Arc<Mutex<Option<Discovered>>>>,
}

/// The locks related to `key`: on it, its ancestors and below it.
#[derive(Debug)]
pub(crate) struct Discovered {
    key: String,
    locks: Vec<StoredLock>,
}

/// Longest lock the gateway grants (clients asking for `Infinite` get this).
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl DbLs {
    /// Whether the locks an earlier `discover` loaded (for a PROPFIND's collection: its own,
    /// its ancestors' and everything below it) are none at all, so no path below it is locked.
    pub(crate) fn loaded_none(&self) -> bool {
        self.discovered.as_ref().is_some_and(|d| {
            d.lock()
                .is_ok_and(|d| d.as_ref().is_some_and(|d| d.locks.is_empty()))
        })
    }

    /// `shr_…/a/b` for `/Name/a/b/`; unknown collections keep their name behind `?`.
    fn key(&self, path: &DavPath) -> String {
        let segs = super::fs::segments(path).unwrap_or_default();
        let mut out = Vec::with_capacity(segs.len());
        for (i, s) in segs.into_iter().enumerate() {
            if i == 0 {
                match self.names.get(&s) {
                    Some(id) => out.push(id.clone()),
                    None => out.push(format!("?{s}")),
                }
            } else {
                out.push(s);
            }
        }
        out.join("/")
    }

    fn dav_path(&self, key: &str) -> DavPath {
        let mut segs: Vec<String> = key.split('/').map(str::to_owned).collect();
        if let Some(first) = segs.first_mut() {
            if let Some((name, _)) = self.names.iter().find(|(_, id)| *id == first) {
                *first = name.clone();
            } else if let Some(rest) = first.strip_prefix('?') {
                *first = rest.to_owned();
            }
        }
        let encoded: Vec<String> = segs
            .iter()
            .map(|s| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        DavPath::new(&format!("/{}", encoded.join("/")))
            .or_else(|_| DavPath::new("/"))
            .unwrap_or_else(|_| unreachable_root())
    }

    fn to_dav(&self, l: &StoredLock) -> DavLock {
        let now = now_ms();
        DavLock {
            token: l.token.clone(),
            path: Box::new(self.dav_path(&l.path)),
            principal: Some(l.principal.clone()),
            owner: l
                .owner
                .as_deref()
                .and_then(|o| Element::parse(o.as_bytes()).ok())
                .map(Box::new),
            timeout_at: l
                .timeout_at_ms
                .map(|t| UNIX_EPOCH + Duration::from_millis(t.max(0).unsigned_abs())),
            timeout: l
                .timeout_at_ms
                .map(|t| Duration::from_millis((t - now).max(0).unsigned_abs())),
            shared: l.shared,
            deep: l.deep,
        }
    }

    async fn related(&self, key: &str) -> Vec<StoredLock> {
        match self.db.locks_related(key).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "lock lookup failed");
                Vec::new()
            }
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_root() -> DavPath {
    // "/" always parses.
    panic!("DavPath::new(\"/\") failed")
}

fn is_ancestor_or_self(anc: &str, key: &str) -> bool {
    anc == key || key.starts_with(&format!("{anc}/"))
}

/// MemLs's `check_locks_to_path` + `check_locks_from_path` over loaded locks.
fn check(
    locks: &[StoredLock],
    key: &str,
    principal: Option<&str>,
    ignore_principal: bool,
    deep: bool,
    tokens: &[String],
    shared_ok: bool,
) -> Result<(), StoredLock> {
    let owns = |l: &StoredLock| {
        tokens.contains(&l.token) && (ignore_principal || principal == Some(l.principal.as_str()))
    };
    let mut holds = false;
    let mut first_shared: Option<&StoredLock> = None;
    // Locks on the path and on ancestors (ancestor locks only count when deep).
    for l in locks.iter().filter(|l| is_ancestor_or_self(&l.path, key)) {
        if l.path != key && !l.deep {
            continue;
        }
        if owns(l) {
            holds = true;
        } else {
            if !l.shared {
                return Err(l.clone());
            }
            if !shared_ok {
                first_shared.get_or_insert(l);
            }
        }
    }
    if !holds && let Some(l) = first_shared {
        return Err(l.clone());
    }
    if deep {
        for l in locks
            .iter()
            .filter(|l| l.path != key && is_ancestor_or_self(key, &l.path))
        {
            if (!l.shared || !shared_ok) && !owns(l) {
                return Err(l.clone());
            }
        }
    }
    Ok(())
}

impl DavLockSystem for DbLs {
    fn lock(
        &'_ self,
        path: &DavPath,
        principal: Option<&str>,
        owner: Option<&Element>,
        timeout: Option<Duration>,
        shared: bool,
        deep: bool,
    ) -> LsFuture<'_, Result<DavLock, DavLock>> {
        let key = self.key(path);
        let principal = principal.unwrap_or("").to_owned();
        let owner = owner.and_then(owner_to_text);
        async move {
            let locks = self.related(&key).await;
            if let Err(l) = check(&locks, &key, None, true, deep, &[], shared) {
                return Err(self.to_dav(&l));
            }
            let timeout = timeout.unwrap_or(MAX_TIMEOUT).min(MAX_TIMEOUT);
            let stored = StoredLock {
                token: format!("opaquelocktoken:{}", uuid_like()),
                path: key,
                principal,
                owner,
                deep,
                shared,
                timeout_at_ms: Some(now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(0)),
            };
            if let Err(e) = self.db.insert_lock(stored.clone()).await {
                tracing::error!(error = %e, "storing a lock failed");
                // Report a conflict rather than a lock that does not exist.
                return Err(self.to_dav(&stored));
            }
            Ok(self.to_dav(&stored))
        }
        .boxed()
    }

    fn unlock(&'_ self, path: &DavPath, token: &str) -> LsFuture<'_, Result<(), ()>> {
        let key = self.key(path);
        let token = token.to_owned();
        async move {
            match self.db.lock_by_token(&token).await {
                Ok(Some(l)) if is_ancestor_or_self(&l.path, &key) => {
                    self.db.delete_lock(&token).await.map(drop).map_err(|e| {
                        tracing::error!(error = %e, "removing a lock failed");
                    })
                }
                _ => Err(()),
            }
        }
        .boxed()
    }

    fn refresh(
        &'_ self,
        path: &DavPath,
        token: &str,
        timeout: Option<Duration>,
    ) -> LsFuture<'_, Result<DavLock, ()>> {
        let key = self.key(path);
        let token = token.to_owned();
        async move {
            let Ok(Some(mut l)) = self.db.lock_by_token(&token).await else {
                return Err(());
            };
            if !is_ancestor_or_self(&l.path, &key) {
                return Err(());
            }
            let timeout = timeout.unwrap_or(MAX_TIMEOUT).min(MAX_TIMEOUT);
            l.timeout_at_ms = Some(now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(0));
            match self.db.refresh_lock(&token, l.timeout_at_ms).await {
                Ok(true) => Ok(self.to_dav(&l)),
                _ => Err(()),
            }
        }
        .boxed()
    }

    fn check(
        &'_ self,
        path: &DavPath,
        principal: Option<&str>,
        ignore_principal: bool,
        deep: bool,
        submitted_tokens: &[String],
    ) -> LsFuture<'_, Result<(), DavLock>> {
        let key = self.key(path);
        let principal = principal.map(str::to_owned);
        let tokens = submitted_tokens.to_vec();
        async move {
            let locks = self.related(&key).await;
            check(
                &locks,
                &key,
                principal.as_deref(),
                ignore_principal,
                deep,
                &tokens,
                false,
            )
            .map_err(|l| self.to_dav(&l))
        }
        .boxed()
    }

    fn discover(&'_ self, path: &DavPath) -> LsFuture<'_, Vec<DavLock>> {
        let key = self.key(path);
        async move {
            let known = self.discovered.as_ref().and_then(|d| {
                let d = d.lock().ok()?;
                let d = d.as_ref()?;
                // Every lock related to a path below `d.key` is related to `d.key` too.
                let below = key
                    .strip_prefix(d.key.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                below.then(|| d.locks.clone())
            });
            let locks = match known {
                Some(l) => l,
                None => {
                    let l = self.related(&key).await;
                    if let Some(d) = &self.discovered
                        && !key.is_empty()
                        && let Ok(mut d) = d.lock()
                    {
                        *d = Some(Discovered {
                            key: key.clone(),
                            locks: l.clone(),
                        });
                    }
                    l
                }
            };
            locks
                .iter()
                .filter(|l| is_ancestor_or_self(&l.path, &key) && (l.path == key || l.deep))
                .map(|l| self.to_dav(l))
                .collect()
        }
        .boxed()
    }

    fn delete(&'_ self, path: &DavPath) -> LsFuture<'_, Result<(), ()>> {
        let key = self.key(path);
        async move {
            self.db.delete_locks_under(&key).await.map_err(|e| {
                tracing::error!(error = %e, "removing locks failed");
            })
        }
        .boxed()
    }
}

/// Serializes the client's `<D:owner>` element so that it parses back: xmltree writes an element
/// whose prefix is bound only on an ancestor (`D:` on the `lockinfo`) without declaring it, so
/// every prefix used in the subtree is declared on the owner element itself first.
fn owner_to_text(owner: &Element) -> Option<String> {
    fn collect(e: &Element, ns: &mut xmltree::Namespace) {
        if let (Some(p), Some(uri)) = (&e.prefix, &e.namespace) {
            ns.put(p.clone(), uri.clone());
        }
        for child in &e.children {
            if let xmltree::XMLNode::Element(c) = child {
                collect(c, ns);
            }
        }
    }
    let mut owner = owner.clone();
    let mut ns = owner
        .namespaces
        .clone()
        .unwrap_or_else(xmltree::Namespace::empty);
    collect(&owner, &mut ns);
    owner.namespaces = Some(ns);
    let mut buf = Vec::new();
    owner.write(&mut buf).ok()?;
    let text = String::from_utf8(buf).ok()?;
    // Keep only what parses back; a lock without an owner beats a lock that cannot be listed.
    Element::parse(text.as_bytes()).ok().map(|_| text)
}

fn uuid_like() -> String {
    let v: u128 = rand::random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn owner_xml_survives_the_round_trip_through_text() {
        for body in [
            &br#"<?xml version="1.0" encoding="utf-8"?><lockinfo xmlns="DAV:"><owner>litmus test suite</owner></lockinfo>"#[..],
            &br#"<D:lockinfo xmlns:D="DAV:"><D:owner><D:href>mailto:a@b</D:href></D:owner></D:lockinfo>"#[..],
        ] {
            let info = Element::parse(body).unwrap();
            let owner = info.get_child("owner").unwrap();
            let text = owner_to_text(owner).unwrap();
            let back = Element::parse(text.as_bytes()).unwrap();
            assert_eq!(back.name, "owner");
            assert_eq!(back.namespace.as_deref(), Some("DAV:"));
        }
    }
}
