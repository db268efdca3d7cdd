//! Property tests of the name mapping: keys and WebDAV paths round-trip, refused shapes stay
//! refused, limits hold, and no two keys, buckets or collections ever share one name.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::bucket::{ShareRef, assign_bucket_names, assign_collection_names};
use super::key::{MAX_KEY_BYTES, MAX_SEGMENT_BYTES, NameError, ObjectPath, validate_segment};

/// Characters a name may hold, awkward ones weighted in: spaces, dots, percent signs, quotes,
/// non-ASCII letters (NFC and NFD), a 4-byte character.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just(' '),
        1 => Just('.'),
        1 => Just('%'),
        1 => Just('"'),
        1 => Just('#'),
        1 => Just('é'),
        1 => Just('\u{301}'),
        1 => Just('文'),
        1 => Just('😀'),
    ]
}

/// A name ScaiDrive accepts (1–255 bytes, not `.`/`..`, no separators or control characters).
fn segment() -> impl Strategy<Value = String> {
    proptest::collection::vec(name_char(), 1..24)
        .prop_map(|cs| cs.into_iter().collect::<String>())
        .prop_filter("valid name", |s| validate_segment(s).is_ok())
}

/// A key made of valid segments, with or without the directory marker.
fn valid_key() -> impl Strategy<Value = String> {
    (proptest::collection::vec(segment(), 1..6), any::<bool>()).prop_map(|(segs, dir)| {
        let mut k = segs.join("/");
        if dir {
            k.push('/');
        }
        k
    })
}

/// A segment that must be refused, and the error it must give.
fn bad_segment() -> impl Strategy<Value = (String, NameError)> {
    prop_oneof![
        Just((String::new(), NameError::EmptySegment)),
        Just((".".to_owned(), NameError::DotSegment)),
        Just(("..".to_owned(), NameError::DotSegment)),
        (
            segment(),
            prop_oneof![Just('\\'), Just('\u{0}'), Just('\t'), Just('\u{7f}')]
        )
            .prop_map(|(s, c)| (format!("{s}{c}"), NameError::ForbiddenChar(c))),
        Just(("x".repeat(MAX_SEGMENT_BYTES + 1), NameError::SegmentTooLong)),
        Just(("文".repeat(86), NameError::SegmentTooLong)),
    ]
}

fn share_refs() -> impl Strategy<Value = Vec<ShareRef>> {
    // Few distinct names so that clashes (same slug, same name) are common.
    let name = prop_oneof![
        Just("Documents".to_owned()),
        Just("documents".to_owned()),
        Just("Doc uments".to_owned()),
        Just("Fotos 2024".to_owned()),
        Just("Fötos-2024".to_owned()),
        Just("ab".to_owned()),
        Just("!!".to_owned()),
        "[a-z ]{1,70}",
    ];
    proptest::collection::vec((name, 0u8..4), 1..8).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (name, day))| ShareRef {
                id: format!("shr_01J{i:020}"),
                name,
                created_at: Some(format!("2024-01-0{}T00:00:00Z", day + 1)),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_valid_key_round_trips_byte_for_byte(key in valid_key()) {
        let p = ObjectPath::from_key(&key).unwrap();
        prop_assert_eq!(p.to_key(), key.clone());
        prop_assert_eq!(p.is_dir(), key.ends_with('/'));
        let segments = key.trim_end_matches('/').split('/').collect::<Vec<_>>();
        prop_assert_eq!(p.segments(), segments.as_slice());
    }

    #[test]
    fn a_path_round_trips_through_its_key(
        segs in proptest::collection::vec(segment(), 1..6),
        dir in any::<bool>(),
    ) {
        let p = ObjectPath::from_segments(segs, dir).unwrap();
        prop_assert_eq!(ObjectPath::from_key(&p.to_key()).unwrap(), p);
    }

    #[test]
    fn webdav_paths_map_like_keys(key in valid_key()) {
        let p = ObjectPath::from_key(&key).unwrap();
        let from_dav = ObjectPath::from_rel_path(&format!("/{key}"), false).unwrap();
        prop_assert_eq!(from_dav, p);
    }

    #[test]
    fn any_text_is_refused_or_maps_within_the_rules(key in "\\PC{0,40}|[a./\\\\]{0,12}") {
        match ObjectPath::from_key(&key) {
            Ok(p) => {
                prop_assert_eq!(p.to_key(), key.clone());
                prop_assert!(key.len() <= MAX_KEY_BYTES);
                for s in p.segments() {
                    prop_assert!(validate_segment(s).is_ok(), "segment {:?} of {:?}", s, key);
                }
            }
            Err(_) => {
                let body = key.strip_suffix('/').unwrap_or(&key);
                prop_assert!(
                    key.is_empty()
                        || key.starts_with('/')
                        || body.split('/').any(|s| validate_segment(s).is_err()),
                    "{:?} refused although every segment is valid", key
                );
            }
        }
    }

    #[test]
    fn a_bad_segment_anywhere_is_refused(
        before in proptest::collection::vec(segment(), 0..3),
        after in proptest::collection::vec(segment(), 0..3),
        (bad, err) in bad_segment(),
        dir in any::<bool>(),
    ) {
        let mut segs = before.clone();
        segs.push(bad.clone());
        segs.extend(after.iter().cloned());
        let mut key = segs.join("/");
        if dir {
            key.push('/');
        }
        // An empty last segment is the directory marker, an empty first one a leading slash.
        prop_assume!(!(bad.is_empty() && (after.is_empty() || before.is_empty())));
        prop_assume!(key.len() <= MAX_KEY_BYTES);
        prop_assert_eq!(ObjectPath::from_key(&key), Err(err.clone()));
        prop_assert_eq!(ObjectPath::from_rel_path(&key, false), Err(err.clone()));
        prop_assert_eq!(ObjectPath::from_segments(segs, dir), Err(err));
    }

    #[test]
    fn keys_over_the_limit_are_refused(seg in segment(), n in 1usize..80) {
        let key = vec![seg; n].join("/");
        let got = ObjectPath::from_key(&key);
        if key.len() > MAX_KEY_BYTES {
            prop_assert_eq!(got, Err(NameError::KeyTooLong));
        } else {
            prop_assert!(got.is_ok());
        }
    }

    #[test]
    fn two_different_keys_never_map_to_one_path(a in valid_key(), b in valid_key()) {
        let (pa, pb) = (ObjectPath::from_key(&a).unwrap(), ObjectPath::from_key(&b).unwrap());
        prop_assert_eq!(a == b, pa == pb);
        // The file and its directory marker are two entries too.
        let a_dir = format!("{}/", a.trim_end_matches('/'));
        let a_file = a.trim_end_matches('/').to_owned();
        prop_assert_ne!(
            ObjectPath::from_key(&a_dir).unwrap(),
            ObjectPath::from_key(&a_file).unwrap()
        );
    }

    #[test]
    fn joining_a_child_is_the_key_with_one_more_segment(base in valid_key(), name in segment()) {
        let parent = ObjectPath::from_key(&base).unwrap();
        let child = parent.join(&name, false).unwrap();
        prop_assert_eq!(child.to_key(), format!("{}/{}", base.trim_end_matches('/'), name));
        prop_assert_eq!(child.parent_segments(), parent.segments());
        prop_assert_eq!(child.name(), Some(name.as_str()));
    }

    #[test]
    fn every_share_gets_its_own_dns_safe_bucket_name(shares in share_refs()) {
        let names = assign_bucket_names(&shares, &HashMap::new());
        let ids: BTreeSet<&String> = names.values().collect();
        prop_assert_eq!(ids.len(), shares.len(), "a share lost its bucket: {:?}", names);
        prop_assert_eq!(names.len(), shares.len());
        for name in names.keys() {
            prop_assert!((3..=63).contains(&name.len()), "{:?}", name);
            prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!name.starts_with('-') && !name.ends_with('-'), "{:?}", name);
        }
        // The same shares listed in another order keep their names.
        let mut reversed = shares.clone();
        reversed.reverse();
        prop_assert_eq!(assign_bucket_names(&reversed, &HashMap::new()), names);
    }

    #[test]
    fn every_share_gets_its_own_collection_name(shares in share_refs()) {
        let names = assign_collection_names(&shares);
        prop_assert_eq!(names.len(), shares.len(), "a share lost its collection: {:?}", names);
        let mut reversed = shares.clone();
        reversed.reverse();
        prop_assert_eq!(assign_collection_names(&reversed), names);
    }
}
