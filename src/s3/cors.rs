//! CORS: PutBucketCors validation, and the answers browsers get from the stored rules: a
//! preflight `OPTIONS` (which carries no credentials; s3s does not route it, so the edge
//! answers it before s3s) and the `Access-Control-*` headers of an actual request that names
//! an `Origin`. The rules only tell a browser what it may send; every actual request is still
//! signed and checked as any other, so CORS widens nothing.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::state::{ConfigKind, StateDb};

/// S3's bounds: 100 rules, IDs up to 255 characters.
const MAX_RULES: usize = 100;
const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

fn invalid_request(msg: String) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, msg)
}

/// Checks a configuration as S3 does.
pub(crate) fn validate(config: &CORSConfiguration) -> S3Result<()> {
    let rules = &config.cors_rules;
    if rules.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "a CORS configuration needs at least one CORSRule".to_owned(),
        ));
    }
    if rules.len() > MAX_RULES {
        return Err(invalid_request(
            "a CORS configuration holds at most 100 rules".to_owned(),
        ));
    }
    for rule in rules {
        if rule.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
            return Err(invalid_request(
                "The ID of a CORS rule is at most 255 characters long".to_owned(),
            ));
        }
        if rule.allowed_methods.is_empty() || rule.allowed_origins.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "a CORSRule needs AllowedMethod and AllowedOrigin".to_owned(),
            ));
        }
        if let Some(m) = rule
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        for o in &rule.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(invalid_request(format!(
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                )));
            }
        }
        for h in rule.allowed_headers.iter().flatten() {
            if h.matches('*').count() > 1 {
                return Err(invalid_request(format!(
                    "AllowedHeader \"{h}\" can not have more than one wildcard."
                )));
            }
        }
    }
    Ok(())
}

/// `value` against a pattern with at most one `*`; `fold`: ASCII case-insensitively.
fn wildcard(pattern: &str, value: &str, fold: bool) -> bool {
    let (p, v) = if fold {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match p.split_once('*') {
        None => p == v,
        Some((head, tail)) => {
            v.len() >= head.len() + tail.len() && v.starts_with(head) && v.ends_with(tail)
        }
    }
}

/// The first rule that allows `origin` to use `method` with these request headers, as S3 picks
/// it.
pub(crate) fn find<'a>(
    config: &'a CORSConfiguration,
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<&'a CORSRule> {
    config.cors_rules.iter().find(|rule| {
        rule.allowed_origins
            .iter()
            .any(|o| wildcard(o, origin, false))
            && rule.allowed_methods.iter().any(|m| m.as_str() == method)
            && headers.iter().all(|h| {
                rule.allowed_headers
                    .iter()
                    .flatten()
                    .any(|a| wildcard(a, h, true))
            })
    })
}

/// Puts the `Access-Control-*` headers of a rule on an answer to `origin`.
fn allow(out: &mut HeaderMap, rule: &CORSRule, origin: &str, headers: &[String]) {
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    put(
        "access-control-allow-origin",
        if any {
            "*".to_owned()
        } else {
            origin.to_owned()
        },
    );
    if !any {
        put("access-control-allow-credentials", "true".to_owned());
    }
    put(
        "access-control-allow-methods",
        rule.allowed_methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    if !headers.is_empty() {
        put("access-control-allow-headers", headers.join(", "));
    }
    if let Some(expose) = rule.expose_headers.as_ref().filter(|e| !e.is_empty()) {
        put("access-control-expose-headers", expose.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        put("access-control-max-age", age.to_string());
    }
    out.append(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        ),
    );
}

/// The stored rules of the bucket named `bucket` (`None` when there are none or the state DB
/// fails, which is logged).
async fn rules(db: &StateDb, bucket: &str) -> Option<CORSConfiguration> {
    match db.find_bucket_config(bucket, ConfigKind::Cors).await {
        Ok(Some(c)) => super::stored::from_xml::<CORSConfiguration>(&c),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "reading CORS rules failed");
            None
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    header_str(headers, "access-control-request-headers")
        .map(|v| {
            v.split(',')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// The answer to a preflight `OPTIONS` on bucket `bucket` (`None`: the service, no bucket).
pub(crate) async fn preflight(
    db: &StateDb,
    bucket: Option<&str>,
    headers: &HeaderMap,
) -> Response<s3s::Body> {
    let (Some(origin), Some(method)) = (
        header_str(headers, "origin"),
        header_str(headers, "access-control-request-method"),
    ) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header and Access-Control-Request-Method needed.",
        );
    };
    let Some(bucket) = bucket else {
        return refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: CORS is not enabled for this bucket.",
        );
    };
    let Some(config) = rules(db, bucket).await else {
        return refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: CORS is not enabled for this bucket.",
        );
    };
    let requested = requested_headers(headers);
    match find(&config, origin, method, &requested) {
        Some(rule) => {
            let mut resp = Response::new(s3s::Body::empty());
            allow(resp.headers_mut(), rule, origin, &requested);
            resp
        }
        None => refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ),
    }
}

/// What an actual request with an `Origin` needs to decorate its answer.
#[derive(Debug, Clone)]
pub(crate) struct Actual {
    bucket: String,
    origin: String,
    method: String,
}

impl Actual {
    /// `Some` when the request names an `Origin` and a bucket.
    pub fn of(method: &Method, headers: &HeaderMap, bucket: Option<String>) -> Option<Self> {
        let origin = header_str(headers, "origin")?.to_owned();
        let method = header_str(headers, "access-control-request-method")
            .map_or_else(|| method.as_str().to_owned(), str::to_owned);
        Some(Self {
            bucket: bucket?,
            origin,
            method,
        })
    }

    /// Adds the `Access-Control-*` headers of the first matching rule, whatever the status.
    pub async fn decorate(self, db: &StateDb, resp: &mut Response<s3s::Body>) {
        let Some(config) = rules(db, &self.bucket).await else {
            return;
        };
        if let Some(rule) = find(&config, &self.origin, &self.method, &[]) {
            allow(resp.headers_mut(), rule, &self.origin, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rule(methods: &[&str], origins: &[&str], headers: &[&str]) -> CORSRule {
        CORSRule {
            allowed_methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allowed_headers: Some(headers.iter().map(|h| (*h).to_owned()).collect()),
            expose_headers: None,
            id: None,
            max_age_seconds: None,
        }
    }

    #[test]
    fn origins_methods_and_headers_match_with_one_wildcard() {
        let config = CORSConfiguration {
            cors_rules: vec![
                rule(&["GET"], &["*suffix"], &[]),
                rule(&["GET"], &["start*end"], &[]),
                rule(&["PUT"], &["*.put"], &["x-amz-*", "content-type"]),
            ],
        };
        assert!(find(&config, "foo.suffix", "GET", &[]).is_some());
        assert!(find(&config, "foo.suffix.get", "GET", &[]).is_none());
        assert!(find(&config, "startend", "GET", &[]).is_some());
        assert!(find(&config, "0start12end", "GET", &[]).is_none());
        assert!(find(&config, "foo.put", "GET", &[]).is_none());
        let h = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(find(&config, "a.put", "PUT", &h(&["X-Amz-Date", "Content-Type"])).is_some());
        assert!(find(&config, "a.put", "PUT", &h(&["authorization"])).is_none());
    }

    #[test]
    fn configurations_are_validated() {
        let ok = CORSConfiguration {
            cors_rules: vec![rule(&["GET", "PUT"], &["https://*.example.com"], &["*"])],
        };
        assert!(validate(&ok).is_ok());
        let bad_method = CORSConfiguration {
            cors_rules: vec![rule(&["PATCH"], &["*"], &[])],
        };
        assert_eq!(
            validate(&bad_method).unwrap_err().code().as_str(),
            "InvalidRequest"
        );
        let two_stars = CORSConfiguration {
            cors_rules: vec![rule(&["GET"], &["*.*"], &[])],
        };
        assert!(validate(&two_stars).is_err());
        assert!(validate(&CORSConfiguration { cors_rules: vec![] }).is_err());
    }
}
