//! `AdditionalFields` for each inspected event, with Zeek's field names
//! (host, method, uri, url, user_agent, version, server_name, alpn, ja3,
//! ja4, query, qtype_name, rcode_name, answers) plus netward's own
//! (name_source, proxy, ech, sni_mismatch, overlap_conflict,
//! dns_candidates, inspection and inspection_reason on a flow that cannot
//! be followed, resync on a request read after lost framing).

use crate::flow::Tunnel;
use netward_wire::{ClientHelloInfo, DnsData, DnsInfo, HttpRequestInfo};
use serde_json::{json, Map, Value};

pub(crate) type Fields = Map<String, Value>;

pub(crate) fn proxy(kind: &str, target: &str) -> Value {
    json!({ "kind": kind, "target": target })
}

fn tls_version_name(v: u16) -> String {
    match v {
        0x0304 => "TLSv13".into(),
        0x0303 => "TLSv12".into(),
        0x0302 => "TLSv11".into(),
        0x0301 => "TLSv10".into(),
        0x0300 => "SSLv3".into(),
        0x0002 => "SSLv2".into(),
        other => format!("0x{other:04x}"),
    }
}

pub(crate) fn tls(info: &ClientHelloInfo, tunnel: Option<&Tunnel>, sni_mismatch: bool) -> Fields {
    let best = info.versions.iter().copied().max().unwrap_or(info.legacy_version);
    let mut f = Fields::new();
    f.insert("direction".into(), json!("Out"));
    f.insert("server_name".into(), json!(info.sni.clone().unwrap_or_default()));
    f.insert("alpn".into(), json!(info.alpn));
    f.insert("version".into(), json!(tls_version_name(best)));
    // Zeek logs JA3 as the MD5; the full string is kept for analysts who
    // want to see the fields.
    f.insert("ja3".into(), json!(info.ja3_md5));
    f.insert("ja3_string".into(), json!(info.ja3));
    f.insert("ja4".into(), json!(info.ja4));
    f.insert("ech".into(), json!(info.ech));
    f.insert("sni_mismatch".into(), json!(sni_mismatch));
    if let Some(t) = tunnel {
        f.insert("proxy".into(), proxy(t.kind, &t.target()));
    }
    f
}

pub(crate) fn http(req: &HttpRequestInfo, url: &str, host: &str, proxy_field: Option<Value>) -> Fields {
    let mut f = Fields::new();
    f.insert("direction".into(), json!("Out"));
    f.insert("host".into(), json!(host));
    f.insert("method".into(), json!(req.method));
    f.insert("uri".into(), json!(req.uri));
    f.insert("url".into(), json!(url));
    f.insert("user_agent".into(), json!(req.user_agent.clone().unwrap_or_default()));
    f.insert("version".into(), json!(req.version));
    if let Some(p) = proxy_field {
        f.insert("proxy".into(), p);
    }
    f
}

pub(crate) fn dns(info: &DnsInfo) -> Fields {
    let answers: Vec<String> = info
        .answers
        .iter()
        .filter_map(|a| match &a.data {
            DnsData::A(ip) => Some(ip.to_string()),
            DnsData::Aaaa(ip) => Some(ip.to_string()),
            DnsData::Cname(n) => Some(n.trim_end_matches('.').to_string()),
            DnsData::Other => None,
        })
        .collect();
    let ttls: Vec<u32> = info.answers.iter().map(|a| a.ttl).collect();
    let mut f = Fields::new();
    f.insert("direction".into(), json!("Out"));
    f.insert("query".into(), json!(info.query.clone().unwrap_or_default()));
    f.insert("qtype_name".into(), json!(info.qtype_name.clone().unwrap_or_default()));
    f.insert("rcode_name".into(), json!(info.rcode_name.clone().unwrap_or_default()));
    f.insert("answers".into(), json!(answers));
    f.insert("TTLs".into(), json!(ttls));
    f.insert("trans_id".into(), json!(info.id));
    f
}
