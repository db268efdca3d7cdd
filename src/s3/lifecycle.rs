//! Lifecycle configurations (PutBucketLifecycleConfiguration and its validation) and which of
//! a configuration's rules an object or upload falls under. ScaiDrive has no lifecycle: the
//! gateway stores the rules (`bucket_configs`) and its own worker applies them
//! ([`super::lifecycle_run`]); see `docs/s3.md` § Lifecycle for what is accepted and refused.

use chrono::{DateTime, Duration, Utc};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use super::to_chrono;

/// S3's bounds: at most 1,000 rules, IDs up to 255 characters.
const MAX_RULES: usize = 1000;
const MAX_ID_CHARS: usize = 255;

fn malformed(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedXML, msg.to_owned())
}

fn invalid(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg.to_owned())
}

/// A date of a rule must be midnight UTC (S3: "'Date' must be at midnight GMT"; answered as
/// MalformedXML, as the s3-tests suite expects of a date that is not an ISO 8601 day).
fn check_midnight(what: &str, t: &Timestamp) -> S3Result<DateTime<Utc>> {
    let at = to_chrono(t).ok_or_else(|| malformed(&format!("{what}: not a valid date")))?;
    if at.timestamp().rem_euclid(86_400) != 0 {
        return Err(malformed(&format!(
            "{what} must be at midnight UTC (an ISO 8601 date such as 2030-01-31T00:00:00Z)"
        )));
    }
    Ok(at)
}

/// The filter of a rule, whichever way it was written (rule-level `Prefix`, `Filter` with
/// `Prefix`, `Tag`, `And` or size bounds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<i64>,
    pub size_less_than: Option<i64>,
}

impl Scope {
    /// Whether an object of this key, size and tag set is in scope.
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        key.starts_with(&self.prefix)
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

fn tag_pair(t: &Tag) -> S3Result<(String, String)> {
    match (&t.key, &t.value) {
        (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
        _ => Err(malformed(
            "a Tag of a lifecycle filter needs a Key and a Value",
        )),
    }
}

/// The scope of a rule; a filter that names more than one condition outside `And` is
/// MalformedXML, as in S3.
pub(crate) fn scope(rule: &LifecycleRule) -> S3Result<Scope> {
    let Some(f) = &rule.filter else {
        return Ok(Scope {
            prefix: rule.prefix.clone().unwrap_or_default(),
            ..Scope::default()
        });
    };
    if rule.prefix.is_some() {
        return Err(malformed("a rule cannot have both Prefix and Filter"));
    }
    let named = [
        f.prefix.is_some(),
        f.tag.is_some(),
        f.and.is_some(),
        f.object_size_greater_than.is_some(),
        f.object_size_less_than.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if named > 1 {
        return Err(malformed(
            "a Filter names one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan; use And to combine them",
        ));
    }
    let mut out = Scope {
        prefix: f.prefix.clone().unwrap_or_default(),
        size_greater_than: f.object_size_greater_than,
        size_less_than: f.object_size_less_than,
        ..Scope::default()
    };
    if let Some(t) = &f.tag {
        out.tags.push(tag_pair(t)?);
    }
    if let Some(a) = &f.and {
        out.prefix = a.prefix.clone().unwrap_or_default();
        out.size_greater_than = a.object_size_greater_than;
        out.size_less_than = a.object_size_less_than;
        for t in a.tags.iter().flatten() {
            out.tags.push(tag_pair(t)?);
        }
    }
    super::tagging::validate(&out.tags)?;
    if let (Some(g), Some(l)) = (out.size_greater_than, out.size_less_than)
        && g >= l
    {
        return Err(invalid(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
        ));
    }
    Ok(out)
}

/// Checks a configuration as S3 does, refuses what ScaiDrive cannot do, and gives every rule
/// without an ID one. The configuration to store.
pub(crate) fn validate(
    mut config: BucketLifecycleConfiguration,
) -> S3Result<BucketLifecycleConfiguration> {
    if config.rules.is_empty() {
        return Err(malformed(
            "a lifecycle configuration needs at least one Rule",
        ));
    }
    if config.rules.len() > MAX_RULES {
        return Err(invalid(
            "a lifecycle configuration holds at most 1000 rules",
        ));
    }
    for (i, rule) in config.rules.iter().enumerate() {
        let status = rule.status.as_str();
        if status != ExpirationStatus::ENABLED && status != ExpirationStatus::DISABLED {
            return Err(malformed("Status must be Enabled or Disabled"));
        }
        if let Some(id) = &rule.id {
            if id.chars().count() > MAX_ID_CHARS {
                return Err(invalid("The ID of a rule is at most 255 characters long"));
            }
            if config.rules[..i].iter().any(|r| r.id.as_ref() == Some(id)) {
                return Err(invalid(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
        }
        let scope = scope(rule)?;
        if let Some(e) = &rule.expiration {
            let named = [
                e.days.is_some(),
                e.date.is_some(),
                e.expired_object_delete_marker.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if named != 1 {
                return Err(malformed(
                    "Expiration names exactly one of Days, Date, ExpiredObjectDeleteMarker",
                ));
            }
            if let Some(d) = e.days
                && d <= 0
            {
                return Err(invalid(
                    "'Days' in the Expiration action must be a positive integer",
                ));
            }
            if let Some(d) = &e.date {
                check_midnight("Expiration Date", d)?;
            }
            if e.expired_object_delete_marker.is_some() && !scope.tags.is_empty() {
                return Err(invalid(
                    "ExpiredObjectDeleteMarker cannot be specified with a tag filter",
                ));
            }
        }
        if let Some(a) = &rule.abort_incomplete_multipart_upload {
            match a.days_after_initiation {
                Some(d) if d > 0 => {}
                _ => {
                    return Err(invalid(
                        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload must be a positive integer",
                    ));
                }
            }
            if !scope.tags.is_empty() {
                return Err(invalid(
                    "AbortIncompleteMultipartUpload cannot be specified with a tag filter",
                ));
            }
        }
        for t in rule.transitions.iter().flatten() {
            if let Some(d) = &t.date {
                check_midnight("Transition Date", d)?;
            }
        }
        let actions = rule.expiration.is_some()
            || rule.abort_incomplete_multipart_upload.is_some()
            || rule.transitions.as_ref().is_some_and(|t| !t.is_empty())
            || rule.noncurrent_version_expiration.is_some()
            || rule
                .noncurrent_version_transitions
                .as_ref()
                .is_some_and(|t| !t.is_empty());
        if !actions {
            return Err(invalid(
                "At least one action needs to be specified in a rule",
            ));
        }
    }
    // What parses and is valid S3, but ScaiDrive cannot do: refused whole, so that no rule is
    // stored that would silently never apply.
    for rule in config.rules.iter() {
        if rule.noncurrent_version_expiration.is_some()
            || rule
                .noncurrent_version_transitions
                .as_ref()
                .is_some_and(|t| !t.is_empty())
        {
            return Err(s3_error!(
                NotImplemented,
                "NoncurrentVersionExpiration and NoncurrentVersionTransitions are not supported: \
                 ScaiDrive keeps every version of a file and cannot delete one version alone"
            ));
        }
        if rule.transitions.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(s3_error!(
                NotImplemented,
                "Transitions are not supported: ScaiDrive has a single storage class"
            ));
        }
    }
    for rule in config.rules.iter_mut() {
        if rule.id.as_deref().is_none_or(str::is_empty) {
            rule.id = Some(ulid::Ulid::new().to_string().to_lowercase());
        }
    }
    Ok(config)
}

/// When an object last modified at `modified` expires under `rule` (enabled rules with an
/// Expiration by Days or Date only). Days count from the modification and round up to the
/// next midnight UTC, as in S3.
pub(crate) fn expires_at(rule: &LifecycleRule, modified: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if rule.status.as_str() != ExpirationStatus::ENABLED {
        return None;
    }
    let e = rule.expiration.as_ref()?;
    if let Some(d) = &e.date {
        return to_chrono(d);
    }
    let days = e.days.filter(|d| *d > 0)?;
    Some(next_midnight(modified + Duration::days(i64::from(days))))
}

/// When an upload initiated at `created` is aborted under `rule`, if the rule aborts uploads.
pub(crate) fn abort_at(rule: &LifecycleRule, created: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if rule.status.as_str() != ExpirationStatus::ENABLED {
        return None;
    }
    let days = rule
        .abort_incomplete_multipart_upload
        .as_ref()?
        .days_after_initiation
        .filter(|d| *d > 0)?;
    Some(next_midnight(created + Duration::days(i64::from(days))))
}

/// `t` rounded up to midnight UTC.
fn next_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    let day = secs.div_euclid(86_400) * 86_400;
    let up = if secs == day && t.timestamp_subsec_nanos() == 0 {
        day
    } else {
        day + 86_400
    };
    DateTime::from_timestamp(up, 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(TimestampFormat::DateTime, s).unwrap()
    }

    fn rule(id: Option<&str>, status: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.map(str::to_owned),
            status: ExpirationStatus::from(status.to_owned()),
            prefix: Some("logs/".to_owned()),
            expiration: Some(LifecycleExpiration {
                days: Some(1),
                ..Default::default()
            }),
            abort_incomplete_multipart_upload: None,
            filter: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            transitions: None,
        }
    }

    fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
        BucketLifecycleConfiguration { rules }
    }

    fn code(r: S3Result<BucketLifecycleConfiguration>) -> String {
        r.err()
            .map(|e| e.code().as_str().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn rules_are_validated_as_s3_validates_them() {
        assert!(
            validate(config(vec![
                rule(Some("a"), "Enabled"),
                rule(Some("b"), "Disabled")
            ]))
            .is_ok()
        );
        assert_eq!(
            code(validate(config(vec![rule(Some("a"), "enabled")]))),
            "MalformedXML"
        );
        assert_eq!(
            code(validate(config(vec![rule(
                Some(&"x".repeat(256)),
                "Enabled"
            )]))),
            "InvalidArgument"
        );
        assert!(validate(config(vec![rule(Some(&"x".repeat(255)), "Enabled")])).is_ok());
        assert_eq!(
            code(validate(config(vec![
                rule(Some("a"), "Enabled"),
                rule(Some("a"), "Enabled")
            ]))),
            "InvalidArgument"
        );
        let mut zero = rule(None, "Enabled");
        zero.expiration.as_mut().unwrap().days = Some(0);
        assert_eq!(code(validate(config(vec![zero]))), "InvalidArgument");
        let mut noon = rule(None, "Enabled");
        noon.expiration = Some(LifecycleExpiration {
            date: Some(ts("2030-01-01T12:00:00Z")),
            ..Default::default()
        });
        assert_eq!(code(validate(config(vec![noon]))), "MalformedXML");
        let mut both = rule(None, "Enabled");
        both.filter = Some(LifecycleRuleFilter {
            prefix: Some("a".into()),
            ..Default::default()
        });
        assert_eq!(code(validate(config(vec![both]))), "MalformedXML");
        let mut none = rule(None, "Enabled");
        none.expiration = None;
        assert_eq!(code(validate(config(vec![none]))), "InvalidArgument");
        let mut nc = rule(None, "Enabled");
        nc.noncurrent_version_expiration = Some(NoncurrentVersionExpiration {
            noncurrent_days: Some(2),
            newer_noncurrent_versions: None,
        });
        assert_eq!(code(validate(config(vec![nc]))), "NotImplemented");
        let mut tr = rule(None, "Enabled");
        tr.transitions = Some(vec![Transition {
            days: Some(30),
            date: None,
            storage_class: Some(TransitionStorageClass::from_static("GLACIER")),
        }]);
        assert_eq!(code(validate(config(vec![tr]))), "NotImplemented");
        // A rule without an ID gets one.
        let stored = validate(config(vec![rule(None, "Enabled")])).unwrap();
        assert!(stored.rules[0].id.as_ref().is_some_and(|id| !id.is_empty()));
    }

    #[test]
    fn filters_select_by_prefix_tags_and_size() {
        let mut r = rule(None, "Enabled");
        r.prefix = None;
        r.filter = Some(LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("a/".into()),
                tags: Some(vec![Tag {
                    key: Some("k".into()),
                    value: Some("v".into()),
                }]),
                object_size_greater_than: Some(1),
                object_size_less_than: None,
            }),
            ..Default::default()
        });
        let s = scope(&r).unwrap();
        let tags = vec![("k".to_owned(), "v".to_owned()), ("o".into(), "p".into())];
        assert!(s.matches("a/x", 2, &tags));
        assert!(!s.matches("b/x", 2, &tags));
        assert!(!s.matches("a/x", 1, &tags));
        assert!(!s.matches("a/x", 2, &[]));
    }

    #[test]
    fn days_count_to_the_next_midnight_and_disabled_rules_never_expire() {
        let r = rule(None, "Enabled");
        let modified = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            expires_at(&r, modified).unwrap().to_rfc3339(),
            "2026-03-03T00:00:00+00:00"
        );
        let midnight = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            expires_at(&r, midnight).unwrap().to_rfc3339(),
            "2026-03-02T00:00:00+00:00"
        );
        assert_eq!(expires_at(&rule(None, "Disabled"), modified), None);
    }
}
