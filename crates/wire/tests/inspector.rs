//! Flow inspector behaviour on hand-made flows: keep-alive HTTP, proxy forms,
//! tunnels, fronting, record-split ClientHellos, caps.

mod common;

use common::{client_hello, inspect, records};
use netward_wire::Direction::{ToClient, ToServer};
use netward_wire::{FlowInspector, FlowKind, Host, Observation, Protocol, Target, TunnelKind, TunnelStatus};

fn requests(obs: &[Observation]) -> Vec<(String, String, Option<String>)> {
    obs.iter()
        .filter_map(|o| match o {
            Observation::HttpRequest(r) => Some((r.method.clone(), r.uri.clone(), r.host.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn every_request_of_a_keep_alive_connection() {
    let client = b"POST /a HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello\
GET http://b.example:8080/x HTTP/1.1\r\nHost: b.example:8080\r\nUser-Agent: curl/8\r\n\r\n\
PUT /c HTTP/1.1\r\nHost: c.example\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\n0\r\nX-T: 1\r\n\r\n\
HEAD /d HTTP/1.0\r\nHost: d.example\r\n\r\n";
    let server = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";
    let obs = inspect(3128, &[(ToServer, client), (ToClient, server)]);
    let reqs = requests(&obs);
    assert_eq!(reqs.len(), 4, "{obs:#?}");
    assert_eq!(reqs[1].1, "http://b.example:8080/x");
    assert_eq!(reqs[3], ("HEAD".into(), "/d".into(), Some("d.example".into())));
    let fwd: Vec<_> = obs
        .iter()
        .filter_map(|o| match o {
            Observation::HttpForward { target, url, .. } => Some((target.to_string(), url.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(fwd, [("b.example:8080".to_owned(), "http://b.example:8080/x".to_owned())]);
    let ua = obs.iter().find_map(|o| match o {
        Observation::HttpRequest(r) if r.user_agent.is_some() => r.user_agent.clone(),
        _ => None,
    });
    assert_eq!(ua.as_deref(), Some("curl/8"));
    assert!(!obs.iter().any(|o| matches!(o, Observation::Unparsed { .. })), "{obs:#?}");
}

#[test]
fn connect_refused_then_retried_then_tls_with_fronting() {
    let hello = records(&client_hello(Some("front.example"), &["h2"], false), 1000);
    let obs = inspect(
        8080,
        &[
            (ToServer, b"CONNECT real.example:443 HTTP/1.1\r\nHost: real.example:443\r\n\r\n"),
            (ToClient, b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nnope"),
            (ToServer, b"CONNECT real.example:443 HTTP/1.1\r\nProxy-Authorization: Basic eA==\r\n\r\n"),
            (ToClient, b"HTTP/1.1 200 Connection established\r\n\r\n"),
            (ToServer, &hello),
        ],
    );
    let target = Target { host: Host::Name("real.example".into()), port: 443 };
    let statuses: Vec<_> = obs
        .iter()
        .filter_map(|o| match o {
            Observation::ProxyTunnel { kind: TunnelKind::HttpConnect, target: t, status, layer: 0 } if *t == target => {
                Some(*status)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            TunnelStatus::Requested,
            TunnelStatus::Refused { code: 407 },
            TunnelStatus::Requested,
            TunnelStatus::Established
        ]
    );
    let hello = obs.iter().find_map(|o| match o {
        Observation::TlsClientHello(h) => Some(h),
        _ => None,
    });
    assert_eq!(hello.map(|h| (h.sni.as_deref(), h.layer)), Some((Some("front.example"), 1)));
    assert!(obs.contains(&Observation::SniMismatch {
        outer: "real.example".into(),
        sni: "front.example".into(),
        layer: 1
    }));
}

#[test]
fn tunnel_data_before_the_proxy_answers_and_client_only_feeding() {
    // Only the client side is fed (as in a datapath that queues one direction).
    let hello = records(&client_hello(Some("Real.Example."), &[], false), 100);
    let mut client = b"CONNECT real.example:443 HTTP/1.1\r\n\r\n".to_vec();
    client.extend(&hello);
    let obs = inspect(3128, &[(ToServer, &client)]);
    let h: Vec<_> = obs.iter().filter(|o| matches!(o, Observation::TlsClientHello(_))).collect();
    assert_eq!(h.len(), 1);
    assert!(!obs.iter().any(|o| matches!(o, Observation::SniMismatch { .. })), "case and final dot do not matter");
}

#[test]
fn client_hello_split_across_records_and_bytes() {
    let msg = client_hello(Some("split.example"), &["h2", "http/1.1"], true);
    for record_size in [1, 2, 5, 50, 16384] {
        let stream = records(&msg, record_size);
        let whole = inspect(443, &[(ToServer, &stream)]);
        let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 443 });
        for b in stream.chunks(3) {
            insp.feed(ToServer, b);
        }
        let split: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
        assert_eq!(whole, split);
        match &whole[..] {
            [Observation::TlsClientHello(h)] => {
                assert_eq!(h.sni.as_deref(), Some("split.example"));
                assert_eq!(h.alpn, ["h2", "http/1.1"]);
                assert_eq!(h.versions, [0x0304, 0x0303]);
                assert!(h.ech);
                assert!(h.ja4.starts_with("t13d0306h2_"), "{}", h.ja4);
            }
            other => panic!("record size {record_size}: {other:#?}"),
        }
    }
}

#[test]
fn socks4a_tunnel_with_tls() {
    let hello = records(&client_hello(Some("inner.example"), &[], false), 512);
    let mut req = vec![4, 1, 1, 187, 0, 0, 0, 9];
    req.extend(b"alice\0inner.example\0");
    let obs = inspect(1080, &[(ToServer, &req), (ToClient, &[0, 0x5a, 0, 0, 0, 0, 0, 0]), (ToServer, &hello)]);
    assert!(matches!(
        &obs[0],
        Observation::ProxyTunnel { kind: TunnelKind::Socks4a, status: TunnelStatus::Requested, .. }
    ));
    assert!(matches!(&obs[1], Observation::ProxyTunnel { status: TunnelStatus::Established, .. }));
    assert!(matches!(&obs[2], Observation::TlsClientHello(h) if h.layer == 1));
    assert_eq!(obs.len(), 3, "{obs:#?}");
}

#[test]
fn socks5_ipv6_target() {
    let mut req = vec![5, 1, 0, 5, 1, 0, 4];
    req.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    req.extend(443u16.to_be_bytes());
    let obs = inspect(9050, &[(ToServer, &req)]);
    match &obs[..] {
        [Observation::ProxyTunnel { kind: TunnelKind::Socks5, target, .. }] => {
            assert_eq!(target.to_string(), "[2001:db8::1]:443")
        }
        other => panic!("{other:#?}"),
    }
}

#[test]
fn oversized_inputs_give_up_cleanly() {
    // An HTTP head that never ends.
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 80 });
    insp.feed(ToServer, b"GET / HTTP/1.1\r\n");
    for _ in 0..2000 {
        insp.feed(ToServer, b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let obs: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
    // The request names nothing in its first 64 KiB: lost (flagged), and the
    // rest of the head is skipped without buffering, looking for a next request.
    assert!(
        matches!(
            &obs[..],
            [
                Observation::Unparsed { protocol: Protocol::Http, .. },
                Observation::HttpRequest(_),
                Observation::Resync { .. }
            ]
        ),
        "{obs:#?}"
    );
    assert_eq!(insp.lost().map(|l| l.protocol), Some(Protocol::Http));
    assert!(insp.buffered() <= netward_wire::MAX_BUFFER, "{}", insp.buffered());
    insp.feed(ToServer, b"\r\n\r\nGET http://after.example/ HTTP/1.1\r\n\r\n");
    assert!(matches!(insp.poll(), Some(Observation::HttpForward { .. })));

    // A ClientHello announcing more than 64 KiB.
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 443 });
    insp.feed(ToServer, &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x02, 0x00, 0x00]);
    let obs: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
    assert!(matches!(&obs[..], [Observation::Unparsed { protocol: Protocol::Tls, .. }]), "{obs:#?}");

    // Many small records that never complete a ClientHello of 60 KiB: bounded.
    let mut big = client_hello(Some("x"), &[], false);
    big[1..4].copy_from_slice(&[0x00, 0xf0, 0x00]);
    let stream = records(&big, 64);
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 443 });
    insp.feed(ToServer, &stream);
    for _ in 0..2000 {
        insp.feed(ToServer, &records(&[0u8; 64], 64));
    }
    let obs: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
    assert!(matches!(&obs[..], [Observation::Unparsed { protocol: Protocol::Tls, .. }]), "{obs:#?}");
}

#[test]
fn unknown_protocols_are_left_alone() {
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 22 });
    insp.feed(ToClient, b"SSH-2.0-OpenSSH_9.2\r\n");
    insp.feed(ToServer, b"SSH-2.0-OpenSSH_9.2\r\n");
    assert!(insp.poll().is_none());
    assert!(insp.is_finished());
}

#[test]
fn dns_over_tcp_both_directions() {
    // Query for example.com A, as two length-prefixed messages fed byte by byte.
    let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend(q);
    framed.extend(&framed.clone());
    let mut insp = FlowInspector::new(FlowKind::Tcp { dst_port: 53 });
    for b in &framed {
        insp.feed(ToServer, std::slice::from_ref(b));
    }
    let obs: Vec<_> = std::iter::from_fn(|| insp.poll()).collect();
    assert_eq!(obs.len(), 2);
    assert!(matches!(&obs[0], Observation::Dns(d) if d.query.as_deref() == Some("example.com") && !d.is_response));
}
