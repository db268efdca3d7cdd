//! Condition operators of the policy language: parsing of one `Condition` block entry and its
//! evaluation against the request's context keys (AWS semantics, below).
//!
//! - A key absent from the request makes a condition false, except: `…IfExists` operators and
//!   `ForAllValues:` are true then, the negated operators (`StringNotEquals`, `StringNotLike`,
//!   `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`, `ArnNotEquals`, `ArnNotLike`) are
//!   true then, and `Null` tests exactly that absence.
//! - With several policy values a positive operator matches when any value matches; a negated
//!   one when none does. Keys are case-insensitive; values are compared as the operator says.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use super::wildcard;

/// The base operator of a condition (without `IfExists` and set qualifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringNotEquals", Op::StringNotEquals),
    ("StringEqualsIgnoreCase", Op::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Op::StringNotEqualsIgnoreCase),
    ("StringLike", Op::StringLike),
    ("StringNotLike", Op::StringNotLike),
    ("NumericEquals", Op::NumericEquals),
    ("NumericNotEquals", Op::NumericNotEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("DateEquals", Op::DateEquals),
    ("DateNotEquals", Op::DateNotEquals),
    ("DateLessThan", Op::DateLessThan),
    ("DateLessThanEquals", Op::DateLessThanEquals),
    ("DateGreaterThan", Op::DateGreaterThan),
    ("DateGreaterThanEquals", Op::DateGreaterThanEquals),
    ("Bool", Op::Bool),
    ("IpAddress", Op::IpAddress),
    ("NotIpAddress", Op::NotIpAddress),
    ("ArnEquals", Op::ArnEquals),
    ("ArnNotEquals", Op::ArnNotEquals),
    ("ArnLike", Op::ArnLike),
    ("ArnNotLike", Op::ArnNotLike),
    ("Null", Op::Null),
];

impl Op {
    /// The positive operator a negated one is the complement of.
    fn positive(self) -> Option<Op> {
        Some(match self {
            Op::StringNotEquals => Op::StringEquals,
            Op::StringNotEqualsIgnoreCase => Op::StringEqualsIgnoreCase,
            Op::StringNotLike => Op::StringLike,
            Op::NumericNotEquals => Op::NumericEquals,
            Op::DateNotEquals => Op::DateEquals,
            Op::NotIpAddress => Op::IpAddress,
            Op::ArnNotEquals => Op::ArnEquals,
            Op::ArnNotLike => Op::ArnLike,
            _ => return None,
        })
    }
}

/// `ForAnyValue:` / `ForAllValues:` (multi-valued keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    AnyValue,
    AllValues,
}

/// One condition: operator, key and the policy's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub op: Op,
    pub if_exists: bool,
    pub set: Option<SetQualifier>,
    /// The key as written (compared case-insensitively).
    pub key: String,
    pub values: Vec<String>,
}

/// The request's condition keys (lower-cased) and their values (several for multi-valued keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets key `key` to one value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// The values of `key`, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// Parses an operator name (`StringLikeIfExists`, `ForAnyValue:StringEquals`, …).
pub fn parse_operator(name: &str) -> Option<(Op, bool, Option<SetQualifier>)> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::AnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::AllValues), r)
    } else {
        (None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let op = OPS.iter().find(|(n, _)| *n == base)?.1;
    if op == Op::Null && (if_exists || set.is_some()) {
        return None;
    }
    Some((op, if_exists, set))
}

/// Checks that `value` is a valid policy value for `op`; the error says why not.
pub fn check_value(op: Op, value: &str) -> Result<(), String> {
    let ok = match op {
        Op::NumericEquals
        | Op::NumericNotEquals
        | Op::NumericLessThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThan
        | Op::NumericGreaterThanEquals => number(value).is_some(),
        Op::DateEquals
        | Op::DateNotEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals => date(value).is_some(),
        Op::Bool | Op::Null => boolean(value).is_some(),
        Op::IpAddress | Op::NotIpAddress => network(value).is_some(),
        _ => true,
    };
    match ok {
        true => Ok(()),
        false => Err(format!("invalid value '{value}' for operator {op:?}")),
    }
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date as ISO 8601 / RFC 3339 (or a plain date), or epoch seconds.
fn date(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    v.parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
}

fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// An address or CIDR block (a bare address is its own /32 or /128).
fn network(v: &str) -> Option<IpNet> {
    let v = v.trim();
    v.parse::<IpNet>()
        .ok()
        .or_else(|| v.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Whether one request value matches one policy value under a positive operator.
fn one(op: Op, policy: &str, request: &str) -> bool {
    use std::cmp::Ordering::*;
    let num = |f: fn(Option<std::cmp::Ordering>) -> bool| match (number(request), number(policy)) {
        (Some(r), Some(p)) => f(r.partial_cmp(&p)),
        _ => false,
    };
    let dat = |f: fn(std::cmp::Ordering) -> bool| match (date(request), date(policy)) {
        (Some(r), Some(p)) => f(r.cmp(&p)),
        _ => false,
    };
    match op {
        Op::StringEquals | Op::ArnEquals => request == policy,
        Op::StringEqualsIgnoreCase => request.eq_ignore_ascii_case(policy),
        Op::StringLike | Op::ArnLike => wildcard::matches(policy, request),
        Op::NumericEquals => num(|o| o == Some(Equal)),
        Op::NumericLessThan => num(|o| o == Some(Less)),
        Op::NumericLessThanEquals => num(|o| matches!(o, Some(Less | Equal))),
        Op::NumericGreaterThan => num(|o| o == Some(Greater)),
        Op::NumericGreaterThanEquals => num(|o| matches!(o, Some(Greater | Equal))),
        Op::DateEquals => dat(|o| o == Equal),
        Op::DateLessThan => dat(|o| o == Less),
        Op::DateLessThanEquals => dat(|o| o != Greater),
        Op::DateGreaterThan => dat(|o| o == Greater),
        Op::DateGreaterThanEquals => dat(|o| o != Less),
        Op::Bool => boolean(request).is_some() && boolean(request) == boolean(policy),
        Op::IpAddress => match (request.trim().parse::<IpAddr>(), network(policy)) {
            (Ok(ip), Some(net)) => net.contains(&ip),
            _ => false,
        },
        // Negated operators and Null never reach here.
        _ => false,
    }
}

/// Whether the positive operator `op` matches the request values `request`.
fn positive(op: Op, set: Option<SetQualifier>, policy: &[String], request: &[String]) -> bool {
    let hit = |r: &String| policy.iter().any(|p| one(op, p, r));
    match set {
        Some(SetQualifier::AllValues) => request.iter().all(hit),
        _ => request.iter().any(hit),
    }
}

impl Condition {
    /// Whether the condition holds for a request with context `ctx`.
    pub fn holds(&self, ctx: &Context) -> bool {
        let found = ctx.get(&self.key);
        if self.op == Op::Null {
            // `"true"`: the key must be absent; `"false"`: present.
            let want_absent = self.values.iter().any(|v| boolean(v) == Some(true));
            let want_present = self.values.iter().any(|v| boolean(v) == Some(false));
            return match found {
                None => want_absent,
                Some(_) => want_present,
            };
        }
        let Some(request) = found else {
            return self.if_exists
                || self.set == Some(SetQualifier::AllValues)
                || self.op.positive().is_some();
        };
        match self.op.positive() {
            Some(pos) => match self.set {
                // ForAllValues:StringNotEquals — every value is outside the policy's set.
                Some(SetQualifier::AllValues) => request
                    .iter()
                    .all(|r| !self.values.iter().any(|p| one(pos, p, r))),
                // ForAnyValue:StringNotEquals — some value is outside it.
                Some(SetQualifier::AnyValue) => request
                    .iter()
                    .any(|r| !self.values.iter().any(|p| one(pos, p, r))),
                None => !positive(pos, None, &self.values, request),
            },
            None => positive(self.op, self.set, &self.values, request),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        let (op, if_exists, set) = parse_operator(op).unwrap();
        Condition {
            op,
            if_exists,
            set,
            key: key.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        let mut c = Context::new();
        for (k, v) in pairs {
            c.set(k, *v);
        }
        c
    }

    #[test]
    fn operator_names_parse_with_if_exists_and_set_qualifiers() {
        assert_eq!(
            parse_operator("StringLikeIfExists"),
            Some((Op::StringLike, true, None))
        );
        assert_eq!(
            parse_operator("ForAnyValue:StringEquals"),
            Some((Op::StringEquals, false, Some(SetQualifier::AnyValue)))
        );
        assert_eq!(parse_operator("NullIfExists"), None);
        assert_eq!(parse_operator("StringEqualz"), None);
    }

    #[test]
    fn source_ip_matches_cidr_blocks_and_single_addresses() {
        let c = cond("IpAddress", "aws:SourceIp", &["10.0.0.0/8", "192.0.2.7"]);
        assert!(c.holds(&ctx(&[("aws:sourceip", "10.1.2.3")])));
        assert!(c.holds(&ctx(&[("aws:SourceIp", "192.0.2.7")])));
        assert!(!c.holds(&ctx(&[("aws:SourceIp", "127.0.0.1")])));
        let n = cond("NotIpAddress", "aws:SourceIp", &["127.0.0.0/8"]);
        assert!(n.holds(&ctx(&[("aws:SourceIp", "10.0.0.1")])));
        assert!(!n.holds(&ctx(&[("aws:SourceIp", "127.0.0.1")])));
        let v6 = cond("IpAddress", "aws:SourceIp", &["::1"]);
        assert!(v6.holds(&ctx(&[("aws:SourceIp", "::1")])));
    }

    #[test]
    fn absent_keys_follow_aws() {
        let empty = Context::new();
        assert!(!cond("StringLike", "aws:Referer", &["x*"]).holds(&empty));
        assert!(cond("StringLikeIfExists", "aws:Referer", &["x*"]).holds(&empty));
        assert!(cond("StringNotLike", "aws:Referer", &["x*"]).holds(&empty));
        assert!(cond("Null", "aws:Referer", &["true"]).holds(&empty));
        assert!(!cond("Null", "aws:Referer", &["false"]).holds(&empty));
        assert!(cond("ForAllValues:StringEquals", "k", &["a"]).holds(&empty));
        assert!(!cond("ForAnyValue:StringEquals", "k", &["a"]).holds(&empty));
    }

    #[test]
    fn referer_if_exists_as_s3tests_uses_it() {
        let c = cond(
            "StringLikeIfExists",
            "aws:Referer",
            &["http://www.example.com/*"],
        );
        assert!(c.holds(&ctx(&[("aws:Referer", "http://www.example.com/")])));
        assert!(c.holds(&ctx(&[(
            "aws:Referer",
            "http://www.example.com/index.html"
        )])));
        assert!(!c.holds(&ctx(&[("aws:Referer", "http://www.example.com")])));
    }

    #[test]
    fn numbers_dates_and_booleans_compare_as_values() {
        assert!(
            cond("NumericLessThan", "s3:max-keys", &["10"]).holds(&ctx(&[("s3:max-keys", "9")]))
        );
        assert!(
            !cond("NumericLessThan", "s3:max-keys", &["10"]).holds(&ctx(&[("s3:max-keys", "x")]))
        );
        assert!(
            cond("NumericNotEquals", "s3:max-keys", &["10"]).holds(&ctx(&[("s3:max-keys", "11")]))
        );
        let before = cond("DateLessThan", "aws:CurrentTime", &["2030-01-01T00:00:00Z"]);
        assert!(before.holds(&ctx(&[("aws:CurrentTime", "2026-12-05T13:00:00Z")])));
        assert!(!before.holds(&ctx(&[("aws:CurrentTime", "2031-01-01T00:00:00Z")])));
        assert!(
            cond("DateGreaterThan", "aws:EpochTime", &["2020-01-01"])
                .holds(&ctx(&[("aws:EpochTime", "1900000000")]))
        );
        let tls = cond("Bool", "aws:SecureTransport", &["false"]);
        assert!(tls.holds(&ctx(&[("aws:SecureTransport", "false")])));
        assert!(!tls.holds(&ctx(&[("aws:SecureTransport", "true")])));
    }

    #[test]
    fn string_operators_and_negations() {
        let acl = cond("StringLike", "s3:x-amz-acl", &["public*"]);
        assert!(acl.holds(&ctx(&[("s3:x-amz-acl", "public-read")])));
        assert!(!acl.holds(&ctx(&[("s3:x-amz-acl", "private")])));
        let ne = cond("StringNotEquals", "s3:prefix", &["a/", "b/"]);
        assert!(!ne.holds(&ctx(&[("s3:prefix", "a/")])));
        assert!(ne.holds(&ctx(&[("s3:prefix", "c/")])));
        let ic = cond("StringEqualsIgnoreCase", "s3:prefix", &["ABC"]);
        assert!(ic.holds(&ctx(&[("s3:prefix", "abc")])));
    }

    #[test]
    fn policy_values_are_checked() {
        assert!(check_value(Op::IpAddress, "10.0.0.0/33").is_err());
        assert!(check_value(Op::IpAddress, "10.0.0.0/32").is_ok());
        assert!(check_value(Op::DateLessThan, "soon").is_err());
        assert!(check_value(Op::NumericEquals, "1.5").is_ok());
        assert!(check_value(Op::Bool, "yes").is_err());
    }
}
