//! DNS messages over UDP and TCP (RFC 1035; TCP messages carry a two-byte length):
//! the query, and the answers that map names to addresses (A, AAAA, CNAME chains).
//! Type and response-code names follow Zeek's `dns.log`.

use std::net::{Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::Packet;

use crate::step::Step;
use crate::Error;

/// One DNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsInfo {
    pub id: u16,
    pub is_response: bool,
    /// First question's name (no trailing dot).
    pub query: Option<String>,
    pub qtype: Option<u16>,
    /// Zeek's name: "A", "AAAA", "*" for ANY, "query-N" when unknown.
    pub qtype_name: Option<String>,
    /// Response code of a response.
    pub rcode: Option<u16>,
    /// Zeek's name: "NOERROR", "NXDOMAIN", ...
    pub rcode_name: Option<String>,
    pub answers: Vec<DnsAnswer>,
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: DnsData,
}

/// Record data netward uses; other types are kept by type only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Other,
}

/// Parses one DNS message (UDP payload, or a TCP message without its length).
pub fn parse_message(msg: &[u8]) -> Result<DnsInfo, Error> {
    if msg.len() < 12 {
        return Err(Error::invalid(msg.len(), "DNS message shorter than its header"));
    }
    let packet = Packet::parse(msg).map_err(|_| Error::invalid(12, "malformed DNS message"))?;
    let is_response = msg[2] & 0x80 != 0;
    let rcode = u16::from(msg[3] & 0x0f);
    let q = packet.questions.first();
    let qtype = q.map(|q| u16::from(q.qtype));
    let answers = packet
        .answers
        .iter()
        .map(|rr| DnsAnswer {
            name: rr.name.to_string(),
            rtype: u16::from(rr.rdata.type_code()),
            ttl: rr.ttl,
            data: match &rr.rdata {
                RData::A(a) => DnsData::A(Ipv4Addr::from(a.address)),
                RData::AAAA(a) => DnsData::Aaaa(Ipv6Addr::from(a.address)),
                RData::CNAME(c) => DnsData::Cname(c.0.to_string()),
                _ => DnsData::Other,
            },
        })
        .collect();
    Ok(DnsInfo {
        id: packet.id(),
        is_response,
        query: q.map(|q| q.qname.to_string()),
        qtype,
        qtype_name: qtype.map(qtype_name),
        rcode: is_response.then_some(rcode),
        rcode_name: is_response.then(|| rcode_name(rcode)),
        answers,
    })
}

/// Zeek's name of a query type (`DNS::query_types`).
pub fn qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "EID",
        31 => "NIMLOC",
        32 => "NB",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "*",
        256 => "URI",
        257 => "CAA",
        32768 => "TA",
        32769 => "DLV",
        65281 => "WINS",
        65282 => "WINS-R",
        _ => return format!("query-{t}"),
    };
    s.to_owned()
}

/// Zeek's name of a response code (`DNS::base_errors`).
pub fn rcode_name(r: u16) -> String {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return format!("rcode-{r}"),
    };
    s.to_owned()
}

/// One step over a TCP DNS stream: a length-prefixed message.
pub(crate) fn tcp_step(data: &[u8], out: &mut Vec<DnsInfo>) -> Result<Step, Error> {
    let [hi, lo, ..] = *data else {
        return Ok(Step::NeedMore);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let Some(msg) = data.get(2..2 + len) else {
        return Ok(Step::NeedMore);
    };
    out.push(parse_message(msg).map_err(|e| e.shifted(2))?);
    Ok(Step::Consumed(2 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for www.example.com: CNAME example.com, A 93.184.216.34 (built by hand).
    pub(crate) fn sample_response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        // CNAME: name = pointer to 12, target example.com = pointer to 16
        m.extend([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 16]);
        m.extend([0xc0, 16, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 93, 184, 216, 34]);
        m
    }

    #[test]
    fn response_with_cname_chain() {
        let d = parse_message(&sample_response()).unwrap();
        assert_eq!(d.query.as_deref(), Some("www.example.com"));
        assert_eq!(d.qtype_name.as_deref(), Some("A"));
        assert_eq!(d.rcode_name.as_deref(), Some("NOERROR"));
        assert_eq!(d.answers.len(), 2);
        assert_eq!(d.answers[0].data, DnsData::Cname("example.com".into()));
        assert_eq!(d.answers[1].data, DnsData::A(Ipv4Addr::new(93, 184, 216, 34)));
        assert_eq!(d.answers[1].ttl, 300);
    }

    #[test]
    fn tcp_framing_and_errors() {
        let m = sample_response();
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend(&m);
        let mut out = Vec::new();
        assert_eq!(tcp_step(&framed[..10], &mut out).unwrap(), Step::NeedMore);
        assert_eq!(tcp_step(&framed, &mut out).unwrap(), Step::Consumed(framed.len()));
        assert_eq!(out.len(), 1);
        assert!(parse_message(&m[..20]).is_err());
        assert_eq!(qtype_name(255), "*");
        assert_eq!(qtype_name(4242), "query-4242");
        assert_eq!(rcode_name(3), "NXDOMAIN");
    }
}
