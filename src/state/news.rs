//! What changed in a share since a generation: the records several instances read from each
//! other (see `coherence.rs`), and how many are kept and read.

/// Records kept per share: an instance further behind than this drops its cache of the share.
pub(crate) const CHANGES_KEPT: i64 = 1024;
/// The older records of a share are pruned when its generation is a multiple of this.
pub(crate) const PRUNE_EVERY: i64 = 256;
/// Most records read per share in one [`StateDb::share_news`](super::StateDb::share_news); further behind, the cache of
/// the share is dropped instead.
pub(crate) const CHANGES_READ: i64 = 256;

/// What changed in one share since a generation ([`StateDb::share_news`](super::StateDb::share_news)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareNews {
    pub share_id: String,
    /// The share's generation now.
    pub generation: u64,
    /// (generation, change) recorded after the known generation, oldest first; complete only
    /// when they run from the known generation + 1 up to `generation`.
    pub changes: Vec<(u64, String)>,
}

impl ShareNews {
    /// Whether `changes` cover every generation from `known + 1` to `generation` (`known` may
    /// be newer than the generation they were read from: earlier records are then ignored).
    pub fn complete_since(&self, known: u64) -> bool {
        let mut next = known + 1;
        for (g, _) in self.changes.iter().filter(|(g, _)| *g > known) {
            if *g != next {
                return false;
            }
            next += 1;
        }
        next > self.generation
    }
}
