//! Per-entry READ as ScaiDrive decides it, without a call per entry: READ on a folder lists
//! every child by name, but a child's attributes and content need READ on the child, which a
//! `deny` ACL entry may take away from one file of a readable folder.
//!
//! What the gateway knows of one principal's READ on the entries of a folder lives with that
//! principal's cached listing of the folder ([`Known`]) and goes when the listing goes (TTL,
//! writes, the change feed). Unknown entries are asked about in `POST /permissions/check/batch`
//! calls of up to 100 resources; a call made for one entry also asks about other unknown files
//! of the same folder, so that the HEADs of its siblings that usually follow cost nothing. A
//! file this principal created or replaced through the gateway counts as readable for its
//! attributes (they are what the principal itself just sent) until the listing is fetched
//! again; its content is still checked (see [`Need::Content`]). `docs/mapping.md`
//! § Permissions describes what each path checks.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt as _;

use super::{Entry, FolderRef, Listing, Store, StoreError, StoreResult};
use crate::auth::Session;
use crate::scaidrive::acl::{MAX_BATCH_CHECKS, ResourceType, perm};

/// Batch checks of one listing in flight at once.
const CONCURRENT_BATCHES: usize = 4;

/// What is known of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Created or replaced by this principal through the gateway; not asked.
    Own,
    /// ScaiDrive said READ.
    Read,
    /// ScaiDrive said no READ.
    Denied,
}

/// This principal's READ on the entries of one listing, by entry id. A patched listing (a
/// write through the gateway) shares it with the listing it was patched from: the knowledge
/// lives as long as the folder's view is not fetched again, and a write does not copy it.
/// Batch checks of one listing are asked one call set at a time (`asking`): requests that
/// arrive while one is in flight wait for its answer, which usually covers their entries too,
/// instead of each asking about the same unknown files.
#[derive(Default, Clone)]
pub(crate) struct Known(
    Arc<Mutex<HashMap<String, Seen>>>,
    Arc<tokio::sync::Mutex<()>>,
);

impl Known {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Seen>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str) -> Option<Seen> {
        self.lock().get(id).copied()
    }

    /// Records that this principal wrote the file (kept when ScaiDrive already answered).
    pub(crate) fn own(&self, id: &str) {
        self.lock().entry(id.to_owned()).or_insert(Seen::Own);
    }
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Known({} entries)", self.lock().len())
    }
}

/// What the caller is about to serve of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Attributes: ETag, headers, user metadata, tags, checksums, dead properties.
    Attributes,
    /// Content whose answer head goes out before the upstream download answers (WebDAV GET):
    /// a file the principal wrote is asked about too.
    Content,
}

fn resource_type(e: &Entry) -> ResourceType {
    match e {
        Entry::File(_) => ResourceType::File,
        Entry::Folder(_) => ResourceType::Folder,
    }
}

fn id_of(e: &Entry) -> &str {
    e.id()
}

impl Store {
    /// Fails with `AccessDenied` unless this principal may read `entry` of `folder` (as
    /// ScaiDrive would answer for the entry itself). Costs nothing when known.
    pub async fn check_read(
        &self,
        s: &Session,
        folder: &FolderRef,
        entry: &Entry,
        need: Need,
    ) -> StoreResult<()> {
        let listing = self.list(s, folder).await?;
        if self
            .unreadable(s, &listing, &[entry], need)
            .await?
            .is_empty()
        {
            Ok(())
        } else {
            Err(StoreError::AccessDenied(format!(
                "no READ permission on '{}'",
                entry.name()
            )))
        }
    }

    /// The ids of those `entries` of `listing` (this principal's) that it may not read,
    /// asking ScaiDrive about the unknown ones in batches.
    pub async fn unreadable(
        &self,
        s: &Session,
        listing: &Listing,
        entries: &[&Entry],
        need: Need,
    ) -> StoreResult<HashSet<String>> {
        let known = &listing.access;
        let unknown = |id: &str| match known.get(id) {
            None => true,
            Some(Seen::Own) => need == Need::Content,
            Some(_) => false,
        };
        let wanted = || {
            let mut ask: Vec<&Entry> = Vec::new();
            let mut asked: HashSet<&str> = HashSet::new();
            for e in entries {
                if unknown(id_of(e)) && asked.insert(id_of(e)) {
                    ask.push(e);
                }
            }
            (ask, asked)
        };
        let (mut ask, mut asked) = wanted();
        // Held until the answers are recorded; what is still unknown once it is ours is asked.
        let mut _asking = None;
        if !ask.is_empty() {
            _asking = Some(known.1.lock().await);
            (ask, asked) = wanted();
        }
        if !ask.is_empty() {
            // Fill the last batch with other unknown files of the folder (for content, one's
            // own new files too: reading back what was just written is the common case).
            let room = (MAX_BATCH_CHECKS - ask.len() % MAX_BATCH_CHECKS) % MAX_BATCH_CHECKS;
            let fill: Vec<&Entry> = listing
                .entries
                .iter()
                .filter(|e| matches!(e, Entry::File(_)))
                .filter(|e| unknown(id_of(e)) && !asked.contains(id_of(e)))
                .take(room)
                .collect();
            ask.extend(fill);
            // A large folder needs several batches: a few at once, so that a cold listing
            // of thousands of files does not wait for them one after the other.
            let client = &self.inner.client;
            let mut batches = Vec::new();
            for chunk in ask.chunks(MAX_BATCH_CHECKS) {
                let resources: Vec<(ResourceType, String)> = chunk
                    .iter()
                    .map(|e| (resource_type(e), id_of(e).to_owned()))
                    .collect();
                batches.push(async move {
                    let ids: Vec<(ResourceType, &str)> =
                        resources.iter().map(|(t, id)| (*t, id.as_str())).collect();
                    let allowed = client.check_batch(s.token(), &ids, perm::READ).await?;
                    Ok::<_, StoreError>((resources, allowed))
                });
            }
            let mut answers = futures::stream::iter(batches).buffer_unordered(CONCURRENT_BATCHES);
            while let Some(answer) = answers.next().await {
                let (resources, allowed) = answer?;
                let mut map = known.lock();
                for (_, id) in resources {
                    let seen = match allowed.contains(id.as_str()) {
                        true => Seen::Read,
                        false => Seen::Denied,
                    };
                    map.insert(id, seen);
                }
            }
        }
        Ok(entries
            .iter()
            .map(|e| id_of(e))
            .filter(|id| known.get(id) == Some(Seen::Denied))
            .map(str::to_owned)
            .collect())
    }
}
