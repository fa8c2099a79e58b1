//! Operational events reach the systemd journal through its native protocol:
//! a journald stand-in (a unix datagram socket this test binds, named by
//! `NETWARD_JOURNAL_SOCKET`) decodes what the real binary sends and finds the
//! settings change (5007) and the block (1126) with their fields.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

fn netward(data: &Path, sock: &Path) -> Command {
    let mut c = Command::cargo_bin("netward").unwrap();
    c.env_remove("NETWARD_DATA_DIR").env("NETWARD_JOURNAL_SOCKET", sock).arg("--data-dir").arg(data);
    c
}

/// journald's decoding of one datagram: `KEY=value` lines, or `KEY\n` then a
/// little-endian u64 length, the value and a newline.
fn decode(mut b: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    while !b.is_empty() {
        let nl = b.iter().position(|&c| c == b'\n').ok_or("no line end")?;
        let line = &b[..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            out.insert(String::from_utf8_lossy(&line[..eq]).into_owned(), line[eq + 1..].to_vec());
            b = &b[nl + 1..];
        } else {
            let len_bytes = b.get(nl + 1..nl + 9).ok_or("short length")?;
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let v = b.get(nl + 9..nl + 9 + len).ok_or("short value")?.to_vec();
            if b.get(nl + 9 + len) != Some(&b'\n') {
                return Err("no newline after a binary value".into());
            }
            out.insert(String::from_utf8_lossy(line).into_owned(), v);
            b = &b[nl + 10 + len..];
        }
    }
    Ok(out)
}

fn received(rx: &UnixDatagram) -> Vec<BTreeMap<String, String>> {
    rx.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    while let Ok(n) = rx.recv(&mut buf) {
        let fields = decode(&buf[..n]).unwrap_or_else(|e| panic!("bad datagram ({e}): {:?}", &buf[..n]));
        out.push(fields.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect());
    }
    out
}

#[test]
fn settings_changes_and_blocks_reach_the_journal_with_their_fields() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let sock = t.path().join("journal.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();

    netward(&data, &sock)
        .args(["config", "network-protection", "enforcement-level", "--value", "block"])
        .assert()
        .success();
    netward(&data, &sock)
        .args(["indicator", "add", "--type", "domain", "--value", "evil.test", "--action", "block"])
        .assert()
        .success();
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/own/connect-tls.pcap");
    netward(&data, &sock).args(["replay", "-q", "--policy", "--store", "--no-print"]).arg(&pcap).assert().success();

    let entries = received(&rx);
    let by_id =
        |id: &'static str| entries.iter().filter(move |e| e.get("NETWARD_EVENT_ID").map(String::as_str) == Some(id));
    let settings: Vec<_> = by_id("5007").collect();
    assert_eq!(settings.len(), 1, "{entries:#?}");
    let s = settings[0];
    assert_eq!(s["MESSAGE_ID"], "6e2f3c0a9d1b4f5e8a7c2b1d0e9f5007");
    assert_eq!(s["PRIORITY"], "6");
    assert_eq!(s["SYSLOG_IDENTIFIER"], "netward");
    assert_eq!(s["NETWARD_SETTING"], "network_protection.enforcement_level");
    assert_eq!(s["NETWARD_OLD_VALUE"], "disabled");
    assert_eq!(s["NETWARD_NEW_VALUE"], "block");
    assert!(s["MESSAGE"].contains("enforcement_level"), "{s:?}");

    let blocks: Vec<_> = by_id("1126").collect();
    assert!(!blocks.is_empty(), "{entries:#?}");
    let b = blocks[0];
    assert_eq!(b["MESSAGE_ID"], "6e2f3c0a9d1b4f5e8a7c2b1d0e9f1126");
    assert_eq!(b["PRIORITY"], "4");
    assert_eq!(b["NETWARD_REMOTE_URL"], "evil.test");
    assert_eq!(b["NETWARD_RESPONSE_CATEGORY"], "CustomBlockList");
    assert!(!b["NETWARD_REPORT_ID"].is_empty());
    // The journal got what the JSON-lines log got: as many blocks.
    let out = netward(&data, &sock).args(["--format", "json", "events", "--id", "1126"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), blocks.len());
}

#[test]
fn no_journal_socket_is_no_error() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("no-such.sock");
    let out = netward(&t.path().join("data"), &missing)
        .args(["config", "network-protection", "enforcement-level", "--value", "audit"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("journal"), "{}", String::from_utf8_lossy(&out.stderr));
}
