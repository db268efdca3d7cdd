//! Byte ranges: the `Range` request header the client sends and the `Content-Range` it reads.

use std::fmt;

/// A single byte range of a download (RFC 9110 §14.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`, both inclusive.
    FromTo(u64, u64),
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The `Range` header value, e.g. `bytes=0-99`.
    pub fn header_value(&self) -> String {
        match *self {
            ByteRange::FromTo(a, b) => format!("bytes={a}-{b}"),
            ByteRange::From(a) => format!("bytes={a}-"),
            ByteRange::Suffix(n) => format!("bytes=-{n}"),
        }
    }

    /// Whether the range is well formed on its own (`first <= last`).
    pub fn is_valid(&self) -> bool {
        match *self {
            ByteRange::FromTo(a, b) => a <= b,
            ByteRange::From(_) | ByteRange::Suffix(_) => true,
        }
    }

    /// Parse a single-range `Range` header value (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
    /// Multiple ranges, other units and malformed input give `None`.
    pub fn parse(value: &str) -> Option<ByteRange> {
        let spec = value.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        let (first, last) = (first.trim(), last.trim());
        let num = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                s.parse().ok()
            }
        };
        let range = match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => ByteRange::Suffix(num(last)?),
            (false, true) => ByteRange::From(num(first)?),
            (false, false) => ByteRange::FromTo(num(first)?, num(last)?),
        };
        range.is_valid().then_some(range)
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header_value())
    }
}

/// A parsed `Content-Range: bytes start-end/total` of a 206 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte, inclusive.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: u64,
    /// Complete length, `None` for `*`.
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parse `bytes a-b/N` or `bytes a-b/*`. Unsatisfied ranges (`bytes */N`) and inconsistent
    /// values (`a > b`, `b >= N`) give `None`.
    pub fn parse(value: &str) -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes")?;
        let rest = rest.trim_start();
        let (span, total) = rest.split_once('/')?;
        let (start, end) = span.trim().split_once('-')?;
        let start: u64 = start.trim().parse().ok()?;
        let end: u64 = end.trim().parse().ok()?;
        let total = match total.trim() {
            "*" => None,
            t => Some(t.parse::<u64>().ok()?),
        };
        if start > end || total.is_some_and(|t| end >= t) {
            return None;
        }
        Some(ContentRange { start, end, total })
    }

    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never true: a content range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.total {
            Some(t) => write!(f, "bytes {}-{}/{t}", self.start, self.end),
            None => write!(f, "bytes {}-{}/*", self.start, self.end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_header_formatting() {
        assert_eq!(ByteRange::FromTo(0, 99).header_value(), "bytes=0-99");
        assert_eq!(ByteRange::From(100).header_value(), "bytes=100-");
        assert_eq!(ByteRange::Suffix(500).header_value(), "bytes=-500");
        assert_eq!(ByteRange::FromTo(5, 5).to_string(), "bytes=5-5");
    }

    #[test]
    fn range_header_parsing() {
        assert_eq!(
            ByteRange::parse("bytes=0-99"),
            Some(ByteRange::FromTo(0, 99))
        );
        assert_eq!(ByteRange::parse(" bytes=10- "), Some(ByteRange::From(10)));
        assert_eq!(ByteRange::parse("bytes=-7"), Some(ByteRange::Suffix(7)));
        assert_eq!(ByteRange::parse("bytes=9-3"), None);
        assert_eq!(ByteRange::parse("bytes=0-1,5-6"), None);
        assert_eq!(ByteRange::parse("items=0-1"), None);
        assert_eq!(ByteRange::parse("bytes=-"), None);
        assert_eq!(ByteRange::parse("bytes=+1-2"), None);
        assert_eq!(ByteRange::parse("bytes=a-b"), None);
        for r in [
            ByteRange::FromTo(3, 8),
            ByteRange::From(0),
            ByteRange::Suffix(1),
        ] {
            assert_eq!(ByteRange::parse(&r.header_value()), Some(r));
        }
    }

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            ContentRange::parse("bytes 1048576-2097151/48293123"),
            Some(ContentRange {
                start: 1048576,
                end: 2097151,
                total: Some(48293123)
            })
        );
        assert_eq!(
            ContentRange::parse("bytes 0-0/*"),
            Some(ContentRange {
                start: 0,
                end: 0,
                total: None
            })
        );
        assert_eq!(ContentRange::parse("bytes */100"), None);
        assert_eq!(ContentRange::parse("bytes 5-4/100"), None);
        assert_eq!(ContentRange::parse("bytes 0-100/100"), None);
        assert_eq!(ContentRange::parse("items 0-1/2"), None);
        assert_eq!(ContentRange::parse("bytes 0-x/2"), None);
        let r = ContentRange::parse("bytes 10-19/20").unwrap_or(ContentRange {
            start: 0,
            end: 0,
            total: None,
        });
        assert_eq!(r.len(), 10);
        assert_eq!(r.to_string(), "bytes 10-19/20");
    }
}
