//! The sensor's event contract (crates/sensor/src/lib.rs), rule by rule,
//! driven through the `Sensor` API as the live agent drives it.

mod common;

use common::*;
use netward_events::{ActionType, Protocol};
use netward_policy::{Action, EnforcementLevel};
use netward_sensor::{FlowDecision, SensorConfig, Unfollowable};
use netward_wire::testing::{self, Rdata};
use serde_json::json;

fn hello(sni: &str) -> Vec<u8> {
    testing::records(&testing::client_hello(sni, &["h2"], 0), 16384)
}

/// Rule: one connection event, stamped with the set-up time, emitted as soon
/// as the first name is known, `RemoteUrl` = that name (canonical).
#[test]
fn connection_event_once_the_name_is_known() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(1, "93.184.216.34:443");
    assert!(r.events.is_empty(), "nothing before a name or the end");
    r.send(1, &hello("WWW.Example.COM"));
    let conns: Vec<_> = r.events.iter().filter(|e| is_connection(e)).collect();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].action_type, Some(ActionType::ConnectionSuccess));
    assert_eq!(conns[0].remote_url, "www.example.com");
    assert_eq!(conns[0].timestamp, ts(2), "stamped when the connection was set up");
    assert_eq!(field(conns[0], "name_source"), Some(&json!("sni")));
    r.end(1, ActionType::ConnectionSuccess);
    assert_eq!(r.events.iter().filter(|e| is_connection(e)).count(), 1, "never a second one");
}

/// Rule: without a name, the connection event comes at the flow's end with its outcome.
#[test]
fn connection_event_at_the_end_without_a_name() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(2, "192.0.2.9:22");
    r.send(2, b"SSH-2.0-OpenSSH_9.2\r\n");
    assert!(r.events.is_empty());
    r.end(2, ActionType::ConnectionSuccess);
    let e = r.events.iter().find(|e| is_connection(e)).expect("connection event");
    assert_eq!((e.remote_url.as_str(), e.remote_port), ("", Some(22)));
    assert_eq!(e.timestamp, ts(2));
    // Never set up: stamped when it began.
    r.start(3, meta(Protocol::Tcp, 3, "192.0.2.9:23"));
    r.end(3, ActionType::ConnectionFailed);
    let e = r.of(ActionType::ConnectionFailed);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].timestamp, ts(5), "its start (the fifth call)");
}

/// Rules: a DNS response is an inspected event with the connection's own
/// addresses; its answers name a later flow without a name of its own
/// (`name_source: dns`, `inferred`, `dns_candidates`).
#[test]
fn dns_answers_name_a_later_flow() {
    let mut r = Run::new(SensorConfig::default());
    r.start(4, meta(Protocol::Udp, 4, "192.0.2.53:53"));
    r.send(4, &testing::dns_query(7, "named.example"));
    r.recv(4, &testing::dns_response(7, "Named.Example.", &[("named.example", 300, Rdata::A([192, 0, 2, 80]))]));
    let d = r.of(ActionType::DnsConnectionInspected);
    assert_eq!(d.len(), 1, "the query is no event, the response is");
    assert_eq!(d[0].remote_url, "named.example");
    assert_eq!(d[0].remote_ip, Some("192.0.2.53".parse().unwrap()));
    assert_eq!(d[0].local_port, Some(10004));
    r.tcp(5, "192.0.2.80:22");
    r.send(5, b"SSH-2.0-x\r\n");
    r.end(5, ActionType::ConnectionSuccess);
    let e = r.of_flow(5).into_iter().find(|e| is_connection(e)).unwrap();
    assert_eq!(e.remote_url, "named.example");
    assert_eq!(field(e, "name_source"), Some(&json!("dns")));
    assert_eq!(field(e, "inferred"), Some(&json!(true)));
    assert_eq!(field(e, "dns_candidates"), Some(&json!(["named.example"])));
}

/// Rules: every request head of a keep-alive proxy connection is an
/// inspected event with the proxy's address; each target reached through the
/// proxy gets one `ConnectionSuccess` (`RemoteIP` empty for a name, the proxy
/// in `proxy`), however often it is named; the connection is followed.
#[test]
fn every_request_of_a_keep_alive_proxy_connection() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(8, "198.51.100.1:3128");
    assert_eq!(r.send(8, &testing::proxy_get("http://a.example/x", "a.example", 0)), Some(FlowDecision::Follow));
    r.recv(8, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r.send(8, &testing::proxy_get("http://B.example/y", "b.example", 0));
    r.send(8, &testing::proxy_get("http://a.example/z", "a.example", 0));
    let http = r.of(ActionType::HttpConnectionInspected);
    let urls: Vec<_> = http.iter().map(|e| e.remote_url.as_str()).collect();
    assert_eq!(urls, ["a.example", "b.example", "a.example"]);
    assert!(http.iter().all(|e| e.remote_ip == Some("198.51.100.1".parse().unwrap())));
    let targets: Vec<_> = r.events.iter().filter(|e| is_target(e)).collect();
    let named: Vec<_> = targets.iter().map(|e| (e.remote_url.as_str(), e.remote_ip, e.remote_port)).collect();
    assert_eq!(named, [("a.example", None, Some(80)), ("b.example", None, Some(80))]);
    assert_eq!(field(targets[0], "proxy").unwrap()["kind"], "http-forward");
    let conn = r.events.iter().find(|e| is_connection(e)).unwrap();
    assert_eq!((conn.remote_url.as_str(), field(conn, "name_source")), ("a.example", Some(&json!("host"))));
}

/// Rules: a CONNECT the proxy accepts is a target event; the ClientHello
/// inside is an inspected event of layer 1 with the proxy in `proxy`.
#[test]
fn connect_tunnel_and_the_client_hello_inside() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(9, "198.51.100.1:3128");
    r.send(9, b"CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n");
    r.recv(9, b"HTTP/1.1 200 Connection established\r\n\r\n");
    assert_eq!(r.send(9, &hello("inner.example")), Some(FlowDecision::Pass));
    let t: Vec<_> = r.events.iter().filter(|e| is_target(e)).collect();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].remote_url.as_str(), t[0].remote_ip, t[0].remote_port), ("inner.example", None, Some(443)));
    assert_eq!(field(t[0], "proxy").unwrap()["kind"], "http-connect");
    let ssl = r.of(ActionType::SslConnectionInspected);
    assert_eq!(ssl.len(), 1);
    assert_eq!(ssl[0].remote_ip, Some("198.51.100.1".parse().unwrap()));
    assert_eq!(field(ssl[0], "proxy").unwrap()["target"], "inner.example:443");
    let conn = r.events.iter().find(|e| is_connection(e)).unwrap();
    assert_eq!((conn.remote_url.as_str(), field(conn, "name_source")), ("inner.example", Some(&json!("connect"))));
}

/// Rule: a tunnel opened to an address waits for the name its content gives.
#[test]
fn tunnel_to_an_address_is_named_by_its_content() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(10, "198.51.100.1:3128");
    r.send(10, b"CONNECT 203.0.113.5:443 HTTP/1.1\r\n\r\n");
    r.recv(10, b"HTTP/1.1 200 Connection established\r\n\r\n");
    assert!(!r.events.iter().any(is_target), "no target event before its name");
    r.send(10, &hello("by-address.example"));
    let t: Vec<_> = r.events.iter().filter(|e| is_target(e)).collect();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].remote_url, "by-address.example");
    assert_eq!(t[0].remote_ip, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(field(t[0], "name_source"), Some(&json!("sni")));
}

/// Rule: each distinct destination is judged once; block verdicts are
/// enforced at level block (the decision says so), audited at level audit.
#[test]
fn verdicts_once_per_destination() {
    let indicators = [("blocked.example", Action::Block), ("audited.example", Action::Audit)];
    let mut r = Run::with_policy(SensorConfig::default(), policy(&indicators, EnforcementLevel::Block));
    r.tcp(11, "192.0.2.11:443");
    assert_eq!(r.send(11, &hello("blocked.example")), Some(FlowDecision::Block));
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].remote_url, "blocked.example");
    assert_eq!(field(b[0], "IsAudit"), Some(&json!(false)));
    r.tcp(12, "192.0.2.12:443");
    assert_eq!(r.send(12, &hello("audited.example")), Some(FlowDecision::Pass));
    assert_eq!(r.of(ActionType::ExploitGuardNetworkProtectionAudited).len(), 1);

    let mut r = Run::with_policy(SensorConfig::default(), policy(&indicators, EnforcementLevel::Audit));
    r.tcp(13, "192.0.2.13:443");
    assert_eq!(r.send(13, &hello("blocked.example")), Some(FlowDecision::Pass));
    let a = r.of(ActionType::ExploitGuardNetworkProtectionAudited);
    assert_eq!(a.len(), 1);
    assert_eq!(field(a[0], "IsAudit"), Some(&json!(true)));
}

/// Rule: a warn is enforced as a block unless a temporary allow for the
/// flow's user (or every user) lifts it; a block indicator never is.
#[test]
fn a_warn_passes_for_the_user_it_was_allowed_for() {
    let indicators = [("warn.example", Action::Warn), ("blocked.example", Action::Block)];
    let mut p = policy(&indicators, EnforcementLevel::Block);
    let now = ts(0).unix_nanos() / 1_000_000_000;
    let mut allows = netward_policy::WarnAllows::default();
    allows.add("warn.example", Some(1000), now, now + 3600, "alice").unwrap();
    allows.add("blocked.example", Some(1000), now, now + 3600, "alice").unwrap();
    p.warn_allows = std::sync::Arc::new(allows);
    let mut r = Run::with_policy(SensorConfig::default(), p);
    // Alice's flow passes, reported as audited with the allow.
    r.tcp(21, "192.0.2.21:443");
    r.sensor.set_user(21, 1000);
    assert_eq!(r.send(21, &hello("warn.example")), Some(FlowDecision::Pass));
    let a = r.of(ActionType::ExploitGuardNetworkProtectionAudited);
    assert_eq!(a.len(), 1);
    assert_eq!(field(a[0], "action"), Some(&json!("warn")));
    assert_eq!(field(a[0], "warn_allowed").unwrap()["user"], json!(1000));
    // Bob's (and an unattributed) flow is blocked.
    r.tcp(22, "192.0.2.22:443");
    r.sensor.set_user(22, 1001);
    assert_eq!(r.send(22, &hello("warn.example")), Some(FlowDecision::Block));
    r.tcp(23, "192.0.2.23:443");
    assert_eq!(r.send(23, &hello("warn.example")), Some(FlowDecision::Block));
    // An allow never lifts a block indicator.
    r.tcp(24, "192.0.2.24:443");
    r.sensor.set_user(24, 1000);
    assert_eq!(r.send(24, &hello("blocked.example")), Some(FlowDecision::Block));
    assert_eq!(r.of(ActionType::ExploitGuardNetworkProtectionBlocked).len(), 3);
}

/// Rule: two spellings of one URL on a flow are one verdict (keys canonicalised).
#[test]
fn two_spellings_of_one_url_are_one_verdict() {
    let p = policy(&[("audited.example", Action::Audit)], EnforcementLevel::Audit);
    let mut r = Run::with_policy(SensorConfig::default(), p);
    r.tcp(14, "198.51.100.1:3128");
    r.send(14, &testing::proxy_get("http://audited.example/~foo", "audited.example", 0));
    r.send(14, &testing::proxy_get("http://AUDITED.example:80/%7Efoo", "audited.example", 0));
    let urls: Vec<_> = r
        .of(ActionType::ExploitGuardNetworkProtectionAudited)
        .iter()
        .filter_map(|e| field(e, "url").and_then(|u| u.as_str()).map(str::to_owned))
        .filter(|u| u.starts_with("http://"))
        .collect();
    assert_eq!(urls, ["http://audited.example/~foo"], "one verdict for the URL");
}

/// Rule: a QUIC Initial's ClientHello is an inspected event (`name_source:
/// quic`); a UDP flow's connection event comes at its end.
#[test]
fn quic_client_hello() {
    let mut r = Run::new(SensorConfig::default());
    r.start(15, meta(Protocol::Udp, 15, "192.0.2.15:443"));
    for d in testing::quic_ordinary("quic.example", 1800) {
        r.send(15, &d);
    }
    let s = r.of(ActionType::SslConnectionInspected);
    assert_eq!((s.len(), s[0].remote_url.as_str()), (1, "quic.example"));
    assert_eq!(field(s[0], "name_source"), Some(&json!("quic")));
    assert!(!r.events.iter().any(is_connection));
    r.end(15, ActionType::ConnectionSuccess);
    assert_eq!(r.events.iter().find(|e| is_connection(e)).unwrap().remote_url, "quic.example");
}

/// Rule: a flow that cannot be followed is flagged on one inspected event and
/// its later events; by default it is allowed, with `unfollowable: Block` the
/// level decides.
#[test]
fn unfollowable_flows_are_flagged_and_policy_decides() {
    // A TLS record whose handshake is not a ClientHello.
    let bad = [0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00];
    let mut r = Run::with_policy(SensorConfig::default(), policy(&[], EnforcementLevel::Block));
    r.tcp(16, "192.0.2.16:443");
    assert_eq!(r.send(16, &bad), Some(FlowDecision::Pass), "allowed by default");
    let s = r.of(ActionType::SslConnectionInspected);
    assert_eq!(s.len(), 1);
    assert_eq!(field(s[0], "inspection"), Some(&json!("lost")));
    assert_eq!(field(s[0], "inspection_reason"), Some(&json!("tls: first handshake message is not a ClientHello")));
    r.end(16, ActionType::ConnectionSuccess);
    let c = r.events.iter().find(|e| is_connection(e)).unwrap();
    assert_eq!(field(c, "inspection"), Some(&json!("lost")), "the flow's later events carry it");
    assert_eq!(r.sensor.stats().flows_lost, 1);

    let config = SensorConfig { unfollowable: Unfollowable::Block, ..Default::default() };
    let mut r = Run::with_policy(config.clone(), policy(&[], EnforcementLevel::Block));
    r.tcp(17, "192.0.2.17:443");
    assert_eq!(r.send(17, &bad), Some(FlowDecision::Block));
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    assert_eq!(b.len(), 1);
    assert_eq!(field(b[0], "inspection"), Some(&json!("lost")));

    let mut r = Run::with_policy(config, policy(&[], EnforcementLevel::Audit));
    r.tcp(18, "192.0.2.18:443");
    assert_eq!(r.send(18, &bad), Some(FlowDecision::Pass));
    assert_eq!(r.of(ActionType::ExploitGuardNetworkProtectionAudited).len(), 1);
}

/// Rule: a request read after lost framing says so (`resync`).
#[test]
fn a_request_after_garbage_says_resync() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(19, "198.51.100.1:3128");
    r.send(19, &testing::proxy_get("http://one.example/", "one.example", 0));
    r.send(19, b"\x00\x01junk\r\n");
    r.send(19, &testing::proxy_get("http://two.example/", "two.example", 0));
    let http = r.of(ActionType::HttpConnectionInspected);
    assert_eq!(http.len(), 2);
    assert_eq!(field(http[0], "resync"), None);
    assert_eq!(field(http[1], "resync"), Some(&json!("bytes that are not an HTTP request")));
    assert_eq!(r.sensor.stats().resyncs, 1);
}

/// A flow id started again while live ends the old flow first.
#[test]
fn a_restarted_id_ends_the_old_flow() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(20, "192.0.2.20:22");
    r.tcp(20, "192.0.2.21:22");
    assert_eq!(r.events.iter().filter(|e| is_connection(e)).count(), 1);
    r.end(20, ActionType::ConnectionSuccess);
    assert_eq!(r.events.iter().filter(|e| is_connection(e)).count(), 2);
    assert_eq!(r.sensor.stats().flows_live, 0);
}

/// Rule: direct plain HTTP is followed, not passed once named: a later
/// request on the keep-alive connection may name another host (here a
/// proxy-form request to a blocked one) and is judged.
#[test]
fn a_direct_plain_http_connection_is_followed() {
    let mut r =
        Run::with_policy(SensorConfig::default(), policy(&[("evil.example", Action::Block)], EnforcementLevel::Block));
    r.tcp(20, "192.0.2.20:80");
    let first = b"GET / HTTP/1.1\r\nHost: good.example\r\n\r\n";
    assert_eq!(r.send(20, first), Some(FlowDecision::Follow), "origin-form: followed");
    r.recv(20, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert!(r.of(ActionType::ExploitGuardNetworkProtectionBlocked).is_empty());
    let second = testing::proxy_get("http://evil.example/", "evil.example", 0);
    assert_eq!(r.send(20, &second), Some(FlowDecision::Block), "the later request is judged");
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    // The URL and the forward target's host: two destinations, each judged.
    assert!(!b.is_empty() && b.iter().all(|e| e.remote_url == "evil.example"), "{b:#?}");
}

/// Rule: a flow the datapath gives up on before it was decided is flagged
/// (`inspection: lost` with the datapath's reason) and may pass; with
/// `unfollowable: Block` at level block it is blocked.
#[test]
fn a_flow_given_up_by_the_datapath_is_flagged() {
    let partial = b"GET / HTTP/1.1\r\nX-Slow: 1\r\n";
    let mut r = Run::with_policy(SensorConfig::default(), policy(&[], EnforcementLevel::Block));
    r.tcp(21, "192.0.2.21:80");
    assert_eq!(r.send(21, partial), Some(FlowDecision::Inspect), "a head not complete yet");
    r.sensor.give_up(21, "packet budget spent before a decision", ts(100));
    assert_eq!(r.sensor.decision(21), Some(FlowDecision::Pass));
    r.end(21, ActionType::ConnectionSuccess);
    let flagged: Vec<_> =
        r.of_flow(21).into_iter().filter(|e| field(e, "inspection") == Some(&json!("lost"))).collect();
    assert_eq!(flagged.len(), 2, "one inspected event and the connection event: {:#?}", r.events);
    assert_eq!(flagged[0].action_type, Some(ActionType::HttpConnectionInspected));
    assert_eq!(field(flagged[0], "inspection_reason"), Some(&json!("http: packet budget spent before a decision")));
    assert!(is_connection(flagged[1]));

    let config = SensorConfig { unfollowable: Unfollowable::Block, ..Default::default() };
    let mut r = Run::with_policy(config, policy(&[], EnforcementLevel::Block));
    r.tcp(22, "192.0.2.22:80");
    r.send(22, partial);
    r.sensor.give_up(22, "packet budget spent before a decision", ts(100));
    assert_eq!(r.sensor.decision(22), Some(FlowDecision::Block));
}

/// Rule: a flow the inspector is done with that named nothing is named from
/// DNS answers at once and that name judged, so a block lands before a
/// datapath lets the flow pass (not only in its end event).
#[test]
fn a_nameless_protocol_is_named_from_dns_and_judged_at_once() {
    let p = policy(&[("evil.example", Action::Block)], EnforcementLevel::Block);
    let mut r = Run::with_policy(SensorConfig::default(), p);
    r.start(23, meta(Protocol::Udp, 23, "192.0.2.53:53"));
    r.send(23, &testing::dns_query(8, "evil.example"));
    r.recv(23, &testing::dns_response(8, "evil.example.", &[("evil.example", 300, Rdata::A([192, 0, 2, 81]))]));
    r.tcp(24, "192.0.2.81:22");
    assert_eq!(r.send(24, b"SSH-2.0-x\r\n"), Some(FlowDecision::Block), "blocked on its first bytes");
    let conn = r.of_flow(24).into_iter().find(|e| is_connection(e)).cloned().expect("connection event already out");
    assert_eq!((conn.remote_url.as_str(), field(&conn, "name_source")), ("evil.example", Some(&json!("dns"))));
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    assert!(b.iter().any(|e| e.local_port == Some(10024) && e.remote_url == "evil.example"), "{b:#?}");
    // Without an answer for the address, nothing changes: passed, named at the end.
    r.tcp(25, "192.0.2.82:22");
    assert_eq!(r.send(25, b"SSH-2.0-x\r\n"), Some(FlowDecision::Pass));
    assert!(r.of_flow(25).is_empty());
}

/// Rule: a lookup is never what is blocked, so the DNS flow carries no
/// verdict row claiming a block: the answer's name is on record in its
/// DnsConnectionInspected row, and the connection to the name is what is
/// judged and blocked.
#[test]
fn a_lookup_of_a_blocked_name_passes_and_claims_no_block() {
    let p = policy(&[("evil.example", Action::Block)], EnforcementLevel::Block);
    let mut r = Run::with_policy(SensorConfig::default(), p);
    r.start(29, meta(Protocol::Udp, 29, "192.0.2.53:53"));
    r.send(29, &testing::dns_query(10, "evil.example"));
    r.recv(29, &testing::dns_response(10, "evil.example.", &[("evil.example", 300, Rdata::A([192, 0, 2, 85]))]));
    assert_ne!(r.sensor.decision(29), Some(FlowDecision::Block));
    let dns = r.of_flow(29);
    assert!(dns
        .iter()
        .any(|e| e.action_type == Some(ActionType::DnsConnectionInspected) && e.remote_url == "evil.example"));
    assert!(
        dns.iter().all(|e| !matches!(
            e.action_type,
            Some(ActionType::ExploitGuardNetworkProtectionBlocked | ActionType::ExploitGuardNetworkProtectionAudited)
        )),
        "{dns:#?}"
    );
    r.tcp(30, "192.0.2.85:22");
    assert_eq!(r.send(30, b"SSH-2.0-x\r\n"), Some(FlowDecision::Block));
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    assert_eq!(b.len(), 1, "one block, the connection's: {b:#?}");
    assert_eq!((b[0].local_port, b[0].remote_url.as_str()), (Some(10030), "evil.example"));
}

/// Rule: a request naming only an address is judged by the name DNS
/// answers gave that address too (as a ClientHello without SNI is).
#[test]
fn a_request_to_an_address_is_judged_by_its_dns_name() {
    let p = policy(&[("evil.example", Action::Block)], EnforcementLevel::Block);
    let mut r = Run::with_policy(SensorConfig::default(), p);
    r.start(26, meta(Protocol::Udp, 26, "192.0.2.53:53"));
    r.send(26, &testing::dns_query(9, "evil.example"));
    r.recv(26, &testing::dns_response(9, "evil.example.", &[("evil.example", 300, Rdata::A([192, 0, 2, 83]))]));
    r.tcp(27, "192.0.2.83:80");
    assert_eq!(r.send(27, b"GET / HTTP/1.1\r\nHost: 192.0.2.83\r\n\r\n"), Some(FlowDecision::Block));
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    assert!(b.iter().any(|e| e.local_port == Some(10027) && e.remote_url == "evil.example"), "{b:#?}");
    r.tcp(28, "192.0.2.84:80");
    assert_eq!(
        r.send(28, b"GET / HTTP/1.1\r\nHost: 192.0.2.84\r\n\r\n"),
        Some(FlowDecision::Follow),
        "no answer: judged as an address"
    );
}
