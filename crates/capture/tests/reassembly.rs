//! TCP reassembly and flow outcomes, packet by packet.

mod common;

use common::*;
use netward_capture::synth::packet::flags::{ACK, FIN, PSH, RST, SYN};
use netward_capture::{Direction, EndReason, FlowConfig, FlowTable, Outcome, PacketDecoder, Proto};

const C: &str = "10.0.0.1";
const S: &str = "192.0.2.7";

struct Rig {
    dec: PacketDecoder,
    table: FlowTable,
    c: Collector,
    t: u64,
}

impl Rig {
    fn new() -> Self {
        Self::with(FlowConfig::default())
    }
    fn with(cfg: FlowConfig) -> Self {
        Rig { dec: PacketDecoder::default(), table: FlowTable::new(cfg), c: Collector::default(), t: 0 }
    }
    fn ip(&mut self, ip: &[u8]) {
        self.t += 1;
        feed(&mut self.dec, &mut self.table, ts(self.t), ip, &mut self.c);
    }
    /// A segment the live datapath knows the way of (it sent or received it).
    fn heading(&mut self, dir: Direction, seq: u32, ack: u32, fl: u8, data: &[u8]) {
        self.t += 1;
        let ip = match dir {
            Direction::ToServer => tcp_ip(C, 40000, S, 443, seq, ack, fl, data),
            Direction::ToClient => tcp_ip(S, 443, C, 40000, seq, ack, fl, data),
        };
        feed_heading(&mut self.dec, &mut self.table, ts(self.t), &ip, Some(dir), &mut self.c);
    }
    /// Client → server segment.
    fn cs(&mut self, seq: u32, ack: u32, fl: u8, data: &[u8]) {
        self.ip(&tcp_ip(C, 40000, S, 443, seq, ack, fl, data));
    }
    /// Server → client segment.
    fn sc(&mut self, seq: u32, ack: u32, fl: u8, data: &[u8]) {
        self.ip(&tcp_ip(S, 443, C, 40000, seq, ack, fl, data));
    }
    fn handshake(&mut self, cisn: u32, sisn: u32) {
        self.cs(cisn, 0, SYN, b"");
        self.sc(sisn, cisn.wrapping_add(1), SYN | ACK, b"");
        self.cs(cisn.wrapping_add(1), sisn.wrapping_add(1), ACK, b"");
    }
    fn finish(&mut self) {
        let c = &mut self.c;
        self.table.finish(&mut |e| c.push(e));
    }
}

#[test]
fn full_connection_in_order() {
    let mut r = Rig::new();
    r.handshake(1000, 5000);
    r.cs(1001, 5001, ACK | PSH, b"GET / HTTP/1.1\r\n\r\n");
    r.sc(5001, 1019, ACK | PSH, b"HTTP/1.1 200 OK\r\n\r\nhello");
    r.cs(1019, 5025, FIN | ACK, b"");
    r.sc(5025, 1020, FIN | ACK, b"");
    let f = r.c.only();
    assert_eq!(f.to_server, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(f.to_client, b"HTTP/1.1 200 OK\r\n\r\nhello");
    let key = f.key.unwrap();
    assert_eq!((key.proto, key.client.port(), key.server.port()), (Proto::Tcp, 40000, 443));
    assert!(f.established && !f.mid_stream);
    let (outcome, reason, stats) = f.end.unwrap();
    assert_eq!((outcome, reason), (Outcome::ConnectionSuccess, EndReason::Fin));
    assert_eq!((stats.bytes_to_server, stats.bytes_to_client), (18, 24));
    assert!(!stats.overlap_conflict);
    // The last ACK after the close starts no new flow.
    r.cs(1020, 5026, ACK, b"");
    r.finish();
    assert_eq!(r.c.flows.len(), 1);
}

#[test]
fn out_of_order_segments_are_ordered() {
    let mut r = Rig::new();
    r.handshake(10, 20);
    r.cs(11 + 8, 21, ACK, b"89abcdef");
    r.cs(11 + 16, 21, ACK, b"ghij");
    r.cs(11, 21, ACK, b"01234567");
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_server, b"0123456789abcdefghij");
    assert!(f.gaps.is_empty() && f.conflicts.is_empty());
}

#[test]
fn retransmission_with_same_bytes_is_silent() {
    let mut r = Rig::new();
    r.handshake(10, 20);
    r.cs(11, 21, ACK, b"hello ");
    r.cs(11, 21, ACK, b"hello ");
    r.cs(17, 21, ACK, b"world");
    r.cs(14, 21, ACK, b"lo wor");
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_server, b"hello world");
    assert!(f.conflicts.is_empty());
    assert!(!f.end.unwrap().2.overlap_conflict);
}

#[test]
fn differing_overlap_in_buffer_is_reported_first_copy_wins() {
    let mut r = Rig::new();
    r.handshake(10, 20);
    // Out of order "WORLD" at offset 6, then a differing copy overlapping it.
    r.cs(17, 21, ACK, b"WORLD");
    r.cs(15, 21, ACK, b"  evil");
    r.cs(11, 21, ACK, b"hello ");
    r.finish();
    let f = r.c.only();
    // Offsets 4..6 came first in "  evil", so "hello " loses there too.
    assert_eq!(f.to_server, b"hell  WORLD");
    assert_eq!(f.conflicts, vec![(Direction::ToServer, 6, 4), (Direction::ToServer, 4, 2)]);
    assert!(f.end.unwrap().2.overlap_conflict);
}

#[test]
fn differing_retransmission_of_delivered_bytes_is_reported() {
    let mut r = Rig::new();
    r.handshake(10, 20);
    r.sc(21, 11, ACK, b"server says hi");
    r.sc(21, 11, ACK, b"server says HI");
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_client, b"server says hi");
    assert_eq!(f.conflicts, vec![(Direction::ToClient, 0, 14)]);
}

#[test]
fn keepalive_probe_is_not_a_conflict() {
    let mut r = Rig::new();
    r.handshake(10, 20);
    r.cs(11, 21, ACK, b"abc");
    r.cs(13, 21, ACK, b"\0"); // seq = next - 1, one garbage byte
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_server, b"abc");
    assert!(f.conflicts.is_empty());
}

#[test]
fn mid_stream_flow_is_delivered_lower_port_is_server() {
    let mut r = Rig::new();
    // First packet seen is from the server (port 443) to the client.
    r.sc(777, 888, ACK, b"tail of a response");
    r.cs(888, 795, ACK, b"next request");
    r.finish();
    let f = r.c.only();
    let key = f.key.unwrap();
    assert_eq!(key.server.port(), 443);
    assert!(f.mid_stream && f.established);
    assert_eq!(f.to_client, b"tail of a response");
    assert_eq!(f.to_server, b"next request");
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionSuccess);
}

#[test]
fn syn_answered_by_rst_is_failed() {
    let mut r = Rig::new();
    r.cs(100, 0, SYN, b"");
    r.sc(0, 101, RST | ACK, b"");
    let f = r.c.only();
    let (outcome, reason, _) = f.end.unwrap();
    assert_eq!((outcome, reason), (Outcome::ConnectionFailed, EndReason::Rst));
    assert!(!f.established);
}

#[test]
fn unanswered_syn_is_attempt() {
    let mut r = Rig::new();
    r.cs(100, 0, SYN, b"");
    r.cs(100, 0, SYN, b""); // retransmitted SYN
    r.finish();
    let f = r.c.only();
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionAttempt);
    assert_eq!(f.end.unwrap().1, EndReason::EndOfCapture);
}

#[test]
fn rst_after_handshake_is_success_ended_by_rst() {
    let mut r = Rig::new();
    r.handshake(1, 2);
    r.cs(2, 3, ACK, b"x");
    r.sc(3, 3, RST, b"");
    let f = r.c.only();
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionSuccess);
    assert_eq!(f.end.unwrap().1, EndReason::Rst);
}

#[test]
fn data_in_syn_counts() {
    let mut r = Rig::new();
    r.cs(500, 0, SYN, b"fast open data");
    r.sc(900, 515, SYN | ACK, b"");
    r.cs(515, 901, ACK, b" more");
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_server, b"fast open data more");
    assert!(f.established);
}

#[test]
fn sequence_numbers_wrap() {
    let mut r = Rig::new();
    let isn = u32::MAX - 3;
    r.handshake(isn, 7);
    let d = b"0123456789";
    r.cs(isn.wrapping_add(1 + 5), 8, ACK, &d[5..]);
    r.cs(isn.wrapping_add(1), 8, ACK, &d[..5]);
    r.finish();
    assert_eq!(r.c.only().to_server, d);
}

#[test]
fn out_of_order_cap_skips_with_a_gap() {
    let mut cfg = FlowConfig::default();
    cfg.stream.max_ooo_bytes = 10;
    let mut r = Rig::with(cfg);
    r.handshake(0, 0);
    // Offset 0..4 never arrives; 4..12 and 12..20 arrive out of order.
    r.cs(1 + 4, 1, ACK, b"AAAAAAAA");
    r.cs(1 + 12, 1, ACK, b"BBBBBBBB");
    r.finish();
    let f = r.c.only();
    assert_eq!(f.gaps, vec![(Direction::ToServer, 0, 4)]);
    assert_eq!(f.to_server, b"AAAAAAAABBBBBBBB");
    assert_eq!(f.end.unwrap().2.gap_bytes_to_server, 4);
}

#[test]
fn hole_at_the_end_is_flushed_with_a_gap() {
    let mut r = Rig::new();
    r.handshake(0, 0);
    r.cs(1, 1, ACK, b"abc");
    r.cs(1 + 5, 1, ACK, b"fgh");
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_server, b"abcfgh");
    assert_eq!(f.gaps, vec![(Direction::ToServer, 3, 2)]);
}

#[test]
fn table_evicts_oldest_when_full() {
    let cfg = FlowConfig { max_flows: 2, ..FlowConfig::default() };
    let mut r = Rig::with(cfg);
    for port in [1000u16, 1001, 1002] {
        r.ip(&tcp_ip(C, port, S, 443, 1, 0, SYN, b""));
    }
    r.finish();
    let ends: Vec<_> = r.c.flows.values().map(|f| f.end.unwrap().1).collect();
    assert_eq!(ends, vec![EndReason::Evicted, EndReason::EndOfCapture, EndReason::EndOfCapture]);
    assert_eq!(r.table.stats().evicted, 1);
}

#[test]
fn idle_flows_time_out_by_packet_time() {
    let mut r = Rig::new();
    r.ip(&udp_ip(C, 5353, S, 53, b"query"));
    r.ip(&udp_ip(S, 53, C, 5353, b"answer"));
    r.ip(&udp_ip(C, 5354, S, 53, b"unanswered"));
    // Two minutes later (packet time), another packet expires both.
    r.t += 120_000;
    r.ip(&udp_ip(C, 6000, S, 123, b"ntp"));
    let recs: Vec<_> = r.c.flows.values().cloned().collect();
    assert_eq!(recs[0].end.unwrap().0, Outcome::ConnectionSuccess);
    assert_eq!(recs[0].end.unwrap().1, EndReason::IdleTimeout);
    assert_eq!(
        recs[0].datagrams,
        vec![(Direction::ToServer, b"query".to_vec()), (Direction::ToClient, b"answer".to_vec())]
    );
    assert_eq!(recs[1].end.unwrap().0, Outcome::ConnectionAttempt);
    assert!(recs[2].end.is_none());
}

#[test]
fn udp_reply_first_keeps_well_known_port_as_server() {
    let mut r = Rig::new();
    r.ip(&udp_ip(S, 53, C, 40000, b"late answer"));
    r.finish();
    let f = r.c.only();
    assert_eq!(f.key.unwrap().server.port(), 53);
    assert_eq!(f.datagrams[0].0, Direction::ToClient);
}

#[test]
fn new_syn_on_a_closed_tuple_starts_a_new_flow() {
    let mut r = Rig::new();
    r.handshake(100, 200);
    r.cs(101, 201, FIN | ACK, b"");
    r.sc(201, 102, FIN | ACK, b"");
    r.handshake(9_000, 9_500);
    r.cs(9_001, 9_501, ACK, b"second");
    r.finish();
    assert_eq!(r.c.flows.len(), 2);
    let second = r.c.flows.values().nth(1).unwrap();
    assert_eq!(second.to_server, b"second");
}

#[test]
fn ipv6_flow() {
    let mut r = Rig::new();
    let (c6, s6) = ("2001:db8::1", "2001:db8::2");
    r.ip(&tcp_ip(c6, 5000, s6, 80, 1, 0, SYN, b""));
    r.ip(&tcp_ip(s6, 80, c6, 5000, 1, 2, SYN | ACK, b""));
    r.ip(&tcp_ip(c6, 5000, s6, 80, 2, 2, ACK, b"GET"));
    r.finish();
    let f = r.c.only();
    assert_eq!(f.to_server, b"GET");
    assert!(f.key.unwrap().client.is_ipv6());
}

#[test]
fn unanswered_syns_end_at_the_setup_timeout() {
    let cfg = FlowConfig { tcp_setup_timeout: Some(std::time::Duration::from_secs(10)), ..FlowConfig::default() };
    let mut r = Rig::with(cfg);
    r.cs(100, 0, SYN, b"");
    // Another connection, set up: the setup timeout is not for it.
    r.ip(&tcp_ip(C, 40001, S, 443, 7, 0, SYN, b""));
    r.ip(&tcp_ip(S, 443, C, 40001, 9, 8, SYN | ACK, b""));
    r.ip(&tcp_ip(C, 40001, S, 443, 8, 10, ACK, b""));
    // A retransmitted SYN does not restart the clock (the idle timeout's would).
    r.t += 6_000;
    r.cs(100, 0, SYN, b"");
    r.t += 3_000;
    r.ip(&udp_ip(C, 6000, S, 123, b"ntp"));
    assert!(r.c.flows.values().all(|f| f.end.is_none()), "9 s: nothing ended yet");
    r.t += 2_000;
    r.ip(&udp_ip(C, 6000, S, 123, b"ntp"));
    let recs: Vec<_> = r.c.flows.values().cloned().collect();
    let (outcome, reason, _) = recs[0].end.expect("the unanswered SYN ended");
    assert_eq!((outcome, reason), (Outcome::ConnectionAttempt, EndReason::SetupTimeout));
    assert!(recs[1].end.is_none(), "the set-up connection lives on");
    // Without the setting, only the idle timeout ends it.
    let mut r = Rig::new();
    r.cs(100, 0, SYN, b"");
    r.t += 60_000;
    r.ip(&udp_ip(C, 6000, S, 123, b"ntp"));
    assert!(r.c.flows.values().all(|f| f.end.is_none()));
}

/// A live datapath that does not queue the SYN-ACK: the client's ACK after
/// its SYN completes the handshake, and its acknowledgment number places the
/// server's bytes.
#[test]
fn an_unseen_synack_is_implied_by_the_clients_ack() {
    let mut r = Rig::with(FlowConfig { synack_unseen: true, ..FlowConfig::default() });
    r.cs(1000, 0, SYN, b"");
    r.cs(1001, 5001, ACK | PSH, b"GET / HTTP/1.1\r\n\r\n");
    r.sc(5001, 1019, ACK | PSH, b"HTTP/1.1 200 OK\r\n\r\n");
    r.sc(5001 + 19, 1019, ACK | PSH, b"hello");
    r.cs(1019, 5025, FIN | ACK, b"");
    r.sc(5025, 1020, FIN | ACK, b"");
    let f = r.c.only();
    assert!(f.established && !f.mid_stream);
    assert_eq!(f.to_server, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(f.to_client, b"HTTP/1.1 200 OK\r\n\r\nhello");
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionSuccess);
}

/// Without the setting a capture's missing SYN-ACK is not invented: the
/// client's ACK alone does not make the connection established.
#[test]
fn a_missing_synack_is_required_in_captures() {
    let mut r = Rig::new();
    r.cs(1000, 0, SYN, b"");
    r.cs(1001, 5001, ACK, b"");
    r.finish();
    let f = r.c.only();
    assert!(!f.established);
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionAttempt);
}

/// With the setting, a refusal still reads as one: the server's RST to the SYN.
#[test]
fn an_unseen_synack_setting_keeps_refusals() {
    let mut r = Rig::with(FlowConfig { synack_unseen: true, ..FlowConfig::default() });
    r.cs(100, 0, SYN, b"");
    r.sc(0, 101, RST | ACK, b"");
    let f = r.c.only();
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionFailed);
}

fn live() -> FlowConfig {
    FlowConfig { synack_unseen: true, syn_unseen: true, ..FlowConfig::default() }
}

/// A live datapath that lets the first SYN pass unqueued: the client's
/// first bytes continue the handshake (not a mid-stream pickup) and place
/// both directions' bytes, whatever the ports say.
#[test]
fn an_unseen_syn_is_continued_by_the_clients_first_bytes() {
    let mut r = Rig::with(live());
    r.heading(Direction::ToServer, 1001, 5001, ACK | PSH, b"GET / HTTP/1.1\r\n\r\n");
    r.sc(5001, 1019, ACK | PSH, b"HTTP/1.1 200 OK\r\n\r\nhello");
    r.cs(1019, 5025, FIN | ACK, b"");
    r.sc(5025, 1020, FIN | ACK, b"");
    let f = r.c.only();
    assert!(f.established && !f.mid_stream);
    let key = f.key.unwrap();
    assert_eq!((key.client.port(), key.server.port()), (40000, 443));
    assert_eq!(f.to_server, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(f.to_client, b"HTTP/1.1 200 OK\r\n\r\nhello");
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionSuccess);
}

/// The server's RST is the refusal of the SYN that was not shown; an ICMP
/// error turned into the same RST reads the same.
#[test]
fn an_unseen_syns_refusal_is_a_failed_connection() {
    let mut r = Rig::with(live());
    r.heading(Direction::ToClient, 0, 101, RST | ACK, b"");
    let f = r.c.only();
    assert!(!f.established);
    let key = f.key.unwrap();
    assert_eq!((key.client.port(), key.server.port()), (40000, 443), "the RST's receiver is the client");
    let (outcome, reason, _) = f.end.unwrap();
    assert_eq!((outcome, reason), (Outcome::ConnectionFailed, EndReason::Rst));
}

/// A server that speaks first, and a connection closed before any byte:
/// both set up, the first byte of each side placed.
#[test]
fn an_unseen_syn_is_continued_by_a_server_greeting_or_a_fin() {
    let mut r = Rig::with(live());
    r.heading(Direction::ToClient, 7001, 301, ACK | PSH, b"SSH-2.0-x\r\n");
    r.cs(301, 7012, ACK | PSH, b"SSH-2.0-y\r\n");
    let f = r.c.only();
    assert!(f.established && !f.mid_stream);
    assert_eq!((f.to_server.as_slice(), f.to_client.as_slice()), (&b"SSH-2.0-y\r\n"[..], &b"SSH-2.0-x\r\n"[..]));

    let mut r = Rig::with(live());
    r.heading(Direction::ToServer, 1001, 5001, FIN | ACK, b"");
    r.sc(5001, 1002, FIN | ACK, b"");
    let f = r.c.only();
    assert!(f.established);
    assert_eq!(f.end.unwrap().0, Outcome::ConnectionSuccess);
}

/// What stays as it was: a bare ACK of an unknown flow starts nothing (a
/// stray one of an old connection), a flow without the hint is picked up
/// mid-stream, and without the setting the hint changes nothing.
#[test]
fn an_unseen_syn_needs_the_setting_the_hint_and_more_than_an_ack() {
    let mut r = Rig::with(live());
    r.heading(Direction::ToServer, 1001, 5001, ACK, b"");
    r.finish();
    assert!(r.c.flows.is_empty());

    let mut r = Rig::with(live());
    r.cs(1001, 5001, ACK | PSH, b"x");
    r.finish();
    assert!(r.c.only().mid_stream);

    let mut r = Rig::with(FlowConfig { synack_unseen: true, ..FlowConfig::default() });
    r.heading(Direction::ToClient, 0, 101, RST | ACK, b"");
    r.finish();
    assert!(r.c.flows.is_empty(), "a stray RST without the setting");
}

/// A tuple reused by a new connection whose SYN was not shown: its first
/// bytes cannot belong to the old connection (after the client's FIN, or
/// after a RST), so they start the new one; a retransmission from before the
/// old FIN does not.
#[test]
fn an_unseen_syn_on_a_reused_tuple_starts_a_new_flow() {
    let mut r = Rig::with(live());
    r.heading(Direction::ToServer, 1001, 5001, ACK | PSH, b"GET /a HTTP/1.1\r\n\r\n");
    r.cs(1020, 5001, FIN | ACK, b"");
    r.heading(Direction::ToServer, 1001, 5001, ACK | PSH, b"GET /a HTTP/1.1\r\n\r\n");
    assert_eq!(r.c.flows.len(), 1, "a retransmission before the FIN");
    r.heading(Direction::ToServer, 90_001, 7001, ACK | PSH, b"GET /b HTTP/1.1\r\n\r\n");
    assert_eq!(r.c.flows.len(), 2, "the new connection's request");
    let second = r.c.flows.values().find(|f| f.to_server.starts_with(b"GET /b")).expect("its bytes");
    assert!(second.established && !second.mid_stream);

    let mut r = Rig::with(live());
    r.heading(Direction::ToServer, 1001, 5001, ACK | PSH, b"x");
    r.sc(5001, 1002, RST | ACK, b"");
    r.heading(Direction::ToServer, 3001, 8001, ACK | PSH, b"y");
    assert_eq!(r.c.flows.len(), 2, "bytes after the reset are a new connection's");
}
