//! Every matching and precedence rule, through the public API.

use std::sync::Arc;

use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{
    Action, EnforcementLevel, Indicator, IndicatorType, Matcher, Origin, ResponseCategory, Target, Verdict,
    VerdictAction,
};

use Action::*;
use IndicatorType::*;

/// One indicator for a test matcher.
struct I(IndicatorType, &'static str, Action);

fn record(
    id: &str,
    kind: IndicatorType,
    value: &str,
    action: Action,
    source: &str,
    origin: Origin,
    expires: Option<i64>,
) -> Indicator {
    let t = Target::parse(kind, value).unwrap();
    Indicator {
        id: id.into(),
        kind: t.kind(),
        value: t.to_string(),
        action,
        origin,
        source: source.into(),
        title: Some(format!("title of {id}")),
        description: None,
        expires,
        category: None,
    }
}

/// Custom indicators (records), then optional feed and category segments
/// (bulk entries).
fn matcher(custom: &[I], feed: &[I], category: &[I]) -> Matcher {
    let mut segs = Vec::new();
    let mut b = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
    for (n, I(k, v, a)) in custom.iter().enumerate() {
        b.add_record(record(&(n + 1).to_string(), *k, v, *a, "custom", Origin::Custom, None)).unwrap();
    }
    segs.push(Arc::new(b.build()));
    for (name, origin, list, label) in
        [("feed", Origin::ThreatFeed, feed, Some("phishing")), ("cats", Origin::Category, category, Some("Gambling"))]
    {
        let mut b = SegmentBuilder::new(Seed::FIXED, name, origin);
        for I(k, v, a) in list {
            b.add(&Target::parse(*k, v).unwrap(), *a, label);
        }
        segs.push(Arc::new(b.build()));
    }
    Matcher::new(Seed::FIXED, segs)
}

fn eval(m: &Matcher, input: &str) -> Verdict {
    m.evaluate(input, EnforcementLevel::Block, 1000).unwrap()
}

fn winner(m: &Matcher, input: &str) -> (VerdictAction, String) {
    let v = eval(m, input);
    (v.action, v.matched.first().map(|x| format!("{}:{}", x.kind, x.value)).unwrap_or_default())
}

#[test]
fn canonical_spellings_match() {
    let m = matcher(
        &[I(Domain, "EVIL.example.", Block), I(Ip, "195.127.0.11", Block), I(Domain, "bücher.example", Block)],
        &[],
        &[],
    );
    let v = eval(&m, "https://WWW.evil.EXAMPLE:443/x");
    assert_eq!(v.action, VerdictAction::Block);
    assert_eq!(v.canonical, "https://www.evil.example/x");
    assert_eq!(v.matched[0].value, "evil.example");
    assert_eq!(winner(&m, "http://3279880203/"), (VerdictAction::Block, "ip:195.127.0.11".into()));
    assert_eq!(winner(&m, "0xC3.0x7F.0.11:8080").0, VerdictAction::Block);
    assert_eq!(winner(&m, "[::ffff:195.127.0.11]:443").0, VerdictAction::Block);
    assert_eq!(winner(&m, "http://%77ww.xn--BCHER-kva.example./").0, VerdictAction::Block);
    assert_eq!(winner(&m, "WWW.BÜCHER.example").0, VerdictAction::Block);
    assert_eq!(winner(&m, "notevil.example").0, VerdictAction::None);
    assert_eq!(winner(&m, "evil.example.com").0, VerdictAction::None);
}

#[test]
fn domain_matches_itself_and_subdomains_only() {
    let m = matcher(&[I(Domain, "evil.example", Block)], &[], &[]);
    for hit in ["evil.example", "a.evil.example", "a.b.c.evil.example:8443", "http://x.evil.example/p?q"] {
        assert_eq!(winner(&m, hit).0, VerdictAction::Block, "{hit}");
    }
    for miss in ["example", "xevil.example", "evil.example.org", "evil.exampl"] {
        assert_eq!(winner(&m, miss).0, VerdictAction::None, "{miss}");
    }
}

#[test]
fn url_path_prefix_on_whole_segments() {
    let m = matcher(&[I(Url, "http://site.example/bad/", Block), I(Url, "site.example/worse", Block)], &[], &[]);
    for hit in [
        "http://site.example/bad/x",
        "https://site.example/bad",
        "site.example/bad/",
        "http://site.example/worse/y?z",
        "http://site.example/x/../bad/x",
    ] {
        assert_eq!(winner(&m, hit).0, VerdictAction::Block, "{hit}");
    }
    for miss in [
        "http://site.example/badge",
        "http://site.example/",
        "site.example",
        "site.example:443",
        "http://www.site.example/bad/x",
        "http://site.example/worsen",
    ] {
        assert_eq!(winner(&m, miss).0, VerdictAction::None, "{miss}");
    }
}

#[test]
fn url_without_path_needs_a_whole_host_indicator() {
    let m = matcher(&[I(Url, "https://whole.example/", Block), I(Url, "part.example/x", Block)], &[], &[]);
    assert_eq!(winner(&m, "whole.example:443"), (VerdictAction::Block, "url:whole.example/".into()));
    assert_eq!(winner(&m, "http://whole.example/any/path").0, VerdictAction::Block);
    assert_eq!(winner(&m, "sub.whole.example").0, VerdictAction::None, "URL indicators name one exact host");
    assert_eq!(winner(&m, "part.example").0, VerdictAction::None, "a path-less destination cannot match /x");
}

#[test]
fn longest_url_path_wins() {
    let m = matcher(
        &[I(Url, "site.example/a", Block), I(Url, "site.example/a/b", Allow), I(Url, "site.example/a/b/c", Block)],
        &[],
        &[],
    );
    assert_eq!(winner(&m, "site.example/a/x"), (VerdictAction::Block, "url:site.example/a".into()));
    assert_eq!(winner(&m, "site.example/a/b/x"), (VerdictAction::Allow, "url:site.example/a/b".into()));
    assert_eq!(winner(&m, "site.example/a/b/c/d"), (VerdictAction::Block, "url:site.example/a/b/c".into()));
    assert_eq!(eval(&m, "site.example/a/b/c/d").matched.len(), 3);
}

#[test]
fn url_beats_domain_and_ip() {
    let m = matcher(
        &[
            I(Domain, "site.example", Block),
            I(Url, "site.example/ok", Allow),
            I(Ip, "10.1.2.3", Block),
            I(Url, "10.1.2.3/ok", Allow),
        ],
        &[],
        &[],
    );
    assert_eq!(winner(&m, "http://site.example/ok/1").0, VerdictAction::Allow);
    assert_eq!(winner(&m, "http://site.example/other").0, VerdictAction::Block);
    assert_eq!(winner(&m, "http://10.1.2.3/ok").0, VerdictAction::Allow);
    assert_eq!(winner(&m, "10.1.2.3").0, VerdictAction::Block);
}

#[test]
fn subdomain_beats_parent() {
    let m = matcher(
        &[
            I(Domain, "example.com", Block),
            I(Domain, "good.example.com", Allow),
            I(Domain, "bad.good.example.com", Block),
        ],
        &[],
        &[],
    );
    assert_eq!(winner(&m, "x.example.com").0, VerdictAction::Block);
    assert_eq!(winner(&m, "x.good.example.com"), (VerdictAction::Allow, "domain:good.example.com".into()));
    assert_eq!(winner(&m, "x.bad.good.example.com"), (VerdictAction::Block, "domain:bad.good.example.com".into()));
    let order: Vec<String> = eval(&m, "x.bad.good.example.com").matched.iter().map(|x| x.value.clone()).collect();
    assert_eq!(order, ["bad.good.example.com", "good.example.com", "example.com"]);
}

#[test]
fn narrowest_ip_range_wins() {
    let m = matcher(
        &[
            I(Cidr, "10.0.0.0/8", Block),
            I(Cidr, "10.1.0.0/16", Allow),
            I(Ip, "10.1.2.3", Warn),
            I(Cidr, "2001:db8::/32", Block),
            I(Cidr, "2001:db8:1::/48", Allow),
        ],
        &[],
        &[],
    );
    assert_eq!(winner(&m, "10.9.9.9"), (VerdictAction::Block, "cidr:10.0.0.0/8".into()));
    assert_eq!(winner(&m, "10.1.9.9"), (VerdictAction::Allow, "cidr:10.1.0.0/16".into()));
    assert_eq!(winner(&m, "10.1.2.3"), (VerdictAction::Warn, "ip:10.1.2.3".into()));
    assert_eq!(winner(&m, "[2001:db8:2::1]:443"), (VerdictAction::Block, "cidr:2001:db8::/32".into()));
    assert_eq!(winner(&m, "http://[2001:db8:1::1]/"), (VerdictAction::Allow, "cidr:2001:db8:1::/48".into()));
    assert_eq!(winner(&m, "11.0.0.1").0, VerdictAction::None);
    assert_eq!(winner(&m, "2001:db9::1").0, VerdictAction::None);
}

#[test]
fn equal_specificity_action_order() {
    // Allow > Warn > Block > Audit, checked pairwise on one value.
    let order = [Allow, Warn, Block, Audit];
    for (i, a) in order.iter().enumerate() {
        for b in &order[i + 1..] {
            for (x, y) in [(*a, *b), (*b, *a)] {
                let m = matcher(&[I(Domain, "tie.example", x)], &[I(Domain, "tie.example", y)], &[]);
                // Different origins: custom always wins, whatever the action.
                assert_eq!(eval(&m, "tie.example").action, VerdictAction::from(x));
                let m = matcher(&[], &[I(Domain, "tie.example", x), I(Domain, "tie.example", y)], &[]);
                assert_eq!(eval(&m, "tie.example").action, VerdictAction::from(*a), "{x:?} vs {y:?}");
            }
        }
    }
}

#[test]
fn custom_beats_feed_beats_category() {
    let m = matcher(
        &[I(Domain, "example.com", Allow)],
        &[I(Domain, "cdn.example.com", Block)],
        &[I(Domain, "x.cdn.example.com", Block)],
    );
    let v = eval(&m, "x.cdn.example.com");
    assert_eq!(v.action, VerdictAction::Allow, "custom allow on the parent covers a feed's block of a subdomain");
    let sources: Vec<&str> = v.matched.iter().map(|x| x.source.as_str()).collect();
    assert_eq!(sources, ["custom", "feed", "cats"]);
    let m = matcher(&[], &[I(Domain, "example.com", Allow)], &[I(Domain, "x.example.com", Block)]);
    assert_eq!(eval(&m, "x.example.com").action, VerdictAction::Allow);
    let m = matcher(&[], &[], &[I(Domain, "casino.example", Block)]);
    let v = eval(&m, "casino.example");
    assert_eq!((v.action, v.category), (VerdictAction::Block, Some(ResponseCategory::CustomPolicy)));
}

#[test]
fn expired_indicators_do_not_match() {
    let mut b = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
    b.add_record(record("1", Domain, "old.example", Allow, "custom", Origin::Custom, Some(500))).unwrap();
    b.add_record(record("2", Domain, "old.example", Block, "custom", Origin::Custom, None)).unwrap();
    let m = Matcher::new(Seed::FIXED, vec![Arc::new(b.build())]);
    let at = |now| m.evaluate("old.example", EnforcementLevel::Block, now).unwrap();
    assert_eq!(at(499).action, VerdictAction::Allow);
    assert_eq!(at(500).action, VerdictAction::Block, "expires at the instant");
    assert_eq!(at(500).matched.len(), 1);
    assert_eq!(m.decide_domain("old.example", 499).map(|d| d.action), Some(Allow));
    assert_eq!(m.decide_domain("old.example", 501).map(|d| d.action), Some(Block));
}

#[test]
fn enforced_by_level_and_action() {
    let m = matcher(
        &[
            I(Domain, "b.example", Block),
            I(Domain, "w.example", Warn),
            I(Domain, "a.example", Audit),
            I(Domain, "ok.example", Allow),
        ],
        &[],
        &[],
    );
    use EnforcementLevel as L;
    for (input, level, enforced, event) in [
        ("b.example", L::Block, true, Some(1126)),
        ("b.example", L::Audit, false, Some(1125)),
        ("b.example", L::Disabled, false, None),
        ("w.example", L::Block, true, Some(1126)),
        ("w.example", L::Audit, false, Some(1125)),
        ("a.example", L::Block, false, None),
        ("ok.example", L::Block, false, None),
        ("none.example", L::Block, false, None),
    ] {
        let v = m.evaluate(input, level, 0).unwrap();
        assert_eq!((v.enforced, v.event_id()), (enforced, event), "{input} at {level}");
        assert_eq!(v.enforcement_level, level);
    }
    let w = m.evaluate("w.example", L::Block, 0).unwrap();
    assert!(w.note.is_some_and(|n| n.contains("warn is enforced as block")));
    assert!(m.evaluate("b.example", L::Block, 0).unwrap().note.is_none());
}

#[test]
fn categories_and_json_shape() {
    let m = matcher(
        &[I(Domain, "c.example", Block), I(Domain, "allowed.example", Allow)],
        &[I(Domain, "p.example", Block)],
        &[],
    );
    assert_eq!(eval(&m, "c.example").category, Some(ResponseCategory::CustomBlockList));
    assert_eq!(eval(&m, "p.example").category, Some(ResponseCategory::Phishing));
    assert_eq!(eval(&m, "allowed.example").category, None);
    assert_eq!(eval(&m, "none.example").category, None);
    let v = eval(&m, "HTTP://www.C.example/");
    let json: serde_json::Value = serde_json::from_str(&v.to_json_line()).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["action", "canonical", "category", "enforced", "enforcement_level", "input", "matched"]);
    assert_eq!(
        json["matched"][0],
        serde_json::json!({"id": "1", "type": "domain", "value": "c.example", "action": "block", "source": "custom"})
    );
    assert_eq!(json["category"], "CustomBlockList");
    assert_eq!(json["action"], "block");
    assert_eq!(json["enforcement_level"], "block");
    assert_eq!(v.title.as_deref(), Some("title of 1"));
    let none = eval(&m, "none.example").to_json_line();
    assert_eq!(
        none,
        r#"{"input":"none.example","canonical":"none.example","action":"none","enforced":false,"enforcement_level":"block","category":null,"matched":[]}"#
    );
}

#[test]
fn feed_entry_ids_are_stable() {
    let m1 = matcher(&[], &[I(Domain, "x.example", Block)], &[]);
    let m2 = matcher(&[], &[I(Domain, "other.example", Block), I(Domain, "x.example", Block)], &[]);
    let id1 = eval(&m1, "a.x.example").matched[0].id.clone();
    assert_eq!(id1, eval(&m2, "x.example").matched[0].id);
    assert!(id1.starts_with("feed:"));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let m = matcher(&[I(Domain, "x.example", Block)], &[], &[]);
    assert!(m.evaluate("http://[::1/", EnforcementLevel::Block, 0).is_err());
    assert!(m.evaluate("", EnforcementLevel::Block, 0).is_err());
    assert!(m.evaluate("1.2.3.999", EnforcementLevel::Block, 0).is_err());
}
