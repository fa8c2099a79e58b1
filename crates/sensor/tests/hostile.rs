//! Hostile input through the sensor, one test per attack of the hardening
//! issue; the work and the state are counted by the sensor itself
//! (`SensorStats`) and held against the stated bounds. Nothing is timed.

mod common;

use common::*;
use netward_events::{ActionType, Protocol};
use netward_policy::{Action, EnforcementLevel};
use netward_sensor::{FlowDecision, SensorConfig, Unfollowable};
use netward_wire::testing::{self, Rdata};
use serde_json::json;

/// A keep-alive proxy connection whose first request has 200 headers and a
/// chunked body: its second request, naming a blocked host, is judged and
/// blocked.
#[test]
fn keep_alive_request_with_200_headers_then_a_blocked_host() {
    let p = policy(&[("blocked.example", Action::Block)], EnforcementLevel::Block);
    let mut r = Run::with_policy(SensorConfig::default(), p);
    r.tcp(1, "198.51.100.1:3128");
    let first = testing::proxy_post_chunked("http://first.example/upload", "first.example", 200, 40);
    assert_eq!(r.send(1, &first), Some(FlowDecision::Follow));
    r.recv(1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let d = r.send(1, &testing::proxy_get("http://blocked.example/page", "blocked.example", 3));
    let http: Vec<_> = r.of(ActionType::HttpConnectionInspected).iter().map(|e| e.remote_url.clone()).collect();
    assert_eq!(http, ["first.example", "blocked.example"]);
    let b = r.of(ActionType::ExploitGuardNetworkProtectionBlocked);
    assert!(b.iter().any(|e| e.remote_url == "blocked.example"), "{:#?}", r.events);
    assert_eq!(d, Some(FlowDecision::Block));
}

/// An unusual Transfer-Encoding and garbage between requests do not hide
/// the later requests of a keep-alive proxy connection.
#[test]
fn unusual_framing_and_garbage_then_a_blocked_host() {
    for prelude in [
        &b"POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked, x-custom\r\n\r\nbody\r\n"[..],
        b"GET http://a.example/ HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello",
        b"GET http://a.example/ HTTP/1.1\r\n\r\n\x16\x03\x01 \xff\xfe garbage line\r\nanother\r\n",
        b"POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n",
    ] {
        let p = policy(&[("blocked.example", Action::Block)], EnforcementLevel::Block);
        let mut r = Run::with_policy(SensorConfig::default(), p);
        r.tcp(2, "198.51.100.1:3128");
        r.send(2, prelude);
        let d = r.send(2, &testing::proxy_get("http://blocked.example/", "blocked.example", 0));
        assert_eq!(d, Some(FlowDecision::Block), "{}: {:#?}", String::from_utf8_lossy(prelude), r.events);
        assert!(r.sensor.stats().resyncs >= 1);
        assert_eq!(r.sensor.stats().flows_lost, 0, "resynchronised, not lost");
    }
}

/// DNS answers are learned only from the server's side: a client sending a
/// "response" cannot name its own later connections.
#[test]
fn dns_answers_from_the_client_side_teach_nothing() {
    let mut r = Run::new(SensorConfig::default());
    r.start(3, meta(Protocol::Udp, 3, "192.0.2.53:53"));
    let forged = testing::dns_response(9, "harmless.example", &[("harmless.example", 3600, Rdata::A([192, 0, 2, 81]))]);
    r.send(3, &forged);
    assert_eq!(r.sensor.stats().dns_answers_ignored, 1);
    assert!(r.of(ActionType::DnsConnectionInspected).is_empty());
    r.tcp(4, "192.0.2.81:443");
    r.send(4, b"\x00\x00not tls");
    r.end(4, ActionType::ConnectionSuccess);
    let c = r.of_flow(4).into_iter().find(|e| is_connection(e)).unwrap();
    assert_eq!(c.remote_url, "", "not named from a client-sent answer");
    // The same answer from the server's side does name it.
    r.recv(3, &forged);
    r.tcp(5, "192.0.2.81:443");
    r.end(5, ActionType::ConnectionSuccess);
    let c = r.of_flow(5).into_iter().find(|e| is_connection(e)).unwrap();
    assert_eq!(c.remote_url, "harmless.example");
}

/// A CNAME chain of 300 names to 300 addresses costs name steps linear in
/// the answers, through the sensor.
#[test]
fn dns_cname_chain_through_the_sensor() {
    let mut r = Run::new(SensorConfig::default());
    r.start(6, meta(Protocol::Udp, 6, "192.0.2.53:53"));
    r.recv(6, &testing::dns_cname_chain(300, 300));
    let w = r.sensor.stats().work;
    assert!(w.name_steps <= 20 * 600, "{w:?}");
    assert_eq!(r.of(ActionType::DnsConnectionInspected).len(), 1);
}

/// TCP DNS: at most 256 messages per direction are read, then the flow is flagged.
#[test]
fn tcp_dns_messages_bounded_and_flagged() {
    let mut r = Run::new(SensorConfig::default());
    r.tcp(7, "192.0.2.53:53");
    let mut answers = Vec::new();
    for i in 0..1000u16 {
        let m = testing::dns_response(
            i,
            &format!("n{i}.example"),
            &[(&format!("n{i}.example"), 60, Rdata::A([10, 1, 0, 1]))],
        );
        answers.extend(testing::tcp_framed(&m));
    }
    r.recv(7, &answers);
    let d = r.of(ActionType::DnsConnectionInspected);
    let lost: Vec<_> = d.iter().filter(|e| field(e, "inspection") == Some(&json!("lost"))).collect();
    assert_eq!(d.len() - lost.len(), netward_wire::MAX_TCP_DNS_MESSAGES);
    assert_eq!(lost.len(), 1, "one event says why");
    assert_eq!(r.sensor.stats().flows_lost, 1);
}

/// Per flow, judged destinations and reported targets are remembered up to
/// a bound; every request is still inspected and judged.
#[test]
fn per_flow_sets_are_bounded() {
    let p = policy(&[("never.example", Action::Block)], EnforcementLevel::Audit);
    let config = SensorConfig { max_keys_per_flow: 64, ..Default::default() };
    let mut r = Run::with_policy(config, p);
    r.tcp(8, "198.51.100.1:3128");
    let mut stream = Vec::new();
    for i in 0..3000 {
        stream.extend(testing::proxy_get(&format!("http://h{i}.example/p{i}"), &format!("h{i}.example"), 0));
    }
    for chunk in stream.chunks(1448) {
        r.send(8, chunk);
        assert!(r.sensor.stats().keys_held <= 2 * 64, "{:?}", r.sensor.stats());
    }
    let s = r.sensor.stats();
    assert_eq!(r.of(ActionType::HttpConnectionInspected).len(), 3000);
    assert_eq!(r.events.iter().filter(|e| is_target(e)).count(), 3000);
    assert!(s.key_evictions > 0, "{s:?}");
    // The last request is judged like the first: block it and see.
    let p = policy(&[("h2999.example", Action::Block)], EnforcementLevel::Block);
    let mut r = Run::with_policy(SensorConfig { max_keys_per_flow: 64, ..Default::default() }, p);
    r.tcp(9, "198.51.100.1:3128");
    for chunk in stream.chunks(1448) {
        r.send(9, chunk);
    }
    assert_eq!(r.sensor.decision(9), Some(FlowDecision::Block));
    r.end(9, ActionType::ConnectionSuccess);
    assert_eq!(r.sensor.stats().keys_held, 0, "a flow's keys go with it");
}

/// One budget for all bytes the inspectors buffer: many flows holding
/// partial 60 KB ClientHellos stay within it; the flows holding the most are
/// given up, counted, flagged, and blocked where the policy asks for it.
#[test]
fn one_buffer_budget_across_flows() {
    let budget = 512 * 1024;
    let config = SensorConfig { max_buffered_bytes: budget, unfollowable: Unfollowable::Block, ..Default::default() };
    let mut r = Run::with_policy(config, policy(&[], EnforcementLevel::Block));
    // A ClientHello announced as 60000 bytes, sent as 3 full records of it.
    let mut hello = vec![1, 0x00, 0xea, 0x60];
    hello.resize(3 * 16384, 0x41);
    let records = testing::records(&hello, 16384);
    for id in 100..164 {
        r.tcp(id, "192.0.2.100:443");
        for rec in records.chunks(4000) {
            r.send(id, rec);
            let s = r.sensor.stats();
            assert!(s.buffered_bytes <= budget as u64, "{s:?}");
        }
    }
    let s = r.sensor.stats();
    eprintln!("{s:?}");
    assert!(s.buffer_evictions > 0, "{s:?}");
    assert_eq!(s.flows_lost, s.buffer_evictions);
    let blocked = (100..164).filter(|&id| r.sensor.decision(id) == Some(FlowDecision::Block)).count() as u64;
    assert_eq!(blocked, s.buffer_evictions);
    let lost = r.of(ActionType::SslConnectionInspected);
    assert!(lost
        .iter()
        .all(|e| field(e, "inspection_reason") == Some(&json!("tls: inspection memory budget exceeded"))));
    for id in 100..164 {
        r.end(id, ActionType::ConnectionSuccess);
    }
    assert_eq!(r.sensor.stats().buffered_bytes, 0);
}

/// 64 forged QUIC Initials full of tiny and overlapping CRYPTO frames, through
/// the sensor: the work stays within a few ordinary Initials per Initial and
/// the flow's bound.
#[test]
fn forged_quic_initials_through_the_sensor() {
    let mut r = Run::new(SensorConfig::default());
    r.start(10, meta(Protocol::Udp, 10, "192.0.2.10:443"));
    let ordinary = testing::quic_ordinary("ordinary.example", 1800);
    let n = ordinary.len() as u64;
    for d in &ordinary {
        r.send(10, d);
    }
    let per_initial = r.sensor.stats().work.total() / n;
    for (id, forged) in [(11, testing::quic_tiny_frames(64)), (12, testing::quic_overlapping_frames(64))] {
        let before = r.sensor.stats().work.total();
        r.start(id, meta(Protocol::Udp, id, "192.0.2.10:443"));
        for d in &forged {
            r.send(id, d);
        }
        let w = r.sensor.stats().work.total() - before;
        assert!(w <= 3 * per_initial * netward_wire::quic::MAX_INITIALS as u64, "{w} vs {per_initial}");
        assert!(r.of_flow(id).iter().any(|e| field(e, "inspection") == Some(&json!("lost"))));
    }
}
