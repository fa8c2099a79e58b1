//! Feed parsers: good lines, malformed lines with their line numbers, skip
//! reasons, and bounded handling of hostile input.

use netward_policy::feed::{parse_feed, FeedItem};
use netward_policy::{FeedFormat, ImportReport};

fn run(format: FeedFormat, input: &str) -> (Vec<String>, ImportReport) {
    let mut report = ImportReport::default();
    let mut items = Vec::new();
    parse_feed(input.as_bytes(), format, &mut report, &mut |i: FeedItem| {
        items.push(format!("{}:{}@{}", i.target.kind(), i.target, i.line))
    })
    .unwrap();
    (items, report)
}

fn error_lines(r: &ImportReport) -> Vec<u64> {
    r.error_samples.iter().map(|e| e.line).collect()
}

#[test]
fn hosts_file() {
    let input = "# blocklist\n127.0.0.1 localhost\n0.0.0.0 Evil.example. www.evil.example # trailing\n\n0.0.0.0\nbogus evil2.example\n::1 ip6-localhost\n0.0.0.0 bad..name:99\n0.0.0.0 3279880203\r\n";
    let (items, r) = run(FeedFormat::Hosts, input);
    assert_eq!(items, ["domain:evil.example@3", "domain:www.evil.example@3", "ip:195.127.0.11@9"]);
    assert_eq!(error_lines(&r), [5, 6, 8]);
    assert!(r.error_samples[0].reason.contains("no host name"));
    assert!(r.error_samples[1].reason.contains("not an IP address"));
    assert_eq!((r.lines, r.imported, r.errors), (9, 3, 3));
    assert_eq!(r.ignored, 4, "comment, blank line, localhost, ip6-localhost");
}

#[test]
fn domain_list() {
    let input = "evil.example\n*.Phish.example\n# c\nbücher.example\ntwo words\n10.0.0.1\nexample.123\nhttp://x/y\n";
    let (items, r) = run(FeedFormat::Domains, input);
    assert_eq!(
        items,
        ["domain:evil.example@1", "domain:phish.example@2", "domain:xn--bcher-kva.example@4", "ip:10.0.0.1@6"]
    );
    assert_eq!(error_lines(&r), [5, 7, 8]);
}

#[test]
fn adblock_subset() {
    let input = "[Adblock Plus 2.0]\n! Title: x\n||evil.example^\n||ads.example^$third-party\n@@||good.example^\nexample.com##.ad\n||prefix.example\n/banner/*\n||a.example/path^\n||1.2.3.999^\n||UPPER.Example^\n";
    let (items, r) = run(FeedFormat::Adblock, input);
    assert_eq!(items, ["domain:evil.example@3", "domain:upper.example@11"]);
    let skipped: Vec<(u64, &str)> = r.skipped_samples.iter().map(|s| (s.line, s.reason.as_str())).collect();
    assert_eq!(
        skipped,
        [
            (4, "rule with $options"),
            (5, "exception rule (@@)"),
            (6, "cosmetic rule"),
            (7, "||rule without ^ separator (prefix match)"),
            (8, "not a ||domain^ rule"),
            (9, "rule with a path or wildcard"),
        ]
    );
    assert_eq!(error_lines(&r), [10], "an invalid IPv4 is an error: {:?}", r.error_samples);
    assert_eq!(r.ignored, 2);
}

const URLHAUS: &str = r#"################################################################
# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3366171","2025-01-05 10:00:07","http://182.121.240.115:41237/i","online","2025-01-05 10:00:07","malware_download","32-bit,elf,mips,Mozi","https://urlhaus.abuse.ch/url/3366171/","geenensp"
"3366170","2025-01-05 09:59:06","https://Evil.example/bad/load.exe?x=1","offline","","malware_download","exe","https://urlhaus.abuse.ch/url/3366170/","anon"
"3366169","2025-01-05 09:58:06","http://[::1","online","","malware_download","","https://urlhaus.abuse.ch/url/3366169/","anon"
"broken,"quote
"1","2","only three"
"3366168","2020-01-05 09:58:06","http://old.example/x","offline","malware_download","","https://urlhaus.abuse.ch/url/3366168/","anon"
"#;

#[test]
fn urlhaus_csv() {
    let (items, r) = run(FeedFormat::Urlhaus, URLHAUS);
    assert_eq!(items, ["url:182.121.240.115/i@6", "url:evil.example/bad/load.exe@7", "url:old.example/x@11"]);
    assert_eq!(error_lines(&r), [8, 9, 10]);
    assert!(r.error_samples[2].reason.contains("at least 8 fields"), "{:?}", r.error_samples);
    assert_eq!(r.ignored, 5);
}

#[test]
fn urlhaus_category_label() {
    let mut cats = Vec::new();
    let mut report = ImportReport::default();
    parse_feed(URLHAUS.as_bytes(), FeedFormat::Urlhaus, &mut report, &mut |i: FeedItem| cats.push(i.category)).unwrap();
    assert_eq!(cats[0].as_deref(), Some("malware_download"));
}

const STIX: &str = r#"{
  "type": "bundle",
  "id": "bundle--1",
  "objects": [
    {"type": "identity", "id": "identity--1", "name": "x"},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "name": "Evil domain",
     "indicator_types": ["phishing"], "pattern": "[domain-name:value = 'EVIL.example']",
     "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
    {"type": "indicator", "id": "indicator--2", "pattern": "[url:value = 'http://bad.example/x'] OR [ipv4-addr:value = '10.0.0.0/8' OR ipv6-addr:value = '2001:db8::1']"},
    {"type": "indicator", "id": "indicator--3", "pattern": "[domain-name:value = 'a.example' AND url:value = 'http://b/']"},
    {"type": "indicator", "id": "indicator--4", "pattern": "[x-custom:value = 'a']", "revoked": true},
    {"type": "indicator", "id": "indicator--5", "pattern": "[ipv4-addr:value = '999.1.1.1']"},
    {"type": "indicator", "id": "indicator--6", "pattern": "[domain-name:value = 'x.example']", "valid_until": "soon"},
    {"type": "indicator", "id": "indicator--7", "pattern": "rule x {}", "pattern_type": "yara"},
    {"type": "indicator", "id": "indicator--8"}
  ]
}
"#;

#[test]
fn stix_bundle() {
    let mut report = ImportReport::default();
    let mut items = Vec::new();
    parse_feed(STIX.as_bytes(), FeedFormat::Stix, &mut report, &mut |i: FeedItem| items.push(i)).unwrap();
    let got: Vec<String> = items.iter().map(|i| format!("{}:{}@{}", i.target.kind(), i.target, i.line)).collect();
    assert_eq!(got, ["domain:evil.example@8", "url:bad.example/x@9", "cidr:10.0.0.0/8@9", "ip:2001:db8::1@9"]);
    assert_eq!(items[0].details.title.as_deref(), Some("Evil domain"));
    assert_eq!(items[0].details.expires, Some(1_893_456_000));
    assert_eq!(items[0].category.as_deref(), Some("phishing"));
    assert_eq!(error_lines(&report), [12, 13, 15]);
    let skipped: Vec<u64> = report.skipped_samples.iter().map(|s| s.line).collect();
    assert_eq!(skipped, [10, 11, 14]);
    assert_eq!(report.ignored, 1);
}

#[test]
fn stix_malformed_documents_are_fatal_with_line() {
    for (doc, line) in [
        ("{\"type\":\"bundle\",\n\"objects\":[{\"type\":\n", 3),
        ("[1,2]", 1),
        ("{\"type\":\"bundle\"}", 1),
        ("{} trailing", 1),
    ] {
        let mut report = ImportReport::default();
        let err = parse_feed(doc.as_bytes(), FeedFormat::Stix, &mut report, &mut |_| {}).unwrap_err();
        match err {
            netward_policy::feed::FeedError::Malformed { line: l, .. } => assert_eq!(l, line, "{doc:?}: {err}"),
            other => panic!("{doc:?}: {other}"),
        }
    }
}

#[test]
fn stix_oversized_object_is_refused() {
    let big = "a".repeat(2 << 20);
    let doc = format!("{{\"objects\":[{{\"type\":\"note\",\"content\":\"{big}\"}}]}}");
    let mut report = ImportReport::default();
    let err = parse_feed(doc.as_bytes(), FeedFormat::Stix, &mut report, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn long_and_binary_lines_are_errors() {
    let mut input = "ok.example\n".to_string();
    input.push_str(&"x".repeat(100_000));
    input.push('\n');
    let mut bytes = input.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\nfine.example");
    let mut report = ImportReport::default();
    let mut n = 0;
    parse_feed(&bytes[..], FeedFormat::Domains, &mut report, &mut |_| n += 1).unwrap();
    assert_eq!(n, 2);
    assert_eq!(error_lines(&report), [2, 3]);
}

#[test]
fn hosts_local_names_are_skipped_after_canonicalising() {
    // Each spelling canonicalises to a name every hosts file maps to itself
    // (`0` is `0.0.0.0` in inet_aton spelling); none is an indicator.
    let input = "0.0.0.0 local.\n0.0.0.0 LOCALHOST.\n127.0.0.1 localhost.localdomain.\n::1 IP6-Localhost. ip6-loopback.\n0.0.0.0 BroadcastHost\n0.0.0.0 0\n0.0.0.0 evil.example. local.evil.example\n";
    let (items, r) = run(FeedFormat::Hosts, input);
    assert_eq!(items, ["domain:evil.example@7", "domain:local.evil.example@7"]);
    assert_eq!((r.imported, r.errors, r.ignored), (2, 0, 7));
}
