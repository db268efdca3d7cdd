//! Evaluation of a bucket policy for one request, as S3 does it: a statement applies when its
//! principal, action, resource and every condition match; an applicable `Deny` wins whatever
//! the order of statements, then an applicable `Allow`; otherwise the policy says nothing.

use super::condition::{Context, Op};
use super::document::{Effect, Matcher, Policy, Principals, Statement};
use super::wildcard;

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An applicable statement denies it.
    Deny,
    /// An applicable statement allows it, and none denies it.
    Allow,
    /// No statement applies.
    NotApplicable,
}

/// One request as the policy sees it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The caller's ScaiDrive user id; `None` for an anonymous request.
    pub principal: Option<&'a str>,
    /// `s3:GetObject`, `s3:ListBucket`, …
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// Whether a principal value of a policy names user `id`: the id itself, or an ARN whose
/// account field or last path segment is it (`arn:aws:iam::usr_x:root`,
/// `arn:aws:iam:::user/usr_x`).
fn names(value: &str, id: &str) -> bool {
    if value == id {
        return true;
    }
    let Some(rest) = value.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let (account, resource) = rest.split_once(':').unwrap_or((rest, ""));
    account == id || resource.rsplit('/').next() == Some(id)
}

fn principal_matches(m: &Matcher<Principals>, who: Option<&str>) -> bool {
    let named = match (&m.items, who) {
        (Principals::Everyone, _) => true,
        (Principals::Ids(ids), Some(id)) => ids.iter().any(|v| names(v, id)),
        (Principals::Ids(_), None) => false,
    };
    named != m.not
}

fn action_matches(m: &Matcher<Vec<String>>, action: &str) -> bool {
    m.items
        .iter()
        .any(|p| wildcard::matches_ignore_case(p, action))
        != m.not
}

fn resource_matches(m: &Matcher<Vec<String>>, resource: &str) -> bool {
    m.items.iter().any(|p| wildcard::matches(p, resource)) != m.not
}

/// Whether `st` applies to `req`.
pub fn applies(st: &Statement, req: &Request<'_>) -> bool {
    principal_matches(&st.principal, req.principal)
        && action_matches(&st.action, req.action)
        && resource_matches(&st.resource, req.resource)
        && st.conditions.iter().all(|c| c.holds(req.context))
}

/// The decision of `policy` for `req`: explicit Deny, else Allow, else not applicable.
pub fn evaluate(policy: &Policy, req: &Request<'_>) -> Decision {
    let mut allowed = false;
    for st in policy.statements.iter().filter(|st| applies(st, req)) {
        match st.effect {
            Effect::Deny => return Decision::Deny,
            Effect::Allow => allowed = true,
        }
    }
    match allowed {
        true => Decision::Allow,
        false => Decision::NotApplicable,
    }
}

/// Whether `policy` lets an anonymous request do `action` on `resource`: an applicable Allow
/// naming everyone (`Principal: "*"`) and no applicable Deny. The anonymous request path asks
/// this before it serves anything through a public link.
pub fn anonymous_allowed(
    policy: &Policy,
    action: &str,
    resource: &str,
    conditions: &Context,
) -> bool {
    let req = Request {
        principal: None,
        action,
        resource,
        context: conditions,
    };
    evaluate(policy, &req) == Decision::Allow
}

/// Keys whose fixed values limit a statement to known callers (a source network, a VPC, an
/// organisation), so an Allow that tests them is not public.
const LIMITING_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:PrincipalOrgID",
    "aws:PrincipalAccount",
    "aws:userid",
    "aws:username",
];

/// Whether the policy makes the bucket public (GetBucketPolicyStatus `IsPublic`), as S3 judges
/// it: an Allow for everyone (`*`, or a `NotPrincipal`) that no limiting condition narrows.
pub fn is_public(policy: &Policy) -> bool {
    policy.statements.iter().any(|st| {
        let everyone = st.principal.not || st.principal.items == Principals::Everyone;
        let limited = st.conditions.iter().any(|c| {
            LIMITING_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&c.key))
                && !(c.op == Op::IpAddress && c.values.iter().any(|v| v == "0.0.0.0/0"))
        });
        st.effect == Effect::Allow && everyone && !limited
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::policy::condition::{Condition, SetQualifier};
    use proptest::prelude::*;

    fn policy(text: &str) -> Policy {
        Policy::parse(text, "b1").unwrap()
    }

    fn decide(
        p: &Policy,
        who: Option<&str>,
        action: &str,
        resource: &str,
        ctx: &Context,
    ) -> Decision {
        evaluate(
            p,
            &Request {
                principal: who,
                action,
                resource,
                context: ctx,
            },
        )
    }

    #[test]
    fn deny_on_a_prefix_denies_only_there() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
               "Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b1/keep/*"}]}"#,
        );
        let c = Context::new();
        assert_eq!(
            decide(
                &p,
                Some("usr_a"),
                "s3:DeleteObject",
                "arn:aws:s3:::b1/keep/x",
                &c
            ),
            Decision::Deny
        );
        assert_eq!(
            decide(
                &p,
                Some("usr_a"),
                "s3:DeleteObject",
                "arn:aws:s3:::b1/other",
                &c
            ),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(
                &p,
                Some("usr_a"),
                "s3:GetObject",
                "arn:aws:s3:::b1/keep/x",
                &c
            ),
            Decision::NotApplicable
        );
    }

    #[test]
    fn principals_name_users_by_id_or_arn() {
        let p = policy(
            r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::usr_a:root","arn:aws:iam:::user/usr_b","usr_c"]},
               "Action":"s3:*","Resource":"arn:aws:s3:::b1/*"}]}"#,
        );
        let c = Context::new();
        for who in ["usr_a", "usr_b", "usr_c"] {
            assert_eq!(
                decide(&p, Some(who), "s3:GetObject", "arn:aws:s3:::b1/k", &c),
                Decision::Deny
            );
        }
        assert_eq!(
            decide(&p, Some("usr_d"), "s3:GetObject", "arn:aws:s3:::b1/k", &c),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&p, None, "s3:GetObject", "arn:aws:s3:::b1/k", &c),
            Decision::NotApplicable
        );
        let not = policy(
            r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"usr_a"},
               "Action":"s3:*","Resource":"arn:aws:s3:::b1/*"}]}"#,
        );
        assert_eq!(
            decide(&not, Some("usr_a"), "s3:GetObject", "arn:aws:s3:::b1/k", &c),
            Decision::NotApplicable
        );
        assert_eq!(
            decide(&not, Some("usr_b"), "s3:GetObject", "arn:aws:s3:::b1/k", &c),
            Decision::Deny
        );
    }

    #[test]
    fn insecure_transport_deny_applies_only_over_http() {
        let p = policy(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*",
               "Resource":["arn:aws:s3:::b1","arn:aws:s3:::b1/*"],
               "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        );
        let mut http = Context::new();
        http.set("aws:SecureTransport", "false");
        let mut https = Context::new();
        https.set("aws:SecureTransport", "true");
        assert_eq!(
            decide(&p, Some("u"), "s3:ListBucket", "arn:aws:s3:::b1", &http),
            Decision::Deny
        );
        assert_eq!(
            decide(&p, Some("u"), "s3:ListBucket", "arn:aws:s3:::b1", &https),
            Decision::NotApplicable
        );
    }

    #[test]
    fn anonymous_read_needs_an_allow_for_everyone() {
        let p = policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],
               "Resource":"arn:aws:s3:::b1/pub/*"},
               {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/pub/secret"}]}"#,
        );
        let c = Context::new();
        assert!(anonymous_allowed(
            &p,
            "s3:GetObject",
            "arn:aws:s3:::b1/pub/a",
            &c
        ));
        assert!(!anonymous_allowed(
            &p,
            "s3:GetObject",
            "arn:aws:s3:::b1/pub/secret",
            &c
        ));
        assert!(!anonymous_allowed(
            &p,
            "s3:GetObject",
            "arn:aws:s3:::b1/priv",
            &c
        ));
        assert!(!anonymous_allowed(
            &p,
            "s3:PutObject",
            "arn:aws:s3:::b1/pub/a",
            &c
        ));
    }

    #[test]
    fn policy_status_follows_s3s_public_rules() {
        let open = policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b1"}]}"#,
        );
        assert!(is_public(&open));
        let ip = policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b1","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/32"}}}]}"#,
        );
        assert!(!is_public(&ip));
        let notp = policy(
            r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::s3tenant1:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b1"}]}"#,
        );
        assert!(is_public(&notp));
        let deny = policy(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b1"}]}"#,
        );
        assert!(!is_public(&deny));
    }

    // --- properties ------------------------------------------------------------------------

    fn arb_statement() -> impl Strategy<Value = Statement> {
        (
            any::<bool>(),
            prop::sample::select(vec![
                "*",
                "s3:GetObject",
                "s3:Get*",
                "s3:PutObject",
                "s3:*Object",
            ]),
            prop::sample::select(vec![
                "arn:aws:s3:::b1/*",
                "arn:aws:s3:::b1/a/*",
                "arn:aws:s3:::b1",
                "arn:aws:s3:::*",
            ]),
            prop::option::of(prop::sample::select(vec!["usr_a", "usr_b"])),
            prop::option::of(prop::sample::select(vec!["10.0.0.0/8", "127.0.0.1"])),
            any::<bool>(),
        )
            .prop_map(|(deny, action, resource, who, ip, not_action)| Statement {
                sid: None,
                effect: if deny { Effect::Deny } else { Effect::Allow },
                principal: Matcher {
                    not: false,
                    items: match who {
                        Some(w) => Principals::Ids(vec![w.to_owned()]),
                        None => Principals::Everyone,
                    },
                },
                action: Matcher {
                    not: not_action,
                    items: vec![action.to_owned()],
                },
                resource: Matcher {
                    not: false,
                    items: vec![resource.to_owned()],
                },
                conditions: ip
                    .map(|net| Condition {
                        op: Op::IpAddress,
                        if_exists: false,
                        set: None::<SetQualifier>,
                        key: "aws:SourceIp".to_owned(),
                        values: vec![net.to_owned()],
                    })
                    .into_iter()
                    .collect(),
            })
    }

    fn arb_request() -> impl Strategy<
        Value = (
            Option<&'static str>,
            &'static str,
            &'static str,
            &'static str,
        ),
    > {
        (
            prop::option::of(prop::sample::select(vec!["usr_a", "usr_b", "usr_c"])),
            prop::sample::select(vec![
                "s3:GetObject",
                "s3:PutObject",
                "s3:ListBucket",
                "s3:DeleteObject",
            ]),
            prop::sample::select(vec![
                "arn:aws:s3:::b1",
                "arn:aws:s3:::b1/a/x",
                "arn:aws:s3:::b1/b",
            ]),
            prop::sample::select(vec!["10.1.1.1", "127.0.0.1", "192.0.2.1"]),
        )
    }

    proptest! {
        /// An applicable Deny wins whatever the order of statements.
        #[test]
        fn explicit_deny_wins_in_any_order(
            stmts in prop::collection::vec(arb_statement(), 1..6),
            (who, action, resource, ip) in arb_request(),
            rotate in 0usize..6,
        ) {
            let mut ctx = Context::new();
            ctx.set("aws:SourceIp", ip);
            let req = Request { principal: who, action, resource, context: &ctx };
            let p = Policy { version: None, id: None, statements: stmts.clone() };
            let mut rotated = stmts.clone();
            let n = rotated.len();
            rotated.rotate_left(rotate % n);
            rotated.reverse();
            let q = Policy { version: None, id: None, statements: rotated };
            let d = evaluate(&p, &req);
            prop_assert_eq!(d, evaluate(&q, &req));
            let any_deny = stmts.iter().any(|s| s.effect == Effect::Deny && applies(s, &req));
            prop_assert_eq!(d == Decision::Deny, any_deny);
        }

        /// Adding statements never turns a Deny into something else, and adding Allow
        /// statements never turns a non-Allow into Deny.
        #[test]
        fn more_statements_never_undo_a_deny(
            base in prop::collection::vec(arb_statement(), 1..4),
            extra in prop::collection::vec(arb_statement(), 0..4),
            (who, action, resource, ip) in arb_request(),
        ) {
            let mut ctx = Context::new();
            ctx.set("aws:SourceIp", ip);
            let req = Request { principal: who, action, resource, context: &ctx };
            let p = Policy { version: None, id: None, statements: base.clone() };
            let mut all = base.clone();
            all.extend(extra);
            let q = Policy { version: None, id: None, statements: all };
            if evaluate(&p, &req) == Decision::Deny {
                prop_assert_eq!(evaluate(&q, &req), Decision::Deny);
            }
        }

        /// A policy without an applicable Allow for everyone never lets an anonymous request in.
        #[test]
        fn anonymous_needs_an_allow_for_everyone(
            stmts in prop::collection::vec(arb_statement(), 1..6),
            (_who, action, resource, ip) in arb_request(),
        ) {
            let mut ctx = Context::new();
            ctx.set("aws:SourceIp", ip);
            let p = Policy { version: None, id: None, statements: stmts.clone() };
            let req = Request { principal: None, action, resource, context: &ctx };
            let allow_for_all = stmts.iter().any(|s| {
                s.effect == Effect::Allow && s.principal.items == Principals::Everyone && applies(s, &req)
            });
            if !allow_for_all {
                prop_assert!(!anonymous_allowed(&p, action, resource, &ctx));
            }
        }
    }
}
