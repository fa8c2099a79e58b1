//! Replays the vendored captures and checks the names (testdata/pcaps/EXPECTED.tsv)
//! and JA4 fingerprints (testdata/ja4/EXPECTED.tsv) the inspector must recover.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{refeed, run_capture, testdata, Flow};
use netward_wire::{
    ClientHelloInfo, DnsCache, DnsCacheConfig, DnsData, Observation, Transport, TunnelKind, TunnelStatus,
};

fn rows(rel: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(testdata(rel)).expect("EXPECTED.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn server_of(flow: &Flow) -> (IpAddr, u16) {
    (flow.server.ip(), flow.server.port())
}

fn hellos(flow: &Flow) -> Vec<&ClientHelloInfo> {
    flow.observations
        .iter()
        .filter_map(|o| match o {
            Observation::TlsClientHello(h) => Some(h),
            _ => None,
        })
        .collect()
}

fn tunnels(flow: &Flow) -> Vec<(TunnelKind, String, TunnelStatus)> {
    flow.observations
        .iter()
        .filter_map(|o| match o {
            Observation::ProxyTunnel { kind, target, status, .. } => Some((*kind, target.host.to_string(), *status)),
            _ => None,
        })
        .collect()
}

fn flows_to(flows: &[Flow], ip: &str, port: &str) -> Vec<usize> {
    let ip: IpAddr = ip.parse().unwrap();
    let port: u16 = port.parse().unwrap();
    (0..flows.len()).filter(|&i| server_of(&flows[i]) == (ip, port)).collect()
}

#[test]
fn every_ja4_of_the_corpus() {
    let rows = rows("ja4/EXPECTED.tsv");
    assert!(rows.len() >= 60);
    let mut current: Option<(String, Vec<Flow>, Vec<bool>)> = None;
    let mut checked = 0;
    for r in &rows {
        let (file, proto, ip, port, name, ja4) = (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]);
        if current.as_ref().is_none_or(|c| &c.0 != file) {
            let flows = run_capture(&testdata(&format!("ja4/{file}")));
            let n = flows.len();
            current = Some((file.clone(), flows, vec![false; n]));
        }
        let (_, flows, used) = current.as_mut().unwrap();
        let candidates = flows_to(flows, ip, port);
        let hit = candidates.into_iter().find(|&i| {
            let f = &flows[i];
            let udp = proto == "udp";
            !used[i]
                && f.udp == udp
                && hellos(f).iter().any(|h| {
                    let named =
                        h.sni.as_deref() == Some(name.as_str()) || tunnels(f).iter().any(|(_, host, _)| host == name);
                    h.ja4 == *ja4 && named && (h.transport == Transport::Quic) == udp
                })
        });
        let Some(i) = hit else {
            let seen: Vec<_> = flows_to(flows, ip, port)
                .into_iter()
                .flat_map(|i| hellos(&flows[i]).into_iter().map(|h| (h.sni.clone(), h.ja4.clone())).collect::<Vec<_>>())
                .collect();
            panic!("{file}: no ClientHello {name} {ja4} to {ip}:{port}; seen {seen:?}");
        };
        used[i] = true;
        checked += 1;
    }
    assert_eq!(checked, rows.len());
}

#[test]
fn every_name_of_the_public_captures() {
    for r in rows("pcaps/EXPECTED.tsv") {
        let (file, proto, ip, port, name, how) = (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]);
        let flows = run_capture(&testdata(&format!("pcaps/{file}")));
        if how == "dns" {
            let found = flows
                .iter()
                .flat_map(|f| &f.observations)
                .any(|o| matches!(o, Observation::Dns(d) if d.query.as_deref() == Some(name.as_str())));
            assert!(found, "{file}: no DNS query for {name}");
            continue;
        }
        let candidates = flows_to(&flows, ip, port);
        assert!(!candidates.is_empty(), "{file}: no flow to {ip}:{port}");
        let ok = candidates.iter().any(|&i| {
            let f = &flows[i];
            assert_eq!(f.udp, proto == "udp");
            how.split('+').all(|part| match part {
                "tls-sni" => hellos(f).iter().any(|h| h.sni.as_deref() == Some(name.as_str())),
                "quic-sni" => {
                    hellos(f).iter().any(|h| h.sni.as_deref() == Some(name.as_str()) && h.transport == Transport::Quic)
                }
                "http-connect" => tunnels(f).iter().any(|(k, h, _)| *k == TunnelKind::HttpConnect && h == name),
                "socks5" => tunnels(f).iter().any(|(k, h, _)| *k == TunnelKind::Socks5 && h == name),
                other => panic!("unknown learned_from {other}"),
            })
        });
        assert!(
            ok,
            "{file}: {name} not learned by {how}: {:#?}",
            candidates.iter().map(|&i| &flows[i].observations).collect::<Vec<_>>()
        );
    }
}

#[test]
fn connect_tunnel_then_tls_inside() {
    let flows = run_capture(&testdata("pcaps/sv-bug-2430.pcap"));
    let f = flows.iter().find(|f| f.server.port() == 8080).unwrap();
    let t = tunnels(f);
    assert_eq!(t[0], (TunnelKind::HttpConnect, "qagpublic.qg1.apps.qualys.com".into(), TunnelStatus::Requested));
    assert!(t.contains(&(TunnelKind::HttpConnect, "qagpublic.qg1.apps.qualys.com".into(), TunnelStatus::Established)));
    let h = hellos(f);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].layer, 1, "the ClientHello is inside the tunnel");
    assert!(!f.observations.iter().any(|o| matches!(o, Observation::SniMismatch { .. })));
}

#[test]
fn socks5_then_tls_inside() {
    let flows = run_capture(&testdata("pcaps/zeek-socks-with-ssl.pcap"));
    let f = flows.iter().find(|f| f.server.port() == 1080).unwrap();
    let t = tunnels(f);
    assert!(t.contains(&(TunnelKind::Socks5, "www.google.com".into(), TunnelStatus::Established)), "{t:?}");
    assert_eq!(hellos(f)[0].layer, 1);
    assert_eq!(hellos(f)[0].sni.as_deref(), Some("www.google.com"));
}

#[test]
fn ech_is_flagged() {
    let flows = run_capture(&testdata("pcaps/zeek-tls13-ech.pcap"));
    let h: Vec<_> = flows.iter().flat_map(hellos).collect();
    let ech = h.iter().find(|h| h.sni.as_deref() == Some("cloudflare-ech.com")).expect("ClientHello");
    assert!(ech.ech);
    let plain = run_capture(&testdata("pcaps/sv-tls-client-hello-frag-01.pcap"));
    assert!(plain.iter().flat_map(hellos).all(|h| !h.ech));
}

#[test]
fn ja3_of_a_known_client_hello() {
    // JA3 MD5 must be the MD5 of the JA3 string, and the string well-formed.
    let flows = run_capture(&testdata("pcaps/sv-tls-client-hello-frag-01.pcap"));
    let h = flows.iter().flat_map(hellos).next().expect("ClientHello");
    assert_eq!(h.ja3.split(',').count(), 5);
    assert!(h.ja3.starts_with("771,"));
    assert_eq!(h.ja3_md5.len(), 32);
    assert_eq!(h.alpn.first().map(String::as_str), Some("h2"));
}

#[test]
fn dns_answers_and_cache() {
    let flows = run_capture(&testdata("pcaps/sv-cond-log-dns-dig.pcap"));
    let f = flows.iter().find(|f| f.udp && f.server.port() == 53).expect("DNS flow");
    let resp = f
        .observations
        .iter()
        .find_map(|o| match o {
            Observation::Dns(d) if d.is_response => Some(d),
            _ => None,
        })
        .expect("DNS response");
    assert_eq!(resp.query.as_deref(), Some("www.suricata-ids.org"));
    assert_eq!(resp.qtype_name.as_deref(), Some("A"));
    assert_eq!(resp.rcode_name.as_deref(), Some("NOERROR"));
    assert!(resp.answers.iter().any(|a| a.data == DnsData::Cname("suricata-ids.org".into())));
    let addrs: Vec<_> = resp
        .answers
        .iter()
        .filter_map(|a| match a.data {
            DnsData::A(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(addrs, ["192.0.78.24", "192.0.78.25"]);

    let mut cache = DnsCache::new(DnsCacheConfig::default());
    let now = std::time::Duration::from_secs(1_000);
    cache.record(f.client.ip(), resp, now);
    let names: Vec<_> =
        cache.lookup(f.client.ip(), "192.0.78.25".parse().unwrap(), now).into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["www.suricata-ids.org", "suricata-ids.org"]);
}

#[test]
fn quic_draft29_and_v1_out_of_order() {
    for (file, name) in [("sv-quic-ietf.pcap", "msquic.net"), ("sv-quic-frag-unordered.pcap", "mastodon.social")] {
        let flows = run_capture(&testdata(&format!("pcaps/{file}")));
        let h: Vec<_> = flows.iter().flat_map(hellos).collect();
        assert_eq!(h.len(), 1, "{file}: {h:?}");
        assert_eq!(h[0].sni.as_deref(), Some(name));
        assert_eq!(h[0].transport, Transport::Quic);
        assert!(h[0].ja4.starts_with('q'));
    }
}

/// Every capture fed in 1, 7 and 100-byte pieces gives what feeding it whole gives.
#[test]
fn any_split_gives_the_same_observations() {
    let mut files: Vec<String> = rows("pcaps/EXPECTED.tsv").into_iter().map(|r| format!("pcaps/{}", r[0])).collect();
    files.extend(rows("ja4/EXPECTED.tsv").into_iter().map(|r| format!("ja4/{}", r[0])));
    files.dedup();
    for file in files {
        for flow in run_capture(&testdata(&file)) {
            for chunk in [1, 7, 100] {
                assert_eq!(refeed(&flow, chunk), flow.observations, "{file} {:?} in {chunk}-byte pieces", flow.server);
            }
        }
    }
}

#[allow(dead_code)]
fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
