//! Chunk names and places: `n` (1…10000, Nextcloud) or `<start>-<end>` (rclone's byte
//! ranges); where numbered chunks start once the chunks before them are known; whether the
//! chunks received make a whole file.

use crate::state::UploadChunk;

/// Highest chunk number Nextcloud accepts.
pub(super) const MAX_CHUNK_NUMBER: u64 = 10_000;

/// Where a chunk goes, from its name: `n` (1…10000) or `start-end` (bytes, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkName {
    Number(u64),
    Range(u64, u64),
}

pub(super) fn parse_chunk_name(name: &str) -> Option<ChunkName> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((a, b)) = name.split_once('-') {
        if !digits(a) || !digits(b) {
            return None;
        }
        let (a, b) = (a.parse().ok()?, b.parse().ok()?);
        return (b >= a).then_some(ChunkName::Range(a, b));
    }
    if !digits(name) {
        return None;
    }
    let n: u64 = name.parse().ok()?;
    (1..=MAX_CHUNK_NUMBER)
        .contains(&n)
        .then_some(ChunkName::Number(n))
}

/// Offsets of the numbered chunks that follow a placed chain from chunk 1: `(name, offset)`
/// for every chunk recorded without an offset whose predecessors are all placed now.
pub(super) fn placeable(chunks: &[UploadChunk]) -> Vec<(String, u64)> {
    let mut numbered: Vec<(u64, &UploadChunk)> = chunks
        .iter()
        .filter_map(|c| match parse_chunk_name(&c.name) {
            Some(ChunkName::Number(n)) => Some((n, c)),
            _ => None,
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let mut out = Vec::new();
    let mut next = (1u64, 0u64);
    for (n, c) in numbered {
        if n != next.0 {
            break;
        }
        let offset = c.offset.unwrap_or(next.1);
        if c.offset.is_none() {
            out.push((c.name.clone(), offset));
        }
        next = (n + 1, offset + c.size);
    }
    out
}

/// The byte range `0..end` the placed chunks cover without gap, or the first gap.
pub(super) fn coverage(chunks: &[UploadChunk]) -> Result<u64, String> {
    if let Some(c) = chunks.iter().find(|c| c.offset.is_none()) {
        return Err(format!(
            "chunk {} cannot be placed: a chunk before it is missing",
            c.name
        ));
    }
    let mut placed: Vec<(u64, u64)> = chunks
        .iter()
        .filter_map(|c| c.offset.map(|o| (o, c.size)))
        .collect();
    placed.sort_unstable();
    let mut end = 0u64;
    for (offset, size) in placed {
        if offset > end {
            return Err(format!("bytes {end}–{} were never uploaded", offset - 1));
        }
        if offset < end {
            return Err(format!("two chunks overlap at byte {offset}"));
        }
        end = offset + size;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chunk(name: &str, offset: Option<u64>, size: u64) -> UploadChunk {
        UploadChunk {
            name: name.into(),
            offset,
            size,
            created_at: String::new(),
            staged: None,
        }
    }

    #[test]
    fn chunk_names() {
        assert_eq!(parse_chunk_name("1"), Some(ChunkName::Number(1)));
        assert_eq!(parse_chunk_name("00042"), Some(ChunkName::Number(42)));
        assert_eq!(parse_chunk_name("10001"), None);
        assert_eq!(parse_chunk_name("0"), None);
        assert_eq!(
            parse_chunk_name("000000000000000-000000001048575"),
            Some(ChunkName::Range(0, 1_048_575))
        );
        assert_eq!(parse_chunk_name("5-4"), None);
        assert_eq!(parse_chunk_name(".file"), None);
        assert_eq!(parse_chunk_name("a"), None);
    }

    #[test]
    fn numbered_chunks_are_placed_once_their_predecessors_are() {
        let chunks = [
            chunk("00003", None, 5),
            chunk("00001", Some(0), 10),
            chunk("00004", None, 2),
        ];
        assert!(placeable(&chunks).is_empty());
        let chunks = [
            chunk("00003", None, 5),
            chunk("00001", Some(0), 10),
            chunk("00002", None, 10),
            chunk("00004", None, 2),
        ];
        assert_eq!(
            placeable(&chunks),
            vec![
                ("00002".to_owned(), 10),
                ("00003".to_owned(), 20),
                ("00004".to_owned(), 25)
            ]
        );
    }

    #[test]
    fn coverage_finds_gaps_and_overlaps() {
        assert_eq!(
            coverage(&[chunk("2", Some(10), 5), chunk("1", Some(0), 10)]),
            Ok(15)
        );
        assert!(coverage(&[chunk("1", Some(0), 10), chunk("3", Some(12), 5)]).is_err());
        assert!(coverage(&[chunk("1", Some(0), 10), chunk("2", Some(5), 5)]).is_err());
        assert!(coverage(&[chunk("1", Some(0), 10), chunk("3", None, 5)]).is_err());
    }
}
