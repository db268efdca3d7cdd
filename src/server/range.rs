//! WebDAV `Range` headers of GET and HEAD made safe before dav-server reads them: dav-server
//! 0.11 computes `start + count` of a range in `u64`, so a last byte of `u64::MAX` wraps (an
//! endless answer in release builds, a panic in debug ones). The header is parsed here
//! (RFC 9110 §14.1.2) and written back in a form dav-server handles right, or dropped (the
//! whole file, 200) when it is not a valid `bytes` range set or asks for more than
//! [`MAX_DAV_RANGES`] ranges. (S3 requests keep theirs: the header may be signed, and s3s
//! refuses what it cannot parse with a 400.)

use http::{HeaderMap, HeaderValue, header};

/// Most ranges a WebDAV answer serves; more (often overlapping, an amplification) get the
/// whole file instead.
pub(crate) const MAX_DAV_RANGES: usize = 16;
/// One range (for the tests of the cap).
#[cfg(test)]
const ONE_RANGE: usize = 1;

/// Any position at or past this is past the end of every file (ScaiDrive sizes are `i64`).
const BEYOND_ANY_FILE: u64 = i64::MAX as u64;

/// One byte range of a `Range: bytes=` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    /// `first-last`, or `first-` (`None`): positions that overflow `u64` saturate.
    From(u64, Option<u64>),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// A decimal position; digits beyond `u64` saturate (they are past the end of any file).
fn position(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

/// The ranges of a `Range` value, `None` when it is not a valid `bytes` range set (another
/// unit, bad syntax, a first position after the last).
pub(crate) fn parse(value: &str) -> Option<Vec<Spec>> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for part in set.split(',') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() {
            continue;
        }
        let (first, last) = part.split_once('-')?;
        let spec = if first.is_empty() {
            Spec::Suffix(position(last)?)
        } else {
            let first = position(first)?;
            let last = if last.is_empty() {
                None
            } else {
                Some(position(last)?)
            };
            if last.is_some_and(|l| l < first) {
                return None;
            }
            Spec::From(first, last)
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// The range set written back: a last position past any file is dropped (`first-`: the same
/// bytes, no overflow), a first one is capped at `i64::MAX` (still past the end: 416), and a
/// suffix longer than any file is the whole file.
pub(crate) fn render(specs: &[Spec]) -> String {
    let parts: Vec<String> = specs
        .iter()
        .map(|s| match *s {
            Spec::From(first, Some(last)) if last < BEYOND_ANY_FILE => format!("{first}-{last}"),
            Spec::From(first, _) => format!("{}-", first.min(BEYOND_ANY_FILE)),
            Spec::Suffix(n) if n >= BEYOND_ANY_FILE => "0-".to_owned(),
            Spec::Suffix(n) => format!("-{n}"),
        })
        .collect();
    format!("bytes={}", parts.join(","))
}

/// Rewrites or drops the `Range` header of a GET or HEAD (see the module doc).
pub(crate) fn make_safe(headers: &mut HeaderMap, max_ranges: usize) {
    let Some(value) = headers.get(header::RANGE) else {
        return;
    };
    let specs = value
        .to_str()
        .ok()
        .and_then(parse)
        .filter(|s| s.len() <= max_ranges);
    let safe = specs.and_then(|s| HeaderValue::from_str(&render(&s)).ok());
    match safe {
        Some(v) => {
            headers.insert(header::RANGE, v);
        }
        None => {
            headers.remove(header::RANGE);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        use Spec::*;
        assert_eq!(parse("bytes=0-9"), Some(vec![From(0, Some(9))]));
        assert_eq!(parse("Bytes = 5-"), Some(vec![From(5, None)]));
        assert_eq!(parse("bytes=-0"), Some(vec![Suffix(0)]));
        assert_eq!(
            parse("bytes=0-0, -1,,"),
            Some(vec![From(0, Some(0)), Suffix(1)])
        );
        assert_eq!(
            parse("bytes=5-99999999999999999999999"),
            Some(vec![From(5, Some(u64::MAX))])
        );
        for bad in [
            "items=0-5",
            "bytes 0-5",
            "bytes=",
            "bytes=5-3",
            "bytes=a-b",
            "bytes=--5",
            "bytes=0-5-7",
            "bytes=-",
            "bytes=+1-2",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rendered_ranges_never_reach_the_end_of_u64() {
        let specs =
            parse("bytes=5-18446744073709551615,0-18446744073709551614,-99999999999999999999")
                .unwrap();
        assert_eq!(render(&specs), "bytes=5-,0-,0-");
        let past = parse("bytes=99999999999999999999-").unwrap();
        assert_eq!(render(&past), "bytes=9223372036854775807-");
        assert_eq!(
            render(&parse("bytes=1-2,-3,4-").unwrap()),
            "bytes=1-2,-3,4-"
        );
    }

    #[test]
    fn too_many_or_invalid_ranges_are_dropped() {
        let mut h = HeaderMap::new();
        let many = format!("bytes=0-1{}", ",0-1".repeat(MAX_DAV_RANGES));
        h.insert(header::RANGE, HeaderValue::from_str(&many).unwrap());
        make_safe(&mut h, MAX_DAV_RANGES);
        assert!(h.get(header::RANGE).is_none());
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-1,3-4"));
        make_safe(&mut h, ONE_RANGE);
        assert!(h.get(header::RANGE).is_none());
        h.insert(header::RANGE, HeaderValue::from_static("bytes=9-1"));
        make_safe(&mut h, MAX_DAV_RANGES);
        assert!(h.get(header::RANGE).is_none());
        h.insert(
            header::RANGE,
            HeaderValue::from_static("bytes=5-18446744073709551615"),
        );
        make_safe(&mut h, ONE_RANGE);
        assert_eq!(h.get(header::RANGE).unwrap(), "bytes=5-");
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(value in "\\PC{0,64}") {
            let _ = parse(&value);
        }

        #[test]
        fn rendered_ranges_parse_back_within_bounds(
            specs in proptest::collection::vec(
                prop_oneof![
                    (any::<u64>(), proptest::option::of(any::<u64>())).prop_map(|(a, b)| {
                        Spec::From(a, b.map(|b| b.max(a)))
                    }),
                    any::<u64>().prop_map(Spec::Suffix),
                ],
                1..8,
            )
        ) {
            let text = render(&specs);
            let back = parse(&text).unwrap();
            prop_assert_eq!(back.len(), specs.len());
            for (orig, got) in specs.iter().zip(&back) {
                match (*orig, *got) {
                    (Spec::From(a, _), Spec::From(b, last)) => {
                        prop_assert_eq!(a.min(BEYOND_ANY_FILE), b);
                        // dav-server adds one to the last position: it must not be u64::MAX.
                        prop_assert!(last.is_none_or(|l| l < BEYOND_ANY_FILE));
                    }
                    (Spec::Suffix(n), Spec::Suffix(m)) => {
                        prop_assert_eq!(n, m);
                        prop_assert!(m < BEYOND_ANY_FILE);
                    }
                    (Spec::Suffix(n), Spec::From(0, None)) => prop_assert!(n >= BEYOND_ANY_FILE),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
        }

        #[test]
        fn ranges_as_written_by_clients_parse_to_what_they_say(
            first in 0u64..1 << 40, len in 0u64..1 << 20, spaces in " {0,2}"
        ) {
            let text = format!("bytes={spaces}{first}-{}", first + len);
            prop_assert_eq!(parse(&text), Some(vec![Spec::From(first, Some(first + len))]));
        }
    }
}
