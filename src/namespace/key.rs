//! Object keys and WebDAV paths ↔ ScaiDrive folder chains.
//!
//! A key is split on `/`. Every segment must be a name ScaiDrive accepts (see
//! [`validate_segment`]); a key that ends in `/` names a folder (a directory marker). Keys that
//! cannot be represented one-to-one are refused, never silently aliased.

use std::fmt;

/// Longest object key S3 allows, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest single name ScaiDrive accepts, in bytes (the emulator's strict reading).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// The folder at a share's root where the gateway stages multipart parts: hidden from every
/// listing and refused as the first segment of a path.
pub const STAGING_FOLDER: &str = ".scaidrive-gateway-uploads";
/// The read-only tree of every file's versions at the top of each WebDAV share (never a real
/// folder: refused as the first segment of a path, like the staging folder).
pub const VERSIONS_DIR: &str = ".scaidrive-versions";
/// The read-only view of ScaiDrive's trash at the top of each WebDAV share (reserved likewise).
pub const TRASH_DIR: &str = ".scaidrive-trash";

/// Why a key or name cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is longer than {MAX_KEY_BYTES} bytes")]
    KeyTooLong,
    #[error("a path segment is longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong,
    #[error("the key starts with '/'")]
    LeadingSlash,
    #[error("the key contains an empty path segment ('//')")]
    EmptySegment,
    #[error("the key contains a '.' or '..' segment")]
    DotSegment,
    #[error("the key contains a character ScaiDrive does not accept in names ({0:?})")]
    ForbiddenChar(char),
    #[error(
        "'{STAGING_FOLDER}', '{VERSIONS_DIR}' and '{TRASH_DIR}' at the top of a share are \
         reserved for the gateway"
    )]
    Reserved,
}

/// Refuses a path whose first segment is the staging folder or a view of versions or trash.
fn check_reserved(segments: &[String]) -> Result<(), NameError> {
    match segments.first() {
        Some(first) if [STAGING_FOLDER, VERSIONS_DIR, TRASH_DIR].contains(&first.as_str()) => {
            Err(NameError::Reserved)
        }
        _ => Ok(()),
    }
}

/// A validated key: its folder segments and, unless it is a directory marker, the file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    segments: Vec<String>,
    dir: bool,
}

impl ObjectPath {
    /// Parses an S3 object key. `a/b/c` is file `c` in folder chain `a/b`; `a/b/` is folder `a/b`.
    pub fn from_key(key: &str) -> Result<Self, NameError> {
        if key.is_empty() {
            return Err(NameError::Empty);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(NameError::KeyTooLong);
        }
        if key.starts_with('/') {
            return Err(NameError::LeadingSlash);
        }
        let (body, dir) = match key.strip_suffix('/') {
            Some(body) => (body, true),
            None => (key, false),
        };
        let segments = split_segments(body)?;
        check_reserved(&segments)?;
        Ok(Self { segments, dir })
    }

    /// Parses a slash-separated, already percent-decoded path relative to a share root
    /// (WebDAV). Leading and trailing slashes are allowed; the empty path is the share root.
    pub fn from_rel_path(path: &str, dir: bool) -> Result<Self, NameError> {
        let trimmed = path.trim_start_matches('/');
        let (body, trailing) = match trimmed.strip_suffix('/') {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        if body.is_empty() {
            return Ok(Self {
                segments: Vec::new(),
                dir: true,
            });
        }
        let segments = split_segments(body)?;
        check_reserved(&segments)?;
        Ok(Self {
            segments,
            dir: dir || trailing,
        })
    }

    /// Builds a path from segments that are already valid names.
    pub fn from_segments(segments: Vec<String>, dir: bool) -> Result<Self, NameError> {
        for s in &segments {
            validate_segment(s)?;
        }
        check_reserved(&segments)?;
        Ok(Self { segments, dir })
    }

    /// All segments, the last being the file or folder name.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The folder chain that holds this entry.
    pub fn parent_segments(&self) -> &[String] {
        match self.segments.split_last() {
            Some((_, parent)) => parent,
            None => &[],
        }
    }

    /// The entry's own name (None for the share root).
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// True for a directory marker key (`a/b/`) or a collection path.
    pub fn is_dir(&self) -> bool {
        self.dir
    }

    /// True for the share root.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The S3 key for this path (`a/b` or `a/b/`).
    pub fn to_key(&self) -> String {
        let mut k = self.segments.join("/");
        if self.dir && !k.is_empty() {
            k.push('/');
        }
        k
    }

    /// The same path as a file (dir flag cleared) or folder.
    pub fn with_dir(&self, dir: bool) -> Self {
        Self {
            segments: self.segments.clone(),
            dir,
        }
    }

    /// A child of this path.
    pub fn join(&self, name: &str, dir: bool) -> Result<Self, NameError> {
        validate_segment(name)?;
        let mut segments = self.segments.clone();
        segments.push(name.to_owned());
        check_reserved(&segments)?;
        Ok(Self { segments, dir })
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key())
    }
}

fn split_segments(body: &str) -> Result<Vec<String>, NameError> {
    body.split('/')
        .map(|s| validate_segment(s).map(|()| s.to_owned()))
        .collect()
}

/// Checks one name against ScaiDrive's name rules: 1–255 bytes of UTF-8, not `.` or `..`, no
/// `/`, `\`, NUL or other control characters. Names are kept byte for byte (no case folding, no
/// Unicode normalisation).
pub fn validate_segment(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::EmptySegment);
    }
    if s == "." || s == ".." {
        return Err(NameError::DotSegment);
    }
    if s.len() > MAX_SEGMENT_BYTES {
        return Err(NameError::SegmentTooLong);
    }
    if let Some(c) = s
        .chars()
        .find(|c| *c == '/' || *c == '\\' || c.is_control())
    {
        return Err(NameError::ForbiddenChar(c));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_key_splits_into_folders_and_name() {
        let p = ObjectPath::from_key("a/b/c.txt").unwrap();
        assert_eq!(p.segments(), ["a", "b", "c.txt"]);
        assert_eq!(p.parent_segments(), ["a", "b"]);
        assert_eq!(p.name(), Some("c.txt"));
        assert!(!p.is_dir());
        assert_eq!(p.to_key(), "a/b/c.txt");
    }

    #[test]
    fn the_staging_folder_is_refused_at_the_top_only() {
        let top = format!("{STAGING_FOLDER}/x");
        assert_eq!(ObjectPath::from_key(&top), Err(NameError::Reserved));
        assert_eq!(
            ObjectPath::from_rel_path(&format!("/{STAGING_FOLDER}/"), false),
            Err(NameError::Reserved)
        );
        assert_eq!(
            ObjectPath::from_segments(vec![STAGING_FOLDER.to_owned()], true),
            Err(NameError::Reserved)
        );
        let root = ObjectPath::from_rel_path("", true).unwrap();
        assert_eq!(root.join(STAGING_FOLDER, true), Err(NameError::Reserved));
        assert!(ObjectPath::from_key(&format!("a/{STAGING_FOLDER}/x")).is_ok());
        for view in [VERSIONS_DIR, TRASH_DIR] {
            assert_eq!(
                ObjectPath::from_key(&format!("{view}/x")),
                Err(NameError::Reserved)
            );
            assert!(ObjectPath::from_key(&format!("a/{view}/x")).is_ok());
        }
    }

    #[test]
    fn trailing_slash_is_a_directory_marker() {
        let p = ObjectPath::from_key("photos/2024/").unwrap();
        assert!(p.is_dir());
        assert_eq!(p.segments(), ["photos", "2024"]);
        assert_eq!(p.to_key(), "photos/2024/");
    }

    #[test]
    fn unmappable_keys_are_refused_not_aliased() {
        assert_eq!(ObjectPath::from_key(""), Err(NameError::Empty));
        assert_eq!(ObjectPath::from_key("/a"), Err(NameError::LeadingSlash));
        assert_eq!(ObjectPath::from_key("a//b"), Err(NameError::EmptySegment));
        assert_eq!(ObjectPath::from_key("a/./b"), Err(NameError::DotSegment));
        assert_eq!(ObjectPath::from_key("a/../b"), Err(NameError::DotSegment));
        assert_eq!(ObjectPath::from_key(".."), Err(NameError::DotSegment));
        assert_eq!(ObjectPath::from_key("a//"), Err(NameError::EmptySegment));
        assert_eq!(
            ObjectPath::from_key("a\\b"),
            Err(NameError::ForbiddenChar('\\'))
        );
        assert_eq!(
            ObjectPath::from_key("a\u{0}b"),
            Err(NameError::ForbiddenChar('\u{0}'))
        );
        assert_eq!(
            ObjectPath::from_key("tab\there"),
            Err(NameError::ForbiddenChar('\t'))
        );
    }

    #[test]
    fn length_limits_apply_to_key_and_segment() {
        let long_seg = "x".repeat(256);
        assert_eq!(
            ObjectPath::from_key(&long_seg),
            Err(NameError::SegmentTooLong)
        );
        assert!(ObjectPath::from_key(&"x".repeat(255)).is_ok());
        let long_key = vec!["y".repeat(200); 6].join("/");
        assert_eq!(ObjectPath::from_key(&long_key), Err(NameError::KeyTooLong));
    }

    #[test]
    fn awkward_but_valid_names_survive_byte_for_byte() {
        for key in [
            "with space/file name.txt",
            "&+-é\"",
            "100%/50% off",
            "it's#1",
            "Ünïcödé/e\u{301}", // NFD stays NFD
            "caf\u{e9}",        // NFC stays NFC
            "...",
            ".hidden",
            "trailing. ",
        ] {
            let p = ObjectPath::from_key(key).unwrap();
            assert_eq!(p.to_key(), key);
        }
        assert_ne!(
            ObjectPath::from_key("caf\u{e9}").unwrap(),
            ObjectPath::from_key("cafe\u{301}").unwrap()
        );
    }

    #[test]
    fn webdav_paths_tolerate_surrounding_slashes() {
        let root = ObjectPath::from_rel_path("/", true).unwrap();
        assert!(root.is_root());
        let p = ObjectPath::from_rel_path("/a/b/", false).unwrap();
        assert!(p.is_dir());
        assert_eq!(p.segments(), ["a", "b"]);
        assert_eq!(
            ObjectPath::from_rel_path("/a//b", false),
            Err(NameError::EmptySegment)
        );
    }
}
