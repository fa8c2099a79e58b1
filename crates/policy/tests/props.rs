//! Property tests: parsers never panic on any bytes, canonical spellings
//! match alike, and the fast path agrees with the full evaluation.

use std::sync::Arc;

use netward_policy::feed::parse_feed;
use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{Action, EnforcementLevel, FeedFormat, ImportReport, Matcher, Origin, Target, VerdictAction};
use proptest::prelude::*;

const FORMATS: [FeedFormat; 5] =
    [FeedFormat::Hosts, FeedFormat::Domains, FeedFormat::Adblock, FeedFormat::Urlhaus, FeedFormat::Stix];

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}"
}

/// A valid domain: the last label starts with a letter (a name ending in
/// a number is an IPv4 address).
fn domain() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 0..3), "[a-z][a-z0-9]{0,4}").prop_map(|(mut v, tld)| {
        v.push(tld);
        v.join(".")
    })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![Just(Action::Allow), Just(Action::Audit), Just(Action::Warn), Just(Action::Block)]
}

/// Same name, other spelling: case, trailing dot, escapes, URL form.
fn respell(d: &str, how: u8) -> String {
    match how % 5 {
        0 => d.to_ascii_uppercase(),
        1 => format!("{d}."),
        2 => d.bytes().map(|b| format!("%{b:02x}")).collect(),
        3 => format!("HTTPS://{d}:443/some/path?q#f"),
        _ => format!("[x]{d}").replace("[x]", ""),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), f in 0usize..5) {
        let mut report = ImportReport::default();
        let mut n = 0u64;
        let _ = parse_feed(&bytes[..], FORMATS[f], &mut report, &mut |_| n += 1);
        prop_assert_eq!(report.imported, n);
        prop_assert!(report.error_samples.len() as u64 <= report.errors);
    }

    #[test]
    fn line_parsers_never_panic_on_feedish_text(
        lines in prop::collection::vec(prop_oneof![
            Just("0.0.0.0 ".to_string()), Just("||".to_string()), Just("^".to_string()), Just("$".to_string()),
            Just("\"".to_string()), Just(",".to_string()), Just("#".to_string()), Just("http://".to_string()),
            Just("[".to_string()), Just("%".to_string()), "[a-z.]{0,8}", any::<char>().prop_map(String::from),
        ], 0..30),
        f in 0usize..4,
    ) {
        let text = lines.join("\n");
        let mut report = ImportReport::default();
        let mut items = Vec::new();
        parse_feed(text.as_bytes(), FORMATS[f], &mut report, &mut |i| items.push(i)).unwrap();
        // Every item is canonical: re-parsing its value gives itself.
        for i in items {
            prop_assert_eq!(Target::parse(i.target.kind(), &i.target.to_string()).ok(), Some(i.target.clone()));
        }
    }

    /// Any spelling of a listed name, or of a subdomain, gets the listed
    /// action; the fast path agrees with the full evaluation.
    #[test]
    fn spellings_match_alike(
        listed in prop::collection::vec((domain(), action()), 1..8),
        sub in prop::option::of(label()),
        pick in any::<prop::sample::Index>(),
        how in any::<u8>(),
    ) {
        let mut b = SegmentBuilder::new(Seed::FIXED, "feed", Origin::ThreatFeed);
        for (d, a) in &listed {
            b.add(&Target::Domain(d.clone()), *a, None);
        }
        let m = Matcher::new(Seed::FIXED, vec![Arc::new(b.build())]);
        let (d, _) = pick.get(&listed);
        let host = match &sub { Some(s) => format!("{s}.{d}"), None => d.clone() };
        let v = m.evaluate(&respell(&host, how), EnforcementLevel::Block, 0).unwrap();
        prop_assert_ne!(v.action, VerdictAction::None);
        let fast = m.decide_domain(&host, 0).map(|x| VerdictAction::from(x.action));
        prop_assert_eq!(fast, Some(v.action));
        prop_assert_eq!(v.enforced, v.action == VerdictAction::Block || v.action == VerdictAction::Warn);
    }

    /// A name that is not a suffix-match of anything listed never matches.
    #[test]
    fn unlisted_names_do_not_match(listed in prop::collection::vec(domain(), 1..20), probe in domain()) {
        let mut b = SegmentBuilder::new(Seed::FIXED, "feed", Origin::ThreatFeed);
        for d in &listed {
            b.add(&Target::Domain(d.clone()), Action::Block, None);
        }
        let m = Matcher::new(Seed::FIXED, vec![Arc::new(b.build())]);
        let expected = listed.iter().any(|d| probe == *d || probe.ends_with(&format!(".{d}")));
        prop_assert_eq!(m.decide_domain(&probe, 0).is_some(), expected);
    }
}
