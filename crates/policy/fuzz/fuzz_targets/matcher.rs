//! Indicators and a destination from fuzz input: building and evaluating
//! never panics, the fast path agrees with the full evaluation, and the
//! winner is the first of the matched list.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netward_policy::hash::Seed;
use netward_policy::segment::SegmentBuilder;
use netward_policy::{Action, EnforcementLevel, IndicatorType, Matcher, Origin, Target, VerdictAction};

const KINDS: [IndicatorType; 4] = [IndicatorType::Domain, IndicatorType::Url, IndicatorType::Ip, IndicatorType::Cidr];
const ACTIONS: [Action; 4] = [Action::Allow, Action::Audit, Action::Warn, Action::Block];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let Some(input) = lines.next() else { return };
    let mut custom = SegmentBuilder::new(Seed::FIXED, "custom", Origin::Custom);
    let mut feed = SegmentBuilder::new(Seed::FIXED, "feed", Origin::ThreatFeed);
    for (i, line) in lines.take(64).enumerate() {
        let mut b = line.bytes();
        let (Some(k), Some(a)) = (b.next(), b.next()) else { continue };
        let Some(value) = line.get(2..) else { continue };
        let Ok(t) = Target::parse(KINDS[usize::from(k) % 4], value) else { continue };
        let action = ACTIONS[usize::from(a) % 4];
        if i % 2 == 0 {
            feed.add(&t, action, None);
        } else {
            feed.add(&t, action, Some("phishing"));
            custom.add(&t, action, None);
        }
    }
    let m = Matcher::new(Seed::FIXED, vec![Arc::new(custom.build()), Arc::new(feed.build())]);
    let Ok(v) = m.evaluate(input, EnforcementLevel::Block, 0) else { return };
    assert_eq!(v.action == VerdictAction::None, v.matched.is_empty());
    if let Some(first) = v.matched.first() {
        assert_eq!(VerdictAction::from(first.action), v.action);
    }
    if let Ok(netward_policy_canon_host) = netward_policy::Target::parse(IndicatorType::Domain, input) {
        if let Target::Domain(d) = netward_policy_canon_host {
            let has_host_level = v.matched.iter().any(|x| x.kind == IndicatorType::Domain);
            assert_eq!(m.decide_domain(&d, 0).is_some(), has_host_level);
        }
    }
});
