//! Nextcloud's DAV paths: `/remote.php/dav/files/<user>/…` (the gateway's WebDAV tree, which
//! rclone's `vendor=nextcloud` requires) and `/remote.php/dav/uploads/<user>/…` (chunked
//! uploads, `chunked/`). `<user>` must name the authenticated user.

use percent_encoding::percent_decode_str;

use crate::auth::Session;

/// The files tree.
pub(crate) const FILES: &str = "/remote.php/dav/files/";
/// The chunked uploads tree.
pub(crate) const UPLOADS: &str = "/remote.php/dav/uploads/";

/// A raw request path below `base`: the decoded user, the prefix up to and including the
/// user segment (raw), and the rest (raw, `/` when empty).
pub(crate) fn split<'a>(raw: &'a str, base: &str) -> Option<(String, &'a str, &'a str)> {
    let tail = raw.strip_prefix(base)?;
    let (user, rest_at) = match tail.find('/') {
        Some(i) => (&tail[..i], base.len() + i),
        None => (tail, raw.len()),
    };
    if user.is_empty() {
        return None;
    }
    let user = percent_decode_str(user).decode_utf8().ok()?.into_owned();
    let (prefix, rest) = raw.split_at(rest_at);
    Some((user, prefix, if rest.is_empty() { "/" } else { rest }))
}

/// Whether `user` (from the URL) names the authenticated user: the name it authenticated with
/// (an access key id, or the user of Basic with a token) or its ScaiDrive user id.
pub(crate) fn is_self(user: &str, session: &Session, login: Option<&str>) -> bool {
    user == session.principal() || login.is_some_and(|l| l == user)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn splits_the_user_and_the_rest() {
        assert_eq!(
            split("/remote.php/dav/files/al%20ice/Docs/a.txt", FILES),
            Some((
                "al ice".to_owned(),
                "/remote.php/dav/files/al%20ice",
                "/Docs/a.txt"
            ))
        );
        assert_eq!(
            split("/remote.php/dav/files/bob", FILES),
            Some(("bob".to_owned(), "/remote.php/dav/files/bob", "/"))
        );
        assert_eq!(split("/remote.php/dav/files/", FILES), None);
        assert_eq!(split("/Docs/a.txt", FILES), None);
    }
}
