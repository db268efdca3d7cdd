//! Where the state database lives: a SQLite file or a PostgreSQL URL, parsed from `state.url`
//! (or `state migrate --from/--to`), with the password kept out of every `Debug`, `Display` and
//! error text.

use std::fmt;
use std::path::PathBuf;

/// A PostgreSQL connection URL (`postgres://…` or `postgresql://…`). The raw text is only handed
/// to the driver; `Debug` and `Display` show it with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl(String);

impl PgUrl {
    /// The URL as given, password included: for the driver only, never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({})", redact(&self.0))
    }
}

/// The state database to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A SQLite file (created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database (13 or newer).
    Postgres(PgUrl),
}

impl StateLocation {
    /// Parses the value of `state.url`: only `postgres://` and `postgresql://` URLs (SQLite is
    /// what an unset `state.url` means). The error names the scheme, never the whole value.
    pub fn parse_state_url(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        match scheme_of(raw) {
            Some("postgres" | "postgresql") => Ok(Self::Postgres(PgUrl(raw.to_owned()))),
            Some(other) => Err(format!(
                "scheme `{other}` is not supported: use postgres:// or postgresql:// \
                 (leave state.url unset for SQLite in data_dir)"
            )),
            None => Err(
                "not a URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE \
                 (leave state.url unset for SQLite in data_dir)"
                    .to_owned(),
            ),
        }
    }

    /// Parses `sqlite://PATH` as well as what [`StateLocation::parse_state_url`] takes (the
    /// `state migrate` arguments).
    pub fn parse_any(raw: &str) -> Result<Self, String> {
        match raw.trim().strip_prefix("sqlite://") {
            Some("") => {
                Err("sqlite:// needs a file path, e.g. sqlite://data/gateway.db".to_owned())
            }
            Some(path) => Ok(Self::Sqlite(PathBuf::from(path))),
            None => Self::parse_state_url(raw).map_err(|e| {
                e.replace(
                    "use postgres:// or postgresql://",
                    "use sqlite://PATH, postgres:// or postgresql://",
                )
            }),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => url.fmt(f),
        }
    }
}

/// The scheme of `raw` when it looks like `scheme://…`.
fn scheme_of(raw: &str) -> Option<&str> {
    let (scheme, _) = raw.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    ok.then_some(scheme)
}

/// `raw` with the password of the user-info part and any `password=` query parameter replaced
/// by `***`. Works on text, so host lists (`h1:5432,h2:5432`) that URL parsers refuse are
/// redacted too.
pub fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return redact_query(raw);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{hosts}"),
            None => format!("{userinfo}@{hosts}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{}", redact_query(tail))
}

fn redact_query(text: &str) -> String {
    let Some((head, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (raw, shown) in [
            (
                "postgres://gw:s3cret@db:5432/gateway",
                "postgres://gw:***@db:5432/gateway",
            ),
            (
                "postgresql://gw:s3cret@h1:5432,h2:5432/gateway?sslmode=disable",
                "postgresql://gw:***@h1:5432,h2:5432/gateway?sslmode=disable",
            ),
            (
                "postgres://db/gateway?user=gw&password=s3cret",
                "postgres://db/gateway?user=gw&password=***",
            ),
            ("postgres://gw@db/gateway", "postgres://gw@db/gateway"),
        ] {
            let loc = StateLocation::parse_state_url(raw).unwrap();
            assert_eq!(loc.to_string(), shown);
            let debug = format!("{loc:?}");
            assert!(!debug.contains("s3cret"), "{debug}");
        }
    }

    #[test]
    fn other_schemes_are_refused_by_name() {
        let err = StateLocation::parse_state_url("mysql://u:pw@h/db").unwrap_err();
        assert!(err.contains("`mysql`") && !err.contains("pw"), "{err}");
        let err = StateLocation::parse_state_url("sqlite://x.db").unwrap_err();
        assert!(err.contains("`sqlite`"), "{err}");
        let err = StateLocation::parse_state_url("u:pw@host").unwrap_err();
        assert!(err.contains("not a URL") && !err.contains("pw"), "{err}");
        assert_eq!(
            StateLocation::parse_any("sqlite://data/g.db").unwrap(),
            StateLocation::Sqlite(PathBuf::from("data/g.db"))
        );
        let err = StateLocation::parse_any("ftp://x").unwrap_err();
        assert!(err.contains("sqlite://PATH"), "{err}");
    }
}
