//! The request path and `Destination` as the client sent them, checked before dav-server sees
//! them: dav-server resolves `.` and `..` (so `DELETE /a/b/..` would delete `a`) and has no
//! words for names ScaiDrive refuses (they came back as a bare 409 or 404). A refused path is
//! answered 400 with the reason; see `docs/webdav.md` ("Names and paths").

use percent_encoding::percent_decode_str;

use crate::namespace::{NameError, validate_segment};

/// The decoded, non-empty segments of a raw (percent-encoded) request path, collection name
/// first, or why the path is refused. Empty segments (`a//b`) are skipped, as dav-server does;
/// `.` and `..` (also as `%2E`), a `/` sent as `%2F`, names that are not UTF-8 and, below the
/// collection, every name ScaiDrive refuses are not.
pub(crate) fn segments(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        let name = percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| "a name is not valid UTF-8 once percent-decoded".to_owned())?;
        if name.contains('/') {
            return Err(
                "a name contains '/' (sent as %2F); '/' only separates names in a path".to_owned(),
            );
        }
        if name == "." || name == ".." {
            return Err(why(&NameError::DotSegment));
        }
        // The collection (share) name is looked up as it is; below it, ScaiDrive's name rules.
        if !out.is_empty() {
            validate_segment(&name).map_err(|e| why(&e))?;
        }
        out.push(name.into_owned());
    }
    Ok(out)
}

/// The path of a `Destination` header, an absolute URL or an absolute path, as sent (a URL
/// parser would already have resolved its dot segments).
pub(crate) fn destination_path(value: &str) -> &str {
    let value = value.trim();
    let path = match value.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => rest.find('/').map_or("/", |i| &rest[i..]),
        _ => value,
    };
    path.split(['?', '#']).next().unwrap_or(path)
}

/// The reason given to the client for a refused name.
fn why(e: &NameError) -> String {
    match e {
        NameError::DotSegment => {
            "the path has a '.' or '..' segment; such segments are refused, not resolved".to_owned()
        }
        NameError::SegmentTooLong => {
            "a name is longer than 255 bytes, the longest name ScaiDrive accepts".to_owned()
        }
        NameError::ForbiddenChar(c) => format!(
            "a name contains {c:?}; ScaiDrive does not accept '\\', '/' or control characters in names"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn good_paths_decode_to_their_names() {
        let table: &[(&str, &[&str])] = &[
            ("/", &[]),
            ("/Documents/", &["Documents"]),
            ("/Documents//a/", &["Documents", "a"]),
            ("/My%20Share/a%20b/c.txt", &["My Share", "a b", "c.txt"]),
            ("/Documents/caf%C3%A9", &["Documents", "café"]),
            ("/Documents/...", &["Documents", "..."]),
            ("/Documents/.hidden/..x", &["Documents", ".hidden", "..x"]),
            ("/Documents/._f.txt", &["Documents", "._f.txt"]),
            ("/Documents/a%25b", &["Documents", "a%b"]),
        ];
        for (raw, want) in table {
            assert_eq!(segments(raw).unwrap(), *want, "{raw}");
        }
        let longest = format!("/D/{}", "x".repeat(255));
        assert_eq!(segments(&longest).unwrap().len(), 2);
    }

    #[test]
    fn bad_paths_are_refused_with_the_reason() {
        let long = format!("/D/{}", "x".repeat(256));
        let long_wide = format!("/D/{}", "%E6%96%87".repeat(86));
        let table: &[(&str, &str)] = &[
            ("/D/a/..", "'..'"),
            ("/D/a/../", "'..'"),
            ("/D/a/%2E%2E", "'..'"),
            ("/D/a/%2e%2e/b", "'..'"),
            ("/D/a/.%2E", "'..'"),
            ("/D/a/.", "'..'"),
            ("/D/%2E/a", "'..'"),
            ("/..", "'..'"),
            ("/./D", "'..'"),
            ("/D/a%2Fb", "%2F"),
            ("/D%2F..", "%2F"),
            ("/D/a%5Cb", "'\\\\'"),
            ("/D/a%00b", "'\\0'"),
            ("/D/a%01b", "'\\u{1}'"),
            ("/D/a%09b", "'\\t'"),
            ("/D/a%7Fb", "'\\u{7f}'"),
            ("/D/a%C2%85b", "'\\u{85}'"),
            ("/D/a%FFb", "UTF-8"),
            (&long, "255 bytes"),
            (&long_wide, "255 bytes"),
        ];
        for (raw, why) in table {
            let e = segments(raw).unwrap_err();
            assert!(e.contains(why), "{raw}: {e:?} lacks {why}");
        }
    }

    #[test]
    fn destination_path_is_taken_as_sent() {
        let table = [
            ("http://h:8080/D/a/../b", "/D/a/../b"),
            ("https://h/D/%2E%2E/b?x=1", "/D/%2E%2E/b"),
            ("http://h", "/"),
            ("/D/./b", "/D/./b"),
            (" /D/b#frag", "/D/b"),
        ];
        for (value, want) in table {
            assert_eq!(destination_path(value), want, "{value}");
        }
    }
}
