//! IAM wildcard matching: `*` matches any run of characters (also none), `?` exactly one.

/// Whether `text` matches `pattern` (`*` and `?` wildcards, no escapes), comparing characters
/// exactly. Linear in practice: one backtrack point, the last `*` seen.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position after the last `*` in the pattern, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and try again.
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// [`matches`] ignoring ASCII case (actions are case-insensitive).
pub fn matches_ignore_case(pattern: &str, text: &str) -> bool {
    matches(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// The definition, written recursively (exponential, fine for short strings).
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some((&c, rest)) => match t.split_first() {
                Some((&d, trest)) if c == '?' || c == d => reference(rest, trest),
                _ => false,
            },
        }
    }

    #[test]
    fn wildcards_match_as_iam_documents_them() {
        assert!(matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c"));
        assert!(matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/"));
        assert!(!matches("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(matches("s3:Get*", "s3:GetObject"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*", ""));
        assert!(matches(
            "http://www.example.com/*",
            "http://www.example.com/"
        ));
        assert!(!matches(
            "http://www.example.com/*",
            "http://www.example.com"
        ));
        assert!(matches_ignore_case("S3:getobject", "s3:GetObject"));
        assert!(matches("é*", "éa"));
    }

    proptest! {
        #[test]
        fn agrees_with_the_recursive_definition(
            p in "[ab*?]{0,8}",
            t in "[abc]{0,10}",
        ) {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(matches(&p, &t), reference(&pc, &tc));
        }

        #[test]
        fn a_pattern_without_wildcards_is_equality(p in "[a-z/:]{0,8}", t in "[a-z/:]{0,8}") {
            prop_assert_eq!(matches(&p, &t), p == t);
        }
    }
}
