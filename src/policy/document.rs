//! A bucket policy document: parsed from its JSON and validated as S3 validates a bucket
//! policy (`MalformedPolicy` with a message saying what is wrong), plus the gateway's own
//! refusal of condition keys it cannot evaluate.

use serde_json::{Map, Value};

use super::condition::{self, Condition};
use super::wildcard;

/// The largest bucket policy S3 accepts (20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not a valid bucket policy (S3 `MalformedPolicy`).
    #[error("{0}")]
    Malformed(String),
    /// Valid for S3, but it depends on something the gateway cannot evaluate (`NotImplemented`).
    #[error("{0}")]
    Unsupported(String),
}

fn malformed(msg: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(msg.into())
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous requests included.
    Everyone,
    /// `AWS` / `CanonicalUser` values (user ids or ARNs naming them) and others (`Service`,
    /// `Federated`), which no gateway caller ever is.
    Ids(Vec<String>),
}

/// A list of patterns that may be negated (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher<T> {
    pub not: bool,
    pub items: T,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Matcher<Principals>,
    /// Action patterns (`s3:GetObject`, `s3:Get*`, `*`), matched ignoring case.
    pub action: Matcher<Vec<String>>,
    /// Resource ARN patterns (`arn:aws:s3:::bucket/prefix/*`), matched exactly.
    pub resource: Matcher<Vec<String>>,
    /// All must hold.
    pub conditions: Vec<Condition>,
}

/// A validated bucket policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// Condition keys the gateway puts in the context of a request when they apply
/// (`docs/s3.md` § Bucket policies).
pub const SUPPLIED_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:Referer",
    "aws:UserAgent",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:username",
    "aws:userid",
    "aws:PrincipalType",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:VersionId",
    "s3:signatureversion",
    "s3:authType",
];

/// Global keys AWS leaves out of requests like the gateway's (no VPC endpoint, no MFA, no
/// organisation): accepted, and absent as on AWS for such a request.
const ABSENT_KEYS: &[&str] = &[
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
];

/// The prefix of the keys that carry an object's tags (`s3:ExistingObjectTag/<tag key>`).
pub const EXISTING_TAG_PREFIX: &str = "s3:existingobjecttag/";

/// Whether the gateway can evaluate condition key `key`: one it supplies, one AWS would not
/// have either, a request header `s3:x-amz-…`, or an existing object's tag.
pub fn key_supported(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let after = |prefix: &str| lower.strip_prefix(prefix).is_some_and(|r| !r.is_empty());
    SUPPLIED_KEYS
        .iter()
        .chain(ABSENT_KEYS)
        .any(|k| k.eq_ignore_ascii_case(key))
        || after("s3:x-amz-")
        || after(EXISTING_TAG_PREFIX)
}

impl Policy {
    /// Whether a condition of the policy tests an existing object's tags (the gateway then
    /// reads the object's tags for requests on an object).
    pub fn tests_existing_tags(&self) -> bool {
        self.statements.iter().any(|st| {
            st.conditions
                .iter()
                .any(|c| c.key.to_ascii_lowercase().starts_with(EXISTING_TAG_PREFIX))
        })
    }
}

/// One JSON value or array of values as strings (numbers and booleans as written).
fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| -> Result<String, PolicyError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(malformed(format!(
                "{what} must be a string or an array of strings"
            ))),
        }
    };
    let out = match v {
        Value::Array(items) => items.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        other => vec![one(other)?],
    };
    if out.is_empty() {
        return Err(malformed(format!("{what} must not be empty")));
    }
    Ok(out)
}

/// Takes exactly one of `name` / `Not<name>` from a statement.
fn one_of<'a>(st: &'a Map<String, Value>, name: &str) -> Result<(bool, &'a Value), PolicyError> {
    let not = format!("Not{name}");
    match (st.get(name), st.get(&not)) {
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (Some(_), Some(_)) => Err(malformed(format!(
            "a statement may have {name} or {not}, not both"
        ))),
        (None, None) => Err(malformed(format!("Missing required field {name}"))),
    }
}

fn principals(v: &Value) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Everyone),
        Value::Object(map) if !map.is_empty() => {
            let mut ids = Vec::new();
            for (kind, val) in map {
                if !matches!(
                    kind.as_str(),
                    "AWS" | "CanonicalUser" | "Service" | "Federated"
                ) {
                    return Err(malformed(format!("Invalid principal in policy: {kind}")));
                }
                let vals = strings(val, "Principal")?;
                if kind == "AWS" && vals.iter().any(|v| v == "*") {
                    return Ok(Principals::Everyone);
                }
                if matches!(kind.as_str(), "AWS" | "CanonicalUser") {
                    ids.extend(vals);
                }
            }
            Ok(Principals::Ids(ids))
        }
        _ => Err(malformed("Invalid principal in policy")),
    }
}

/// An action is `*` or `s3:` and a name (wildcards allowed).
fn check_action(a: &str) -> Result<(), PolicyError> {
    let ok = a == "*"
        || a.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("s3:"))
            && a.len() > 3
            && a[3..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?');
    match ok {
        true => Ok(()),
        false => Err(malformed(format!("Policy has invalid action: {a}"))),
    }
}

/// A resource is `arn:aws:s3:::` naming this bucket or objects in it (wildcards allowed).
fn check_resource(r: &str, bucket: Option<&str>) -> Result<(), PolicyError> {
    let Some(rest) = r.strip_prefix("arn:aws:s3:::") else {
        return Err(malformed(format!("Policy has invalid resource: {r}")));
    };
    let bucket_part = rest.split('/').next().unwrap_or_default();
    // The bucket part may be a pattern (`*`, `my-*`): it must be able to name this bucket.
    // `arn:aws:s3:::*` alone covers every bucket and object.
    let Some(bucket) = bucket else {
        return Ok(());
    };
    if rest == "*" || wildcard::matches(bucket_part, bucket) {
        return Ok(());
    }
    Err(malformed(format!(
        "Policy has invalid resource: {r} does not name bucket {bucket}"
    )))
}

fn conditions(v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(malformed("Condition must be an object"));
    };
    let mut out = Vec::new();
    for (name, block) in ops {
        let (op, if_exists, set) = condition::parse_operator(name)
            .ok_or_else(|| malformed(format!("Invalid Condition type : {name}")))?;
        let Value::Object(keys) = block else {
            return Err(malformed(format!(
                "Condition {name} must map keys to values"
            )));
        };
        if keys.is_empty() {
            return Err(malformed(format!("Condition {name} has no key")));
        }
        for (key, vals) in keys {
            if !key.contains(':') {
                return Err(malformed(format!("Invalid Condition key: {key}")));
            }
            if !key_supported(key) {
                return Err(PolicyError::Unsupported(format!(
                    "the gateway cannot evaluate condition key {key}; supported: {}, \
                     s3:x-amz-* request headers",
                    SUPPLIED_KEYS.join(", ")
                )));
            }
            let values = strings(vals, "a condition value")?;
            for value in &values {
                condition::check_value(op, value)
                    .map_err(|e| malformed(format!("Invalid Condition value for {key}: {e}")))?;
            }
            out.push(Condition {
                op,
                if_exists,
                set,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn statement(v: &Value, bucket: Option<&str>) -> Result<Statement, PolicyError> {
    let Value::Object(st) = v else {
        return Err(malformed("a Statement must be an object"));
    };
    for field in st.keys() {
        if !matches!(
            field.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(format!("Unknown field {field}")));
        }
    }
    let sid = match st.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("Sid must be a string")),
    };
    let effect = match st.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => return Err(malformed(format!("Invalid effect: {other}"))),
        None => return Err(malformed("Missing required field Effect")),
    };
    let (not_principal, p) = one_of(st, "Principal")?;
    let (not_action, a) = one_of(st, "Action")?;
    let actions = strings(a, "Action")?;
    for action in &actions {
        check_action(action)?;
    }
    let (not_resource, r) = one_of(st, "Resource")?;
    let resources = strings(r, "Resource")?;
    for resource in &resources {
        check_resource(resource, bucket)?;
    }
    Ok(Statement {
        sid,
        effect,
        principal: Matcher {
            not: not_principal,
            items: principals(p)?,
        },
        action: Matcher {
            not: not_action,
            items: actions,
        },
        resource: Matcher {
            not: not_resource,
            items: resources,
        },
        conditions: match st.get("Condition") {
            Some(c) => conditions(c)?,
            None => Vec::new(),
        },
    })
}

impl Policy {
    /// Parses and validates the policy `text` of bucket `bucket`.
    pub fn parse(text: &str, bucket: &str) -> Result<Self, PolicyError> {
        Self::parse_for(text, Some(bucket))
    }

    /// Parses a policy stored after [`Policy::parse`] accepted it (its resources were checked
    /// against the bucket's name then).
    pub fn parse_stored(text: &str) -> Result<Self, PolicyError> {
        Self::parse_for(text, None)
    }

    fn parse_for(text: &str, bucket: Option<&str>) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(malformed(format!(
                "Policies must not exceed {MAX_POLICY_BYTES} bytes"
            )));
        }
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("Policies must be valid JSON: {e}")))?;
        let Value::Object(doc) = doc else {
            return Err(malformed(
                "Policies must be valid JSON and the first byte must be '{'",
            ));
        };
        for field in doc.keys() {
            if !matches!(field.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(format!("Unknown field {field}")));
            }
        }
        let version = match doc.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => Some(v.clone()),
            Some(_) => {
                return Err(malformed(
                    "The policy must contain a valid version string (2012-10-17 or 2008-10-17)",
                ));
            }
        };
        let id = match doc.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(malformed("Id must be a string")),
        };
        let statements = match doc.get("Statement") {
            None => return Err(malformed("Missing required field Statement")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(malformed("Statement must not be empty"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| statement(s, bucket))
                .collect::<Result<Vec<_>, _>>()?,
            Some(one) => vec![statement(one, bucket)?],
        };
        Ok(Self {
            version,
            id,
            statements,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(text: &str) -> String {
        match Policy::parse(text, "b1") {
            Err(PolicyError::Malformed(m)) => m,
            other => panic!("expected MalformedPolicy, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_policy_parses() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["usr_a"]},
               "Action":["s3:DeleteObject"],"Resource":"arn:aws:s3:::b1/logs/*",
               "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
            "b1",
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].effect, Effect::Deny);
        assert_eq!(
            p.statements[0].principal.items,
            Principals::Ids(vec!["usr_a".into()])
        );
        let star = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*",
               "Resource":["arn:aws:s3:::*","arn:aws:s3:::*/*"]}}"#,
            "b1",
        )
        .unwrap();
        assert_eq!(star.statements[0].principal.items, Principals::Everyone);
    }

    #[test]
    fn malformed_policies_say_what_is_wrong() {
        assert!(err("not json").contains("valid JSON"));
        assert!(err("[1]").contains("first byte"));
        assert!(err(r#"{"Version":"2020-01-01","Statement":[]}"#).contains("version"));
        assert!(err(r#"{"Version":"2012-10-17"}"#).contains("Statement"));
        let st = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{s}]}}"#);
        assert!(err(&st(r#"{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*"}"#)).contains("effect"));
        assert!(
            err(&st(
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*"}"#
            ))
            .contains("Principal")
        );
        assert!(
            err(&st(
                r#"{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::b1/*"}"#
            ))
            .contains("Action")
        );
        assert!(err(&st(r#"{"Effect":"Allow","Principal":"*","Action":"iam:PassRole","Resource":"arn:aws:s3:::b1/*"}"#)).contains("action"));
        assert!(
            err(&st(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}"#
            ))
            .contains("Resource")
        );
        assert!(err(&st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#)).contains("does not name bucket b1"));
        assert!(err(&st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*","Condition":{"StringSorta":{"aws:Referer":"x"}}}"#)).contains("Condition type"));
        assert!(err(&st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}"#)).contains("Condition value"));
        assert!(err(&st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*","Colour":"red"}"#)).contains("Unknown field"));
        assert!(err(&"x".repeat(MAX_POLICY_BYTES + 1)).contains("exceed"));
    }

    #[test]
    fn keys_the_gateway_cannot_evaluate_are_refused() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*",
            "Condition":{"StringEquals":{"s3:RequestObjectTag/security":"secret"}}}]}"#;
        assert!(matches!(
            Policy::parse(p, "b1"),
            Err(PolicyError::Unsupported(_))
        ));
        assert!(key_supported("AWS:SourceIP"));
        assert!(key_supported("s3:x-amz-acl"));
        assert!(key_supported("aws:SourceVpce"));
        assert!(!key_supported("s3:x-amz-"));
        assert!(key_supported("s3:ExistingObjectTag/security"));
        assert!(!key_supported("s3:ExistingObjectTag/"));
    }
}
