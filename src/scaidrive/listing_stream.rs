//! A folder listing (`GET /folders/{id}/children`) read as its body streams in: each entry of
//! `items` is parsed as soon as its last byte has arrived, so parsing overlaps the transfer and
//! the whole body is never held (only the entry in progress and the parsed entries).
//!
//! The scanner knows just enough JSON to find where each top-level member and each element of
//! `items` ends (strings with escapes, nesting); every piece it finds is then parsed by
//! `serde_json`, so what is accepted is what the whole-body parse (`Listing`'s `Deserialize`)
//! accepts. A body that ends early is an error, never a shorter listing.

use super::error::{Error, Result};
use super::folder_types::{Item, Listing, RawItem};

/// Where the scanner is in the top-level object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before `{`.
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,`: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After `:`: the member's value.
    Value,
    /// After `"items": [`: an element or `]`.
    FirstItem,
    /// After an element of `items`: `,` or `]`.
    ItemNext,
    /// After `,` in `items`: an element.
    Item,
    /// After a member: `,` or `}`.
    MemberNext,
    /// After the closing `}`: only white space.
    Done,
}

/// What a finished piece is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Key,
    Member,
    Item,
}

/// A piece being scanned for its end: from `start` (in `buf`), scanned up to `at`.
#[derive(Debug, Clone, Copy)]
struct Scan {
    piece: Piece,
    start: usize,
    at: usize,
    depth: u32,
    in_str: bool,
    esc: bool,
}

/// The incremental parser: [`feed`](Self::feed) the body's chunks, then
/// [`finish`](Self::finish).
#[derive(Debug)]
pub(crate) struct ListingParser {
    buf: Vec<u8>,
    pos: usize,
    state: State,
    scan: Option<Scan>,
    key: String,
    items: Vec<Item>,
    path: Option<String>,
    total: Option<u64>,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::protocol(format!("unexpected folder listing body: {what}"))
}

impl Default for ListingParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ListingParser {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            state: State::Start,
            scan: None,
            key: String::new(),
            items: Vec::new(),
            path: None,
            total: None,
        }
    }

    /// The entries parsed so far.
    #[cfg(test)]
    pub(crate) fn parsed(&self) -> usize {
        self.items.len()
    }

    /// Parses what `chunk` completes.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(chunk);
        self.run()?;
        // Keep only the piece in progress.
        let keep = self.scan.map_or(self.pos, |s| s.start);
        if keep > 0 {
            self.buf.drain(..keep);
            self.pos -= keep;
            if let Some(s) = &mut self.scan {
                s.at -= keep;
                s.start = 0;
            }
        }
        Ok(())
    }

    /// The listing, once the whole body was fed.
    pub(crate) fn finish(mut self) -> Result<Listing> {
        self.run()?;
        if self.state != State::Done {
            return Err(bad("the body ended before the listing did"));
        }
        let total = self.total.unwrap_or(self.items.len() as u64);
        Ok(Listing {
            items: self.items,
            path: self.path.unwrap_or_default(),
            total,
        })
    }

    /// The next byte that is not white space, leaving `pos` on it.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.buf.get(self.pos) {
            if !b.is_ascii_whitespace() {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn start_scan(&mut self, piece: Piece) {
        self.scan = Some(Scan {
            piece,
            start: self.pos,
            at: self.pos,
            depth: 0,
            in_str: false,
            esc: false,
        });
    }

    fn run(&mut self) -> Result<()> {
        loop {
            if let Some(scan) = self.scan {
                match self.scan_end(scan) {
                    Some(end) => {
                        self.scan = None;
                        self.pos = end;
                        self.piece(scan.piece, scan.start, end)?;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            let Some(b) = self.peek() else {
                return Ok(());
            };
            let state = self.state;
            match (state, b) {
                (State::Start, b'{') => self.step(State::FirstKey),
                (State::FirstKey, b'}') | (State::MemberNext, b'}') => self.step(State::Done),
                (State::FirstKey | State::Key, b'"') => self.start_scan(Piece::Key),
                (State::Colon, b':') => self.step(State::Value),
                (State::Value, b'[') if self.key == "items" => self.step(State::FirstItem),
                (State::Value, _) => self.start_scan(Piece::Member),
                (State::FirstItem, b']') | (State::ItemNext, b']') => self.step(State::MemberNext),
                (State::FirstItem | State::Item, _) => self.start_scan(Piece::Item),
                (State::ItemNext, b',') => self.step(State::Item),
                (State::MemberNext, b',') => self.step(State::Key),
                (_, b) => {
                    return Err(bad(format_args!(
                        "unexpected {:?} ({state:?})",
                        char::from(b)
                    )));
                }
            }
        }
    }

    fn step(&mut self, next: State) {
        self.pos += 1;
        self.state = next;
    }

    /// Where the piece scanned by `scan` ends (one past its last byte), or `None` when more of
    /// the body is needed (the scan state is kept).
    fn scan_end(&mut self, mut scan: Scan) -> Option<usize> {
        let first = self.buf[scan.start];
        let nested = matches!(first, b'{' | b'[' | b'"');
        while let Some(&b) = self.buf.get(scan.at) {
            scan.at += 1;
            if scan.in_str {
                if scan.esc {
                    scan.esc = false;
                } else if b == b'\\' {
                    scan.esc = true;
                } else if b == b'"' {
                    scan.in_str = false;
                    if scan.depth == 0 {
                        return Some(scan.at);
                    }
                }
                continue;
            }
            if !nested {
                // A number, `true`, `false` or `null` ends before its delimiter.
                if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
                    return Some(scan.at - 1);
                }
                continue;
            }
            match b {
                b'"' => scan.in_str = true,
                b'{' | b'[' => scan.depth += 1,
                b'}' | b']' => {
                    scan.depth = scan.depth.saturating_sub(1);
                    if scan.depth == 0 {
                        return Some(scan.at);
                    }
                }
                _ => {}
            }
        }
        self.scan = Some(scan);
        None
    }

    /// Parses a finished piece, `buf[start..end]`.
    fn piece(&mut self, piece: Piece, start: usize, end: usize) -> Result<()> {
        let bytes = &self.buf[start..end];
        match piece {
            Piece::Key => {
                self.key = serde_json::from_slice(bytes).map_err(bad)?;
                self.state = State::Colon;
            }
            Piece::Item => {
                let raw: RawItem = serde_json::from_slice(bytes).map_err(bad)?;
                let item = raw
                    .into_item()
                    .map_err(|field| bad(format_args!("an entry without {field}")))?;
                self.items.extend(item);
                self.state = State::ItemNext;
            }
            Piece::Member => {
                match self.key.as_str() {
                    "items" => return Err(bad("items is not an array")),
                    "path" => self.path = serde_json::from_slice(bytes).map_err(bad)?,
                    "total" => self.total = serde_json::from_slice(bytes).map_err(bad)?,
                    _ => {
                        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(bad)?;
                    }
                }
                self.state = State::MemberNext;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn whole(v: &Value) -> Listing {
        serde_json::from_value(v.clone()).unwrap()
    }

    fn sample() -> Value {
        json!({
            "path": "/A \"quoted\" {x}",
            "items": [
                {"type": "folder", "id": "fld_1", "name": "sub ]}"},
                {"type": "file", "id": "fil_1", "name": "a\\\"b", "size": 12,
                 "mime_type": "text/plain", "modified_at": "2026-01-02T03:04:05Z",
                 "extra": {"nested": [1, 2, {"x": "]"}]}},
                {"type": "link", "id": "lnk_1", "name": "skipped"},
                {"type": "file", "id": "fil_2", "name": "é", "size": 0, "modified_at": 1767323045.5}
            ],
            "total": 4,
            "more": [true, false, null]
        })
    }

    fn chunked(body: &[u8], size: usize) -> Result<Listing> {
        let mut p = ListingParser::new();
        for c in body.chunks(size.max(1)) {
            p.feed(c)?;
        }
        p.finish()
    }

    #[test]
    fn every_chunking_reads_what_the_whole_body_parse_reads() {
        let v = sample();
        let want = whole(&v);
        for body in [
            serde_json::to_vec(&v).unwrap(),
            serde_json::to_vec_pretty(&v).unwrap(),
        ] {
            for size in [1, 2, 3, 7, 64, body.len()] {
                assert_eq!(chunked(&body, size).unwrap(), want, "chunks of {size}");
            }
        }
    }

    #[test]
    fn entries_are_parsed_as_they_arrive() {
        let body = serde_json::to_vec(&sample()).unwrap();
        let cut = body.windows(5).position(|w| w == b"fil_2").unwrap();
        let mut p = ListingParser::new();
        p.feed(&body[..cut]).unwrap();
        // Both complete entries before the cut are parsed (the link is skipped).
        assert_eq!(p.parsed(), 2);
        p.feed(&body[cut..]).unwrap();
        assert_eq!(p.finish().unwrap().items.len(), 3);
    }

    #[test]
    fn a_body_cut_short_is_an_error_not_a_shorter_listing() {
        let body = serde_json::to_vec(&sample()).unwrap();
        for end in 0..body.len() {
            assert!(
                chunked(&body[..end], 16).is_err(),
                "accepted the first {end} bytes"
            );
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            &br#"[]"#[..],
            br#"{"items": {"a": 1}}"#,
            br#"{"items": null}"#,
            br#"{"items": [{"type": "file", "name": "x"}]}"#,
            br#"{"items": [] "total": 1}"#,
            br#"{"items": []} x"#,
            br#"{"items": [1]}"#,
            br#"{"total": "many"}"#,
        ] {
            assert!(
                chunked(body, 3).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn missing_or_null_members_default_as_in_the_whole_parse() {
        for body in [&br#"{}"#[..], br#"{"path": null, "total": null}"#] {
            let got = chunked(body, 2).unwrap();
            assert_eq!(got.items.len(), 0);
            assert_eq!(got.total, 0);
            assert_eq!(got.path, "");
        }
    }
}
