//! Shares ↔ S3 bucket names and WebDAV top-level collection names.
//!
//! A bucket name is a DNS-safe slug of the share name (lower case `a-z0-9-`, 3–63 characters).
//! When two visible shares slug to the same name, the oldest share (by creation time, then id)
//! keeps the plain slug and the others get a suffix from their share id, so names do not change
//! when shares are listed in another order. Configured aliases pin a name to a share id.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A share as the namespace sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRef {
    pub id: String,
    pub name: String,
    /// Creation time as given by ScaiDrive (ISO 8601; compared as text, which orders correctly).
    pub created_at: Option<String>,
}

/// Lower-cases and reduces a share name to `a-z0-9-`, 3–63 characters, no leading/trailing dash.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'à'..='å' => Some('a'),
            'è'..='ë' => Some('e'),
            'ì'..='ï' => Some('i'),
            'ò'..='ö' | 'ø' => Some('o'),
            'ù'..='ü' => Some('u'),
            'ç' => Some('c'),
            'ñ' => Some('n'),
            'ß' => Some('s'),
            _ => None,
        };
        match mapped {
            Some(m) => {
                out.push(m);
                dash = false;
            }
            None if !dash && !out.is_empty() => {
                out.push('-');
                dash = true;
            }
            None => {}
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(63);
    while out.ends_with('-') {
        out.pop();
    }
    while out.len() < 3 {
        if out.is_empty() {
            out.push_str("share");
        } else {
            out.push('0');
        }
    }
    out
}

/// A short, DNS-safe suffix derived from a share id (its last 6 alphanumerics, lower case).
fn id_suffix(id: &str) -> String {
    let alnum: Vec<char> = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let start = alnum.len().saturating_sub(6);
    alnum[start..].iter().collect()
}

fn with_suffix(slug: &str, id: &str) -> String {
    let suffix = id_suffix(id);
    let keep = 63usize.saturating_sub(suffix.len() + 1);
    let mut base: String = slug.chars().take(keep).collect();
    while base.ends_with('-') {
        base.pop();
    }
    format!("{base}-{suffix}")
}

/// Assigns a unique bucket name to every share. `aliases` maps bucket name → share id.
pub fn assign_bucket_names(
    shares: &[ShareRef],
    aliases: &HashMap<String, String>,
) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let aliased: HashSet<&str> = aliases.values().map(String::as_str).collect();
    for (name, id) in aliases {
        if shares.iter().any(|s| &s.id == id) {
            names.insert(name.clone(), id.clone());
        }
    }
    let mut ordered: Vec<&ShareRef> = shares
        .iter()
        .filter(|s| !aliased.contains(s.id.as_str()))
        .collect();
    ordered.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    for share in ordered {
        let slug = slugify(&share.name);
        let name = if names.contains_key(&slug) {
            with_suffix(&slug, &share.id)
        } else {
            slug
        };
        names.insert(name, share.id.clone());
    }
    names
}

/// Assigns a unique WebDAV collection name to every share: the share name as is, or
/// `Name (suffix)` for the younger of two shares with the same name.
pub fn assign_collection_names(shares: &[ShareRef]) -> BTreeMap<String, String> {
    let mut ordered: Vec<&ShareRef> = shares.iter().collect();
    ordered.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    let mut names = BTreeMap::new();
    for share in ordered {
        let usable = super::key::validate_segment(&share.name).is_ok();
        let name = if usable && !names.contains_key(&share.name) {
            share.name.clone()
        } else {
            format!(
                "{} ({})",
                share.name.replace('/', "_"),
                id_suffix(&share.id)
            )
        };
        names.insert(name, share.id.clone());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(id: &str, name: &str, created: &str) -> ShareRef {
        ShareRef {
            id: id.into(),
            name: name.into(),
            created_at: Some(created.into()),
        }
    }

    #[test]
    fn slug_is_dns_safe() {
        assert_eq!(slugify("Engineering"), "engineering");
        assert_eq!(slugify("Q3 Reports / Final!"), "q3-reports-final");
        assert_eq!(slugify("Café Crème"), "cafe-creme");
        assert_eq!(slugify("--x--"), "x00");
        assert_eq!(slugify("日本"), "share");
        assert_eq!(slugify(&"a".repeat(100)).len(), 63);
    }

    #[test]
    fn colliding_slugs_get_an_id_suffix_for_the_younger_share() {
        let shares = vec![
            share("shr_01JZZZZZZZBBBBBB", "Docs", "2026-02-01T00:00:00Z"),
            share("shr_01JZZZZZZZAAAAAA", "docs", "2026-01-01T00:00:00Z"),
        ];
        let names = assign_bucket_names(&shares, &HashMap::new());
        assert_eq!(names["docs"], "shr_01JZZZZZZZAAAAAA");
        assert_eq!(names["docs-bbbbbb"], "shr_01JZZZZZZZBBBBBB");
        // The listing order does not change the names.
        let mut reversed = shares.clone();
        reversed.reverse();
        assert_eq!(assign_bucket_names(&reversed, &HashMap::new()), names);
    }

    #[test]
    fn aliases_pin_names() {
        let shares = vec![share("shr_1", "Engineering", "2026-01-01T00:00:00Z")];
        let aliases = HashMap::from([("eng".to_string(), "shr_1".to_string())]);
        let names = assign_bucket_names(&shares, &aliases);
        assert_eq!(names.len(), 1);
        assert_eq!(names["eng"], "shr_1");
    }

    #[test]
    fn collection_names_keep_share_names_and_disambiguate() {
        let shares = vec![
            share("shr_01AAAAAA", "Team", "2026-01-01T00:00:00Z"),
            share("shr_01BBBBBB", "Team", "2026-03-01T00:00:00Z"),
            share("shr_01CCCCCC", "a/b", "2026-03-01T00:00:00Z"),
        ];
        let names = assign_collection_names(&shares);
        assert_eq!(names["Team"], "shr_01AAAAAA");
        assert_eq!(names["Team (bbbbbb)"], "shr_01BBBBBB");
        assert_eq!(names["a_b (cccccc)"], "shr_01CCCCCC");
    }
}
