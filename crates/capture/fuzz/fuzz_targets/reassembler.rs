//! Arbitrary TCP/UDP packets (flags, sequence numbers, payloads, times) into a
//! small flow table: no panic, bounded buffering, ordered offsets.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use netward_capture::ip::{TcpFlags, TcpSegment, UdpDatagram};
use netward_capture::stream::StreamLimits;
use netward_capture::{CaptureEvent, FlowConfig, FlowTable, IpPacket, PacketTime, Transport};

fuzz_target!(|data: &[u8]| {
    let cfg = FlowConfig {
        max_flows: 4,
        stream: StreamLimits { max_ooo_bytes: 512, max_ooo_segments: 8, check_window: 64 },
        max_buffered_total: 1024,
        // Both handshake readings: captures' and the live datapath's.
        synack_unseen: data.first().is_some_and(|b| b & 1 == 1),
        syn_unseen: data.first().is_some_and(|b| b & 2 == 2),
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(cfg);
    let mut next = std::collections::HashMap::new();
    let mut sink = |e: CaptureEvent<'_>| match e {
        CaptureEvent::Data { flow_id, dir, offset, bytes, .. } => {
            let n = next.entry((flow_id, dir as u8)).or_insert(offset);
            assert_eq!(*n, offset);
            *n += bytes.len() as u64;
        }
        CaptureEvent::Gap { flow_id, dir, offset, len, .. } => {
            let n = next.entry((flow_id, dir as u8)).or_insert(offset);
            assert_eq!(*n, offset);
            *n += len;
        }
        _ => {}
    };
    let mut t = 0u64;
    let mut rest = data;
    while rest.len() >= 12 {
        let (h, tail) = rest.split_at(12);
        let plen = usize::from(h[11] % 64).min(tail.len());
        let (payload, tail) = tail.split_at(plen);
        rest = tail;
        t += u64::from(h[0]) * 100_000;
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, h[1] % 3));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 1, h[2] % 3));
        let (src, dst) = if h[3] & 1 == 0 { (a, b) } else { (b, a) };
        let ports = (1000 + u16::from(h[4] % 3), 80 + u16::from(h[5] % 2));
        let (sp, dp) = if h[3] & 1 == 0 { ports } else { (ports.1, ports.0) };
        let transport = if h[3] & 2 == 0 {
            Transport::Tcp(TcpSegment {
                src_port: sp,
                dst_port: dp,
                seq: u32::from_be_bytes([h[6], h[7], h[8], 0]) >> 16,
                ack: 0,
                flags: TcpFlags(h[9]),
                window: 0,
                payload,
                missing: usize::from(h[10] % 4),
            })
        } else {
            Transport::Udp(UdpDatagram { src_port: sp, dst_port: dp, payload, missing: 0 })
        };
        // The live datapath's hint (which way the packet goes), now and then.
        let heading = match h[10] >> 6 {
            1 => Some(netward_capture::Direction::ToServer),
            2 => Some(netward_capture::Direction::ToClient),
            _ => None,
        };
        table.process_heading(PacketTime(t), &IpPacket { src, dst, transport }, heading, &mut sink);
        assert!(table.buffered_bytes() <= 1024);
        assert!(table.len() <= 4);
    }
    table.finish(&mut sink);
    assert_eq!(table.buffered_bytes(), 0);
});
