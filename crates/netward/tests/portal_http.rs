//! The portal over raw HTTP and HTTPS, through the real binary (the
//! browser test is `portal_e2e.rs`): HTTPS with a generated certificate
//! whose printed fingerprint a pinned client checks, kept across restarts,
//! `Secure` cookies under TLS only; timeline paging when many events share
//! a millisecond (and a nanosecond); saved queries (per user, CSRF-checked)
//! and the public corpus queries offered as examples.

mod common;
use common::portal::{netward, ok, Kill};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_netward");
const PW: &str = "correct horse battery";

/// Starts `netward portal` and returns it with its printed first line.
fn portal(data: &Path, extra: &[&str]) -> (Kill, String) {
    let mut p = Command::new(BIN)
        .env_remove("NETWARD_DATA_DIR")
        .arg("--data-dir")
        .arg(data)
        .args(["portal", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(p.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Kill(p), line.trim().to_string())
}

fn addr_of(banner: &str) -> SocketAddr {
    let url = banner.split(' ').find(|w| w.starts_with("http")).unwrap_or_else(|| panic!("no URL in `{banner}`"));
    let hostport = url.split("://").nth(1).unwrap().trim_end_matches('/');
    hostport.parse().unwrap()
}

struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One HTTP/1.1 exchange on `s` (plain or TLS).
fn exchange(mut s: impl Read + Write, req: &str) -> Resp {
    if s.write_all(req.as_bytes()).and_then(|_| s.flush()).is_err() {
        // A refused handshake: no answer at all.
        return Resp { status: 0, head: String::new(), body: String::new() };
    }
    let mut raw = Vec::new();
    // A TLS peer that closes without close_notify ends the read with an error.
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Resp { status, head: head.to_string(), body: body.to_string() }
}

fn request(method: &str, path: &str, cookie: &str, body: &str) -> String {
    let form = if method == "POST" { "Content-Type: application/x-www-form-urlencoded\r\n" } else { "" };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nCookie: netward_session={cookie}\r\n{form}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Plain HTTP or HTTPS pinned to a fingerprint.
enum Conn {
    Plain(SocketAddr),
    Tls(SocketAddr, Arc<rustls::ClientConfig>),
}

impl Conn {
    fn send(&self, method: &str, path: &str, cookie: &str, body: &str) -> Resp {
        let req = request(method, path, cookie, body);
        match self {
            Conn::Plain(a) => exchange(TcpStream::connect(a).unwrap(), &req),
            Conn::Tls(a, cfg) => {
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let c = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
                exchange(rustls::StreamOwned::new(c, TcpStream::connect(a).unwrap()), &req)
            }
        }
    }

    fn get(&self, path: &str, cookie: &str) -> Resp {
        self.send("GET", path, cookie, "")
    }

    /// Logs in; returns the Set-Cookie line and the session token.
    fn login(&self, user: &str) -> (String, String) {
        let r = self.send("POST", "/login", "", &format!("user={user}&password={}", PW.replace(' ', "+")));
        assert_eq!(r.status, 303, "{}", r.head);
        let set = r.header("set-cookie").expect("a session cookie");
        let token = set.strip_prefix("netward_session=").unwrap().split(';').next().unwrap().to_string();
        (set, token)
    }
}

fn csrf(page: &str) -> String {
    let i = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    page[i..].split('"').next().unwrap().to_string()
}

fn form(v: &str) -> String {
    v.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn add_user(d: &Path, name: &str, role: &str) {
    ok(netward(d, &["portal", "user", "add", name, "--role", role], Some(&format!("{PW}\n"))));
}

#[test]
fn https_with_a_generated_certificate_pinned_by_its_printed_fingerprint() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    add_user(d, "alice", "admin");
    let (p, banner) = portal(d, &["--tls"]);
    assert!(banner.contains("https://127.0.0.1:"), "{banner}");
    let printed = banner.split(' ').find(|w| w.starts_with("sha256:")).unwrap_or_else(|| panic!("{banner}"));
    // The printed fingerprint is the stored certificate's.
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_file(d.join("portal-cert.pem")).unwrap();
    assert_eq!(printed, netward_server::tls::fingerprint(&der));
    let key_mode = std::fs::metadata(d.join("portal-key.pem")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777, 0o600);
    let addr = addr_of(&banner);

    let pinned = Arc::new(netward_server::tls::client_config(printed).unwrap());
    let c = Conn::Tls(addr, pinned);
    let page = c.get("/login", "");
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.header("strict-transport-security").is_some(), "HSTS under TLS: {}", page.head);
    let (set_cookie, token) = c.login("alice");
    for attr in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(set_cookie.split("; ").any(|a| a == attr), "{attr} in {set_cookie}");
    }
    assert_eq!(c.get("/timeline", &token).status, 200);

    // Another fingerprint is refused by the pinned client, and clear text
    // to the TLS port gets no page.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let other = Conn::Tls(addr, Arc::new(netward_server::tls::client_config(&wrong).unwrap()));
    assert_eq!(other.get("/login", "").status, 0, "the handshake must fail");
    assert_eq!(Conn::Plain(addr).get("/login", "").status, 0);

    // A restart serves the same stored certificate.
    drop(p);
    let (_p, again) = portal(d, &["--tls"]);
    assert!(again.contains(printed), "{again} vs {printed}");

    // Half a configured pair is bad input.
    let cfg = d.join("half.toml");
    std::fs::write(&cfg, "[portal]\ntls_cert = \"/nonexistent/cert.pem\"\n").unwrap();
    let out = netward(d, &["--config", cfg.to_str().unwrap(), "portal", "--listen", "127.0.0.1:0"], None);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("portal.tls_key"));
}

#[test]
fn a_configured_certificate_is_served() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    add_user(d, "alice", "admin");
    // A pair made the way an admin would bring one (here by the server's
    // own generator, under other names).
    let (cert, key) = (d.join("mine.pem"), d.join("mine.key"));
    let made = netward_server::tls::ServerCert::load(&netward_server::tls::CertSource::GeneratedAt {
        cert: cert.clone(),
        key: key.clone(),
        names: vec![],
    })
    .unwrap();
    let cfg = d.join("portal.toml");
    std::fs::write(&cfg, format!("[portal]\ntls_cert = {:?}\ntls_key = {:?}\n", cert, key)).unwrap();
    let (_p, banner) = portal(d, &["--config", cfg.to_str().unwrap()]);
    assert!(banner.contains("https://") && banner.contains(&made.fingerprint), "{banner}");
    assert!(!d.join("portal-cert.pem").exists(), "nothing generated when a certificate is configured");
    let c = Conn::Tls(addr_of(&banner), Arc::new(netward_server::tls::client_config(&made.fingerprint).unwrap()));
    assert_eq!(c.get("/login", "").status, 200);
}

/// 130 events: 60 at one instant, 60 within the same millisecond 500 ns
/// later, 10 a second earlier; pages of 50 must show each exactly once.
#[test]
fn timeline_pages_show_every_event_once_when_times_tie() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let mut lines = String::new();
    for i in 0..130u32 {
        let ts = match i {
            0..60 => "2024-05-14T09:46:02.768000000Z",
            60..120 => "2024-05-14T09:46:02.768000500Z",
            _ => "2024-05-14T09:46:01.000000000Z",
        };
        lines += &serde_json::json!({
            "Timestamp": ts, "DeviceId": "dev1", "DeviceName": "ws", "ActionType": "ConnectionSuccess",
            "RemoteIP": format!("198.18.{}.{}", i / 200, i % 200), "RemotePort": 443, "ReportId": 1000 + i,
        })
        .to_string();
        lines.push('\n');
    }
    let file = d.join("ties.jsonl");
    std::fs::write(&file, lines).unwrap();
    ok(netward(d, &["import", "--table", "DeviceNetworkEvents", file.to_str().unwrap()], None));
    add_user(d, "alice", "analyst");
    let (_p, banner) = portal(d, &[]);
    assert!(banner.starts_with("netward portal listening on http://"), "{banner}");
    let c = Conn::Plain(addr_of(&banner));
    let (set_cookie, token) = c.login("alice");
    assert!(!set_cookie.contains("Secure"), "no Secure flag over plain HTTP: {set_cookie}");

    let mut seen = Vec::new();
    let mut path = "/timeline".to_string();
    for page in 0.. {
        assert!(page < 10, "paging does not end");
        let r = c.get(&path, &token);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let rids: Vec<u32> =
            r.body.split("&amp;rid=").skip(1).map(|s| s.split('"').next().unwrap().parse().unwrap()).collect();
        assert!(rids.len() <= 50, "{} rows on a page", rids.len());
        seen.extend(rids);
        match r.body.split("id=\"older\" href=\"").nth(1) {
            Some(rest) => path = rest.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "an event shown twice");
    assert_eq!(sorted, (1000..1130).collect::<Vec<_>>(), "every event shown");
    // Newest first: the later nanosecond's events lead, the older second's close.
    assert!(seen[..60].iter().all(|r| (1060..1120).contains(r)), "{:?}", &seen[..60]);
    assert!(seen[120..].iter().all(|r| *r >= 1120));
    // A filter nothing matches: an empty page; one that matches one event: it.
    let r = c.get("/timeline?remote=198.19.9.9", &token);
    assert!(r.status == 200 && r.body.contains("No events.") && !r.body.contains("&amp;rid="), "{}", r.body);
    let r = c.get("/timeline?remote=198.18.0.7", &token);
    assert_eq!(r.body.matches("&amp;rid=").count(), 1, "{}", r.body);
    assert!(r.body.contains("&amp;rid=1007\""), "{}", r.body);
    // A forged cursor is bad input, not a query.
    let r = c.get("/timeline?before=2024%22%29%20or%201%3D%3D1~1", &token);
    assert_eq!(r.status, 400, "{}", r.body);
}

/// One event row as `netward import` reads it.
fn event_line(ms: i64, rid: u32, action: &str, url: &str) -> serde_json::Value {
    serde_json::json!({
        "Timestamp": netward_events::Timestamp::from_unix_millis(ms).to_string(), "DeviceId": "dev1",
        "DeviceName": "ws", "ActionType": action, "RemoteIP": format!("198.18.{}.{}", rid / 200, rid % 200),
        "RemotePort": 443, "RemoteUrl": url, "ReportId": rid,
    })
}

/// (time ms, ReportId, ActionType, RemoteUrl) of a test event.
type Event = (i64, u32, &'static str, &'static str);

/// Every page of `first`, following the "older" links: the ReportIds in order.
fn all_pages(c: &Conn, token: &str, first: &str) -> Vec<u32> {
    let (mut seen, mut path) = (Vec::new(), first.to_string());
    for page in 0.. {
        assert!(page < 20, "paging does not end");
        let r = c.get(&path, token);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let rids: Vec<u32> =
            r.body.split("&amp;rid=").skip(1).map(|s| s.split('"').next().unwrap().parse().unwrap()).collect();
        let older = r.body.split("id=\"older\" href=\"").nth(1);
        assert!(rids.len() == 50 || older.is_none(), "{path}: {} rows on a page with an older link", rids.len());
        seen.extend(rids);
        match older {
            Some(rest) => path = rest.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
    }
    seen
}

#[test]
fn timeline_pages_over_segments_and_the_live_log_are_those_of_a_full_sort() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let day = 86_400_000i64;
    let t0 = 1_715_000_000_000i64;
    // (time ms, ReportId, ActionType, RemoteUrl) of every event, by where it is stored.
    let mut segments: Vec<Vec<Event>> = vec![Vec::new(); 3];
    for i in 0..60u32 {
        let url = if i % 20 == 3 { "old-only.example" } else { "a.example" };
        segments[0].push((t0 + i64::from(i) * 1000, 1000 + i, "ConnectionSuccess", url));
    }
    for i in 0..70u32 {
        let action = if i % 10 == 0 { "ConnectionFailed" } else { "ConnectionSuccess" };
        segments[1].push((t0 + 2 * day + i64::from(i) * 1000, 2000 + i, action, "b.example"));
    }
    // The middle segment's newest time is the newest segment's oldest: a tie
    // across the boundary, broken by ReportId (interleaved between them).
    let boundary = t0 + 3 * day;
    for rid in [5000, 5002, 5004] {
        segments[1].push((boundary, rid, "ConnectionSuccess", "b.example"));
    }
    for rid in [5001, 5003, 5005] {
        segments[2].push((boundary, rid, "ConnectionSuccess", "c.example"));
    }
    for i in 1..37u32 {
        segments[2].push((boundary + i64::from(i) * 1000, 3000 + i, "ConnectionSuccess", "c.example"));
    }
    for (n, seg) in segments.iter().enumerate() {
        let lines: String = seg.iter().map(|&(t, r, a, u)| event_line(t, r, a, u).to_string() + "\n").collect();
        let file = d.join(format!("seg{n}.jsonl"));
        std::fs::write(&file, lines).unwrap();
        ok(netward(d, &["import", "--table", "DeviceNetworkEvents", file.to_str().unwrap()], None));
    }
    // The live log: five newest events and some older than every segment.
    let mut live = Vec::new();
    for i in 0..5u32 {
        live.push((t0 + 4 * day + i64::from(i), 4000 + i, "ConnectionSuccess", "d.example"));
    }
    for i in 0..4u32 {
        live.push((t0 - day + i64::from(i), 4100 + i, "ConnectionFailed", "old-only.example"));
    }
    {
        let mut store = netward_store::Store::open(d.join("store"), netward_store::StoreOptions::default()).unwrap();
        let rows: Vec<_> = live
            .iter()
            .map(|&(t, r, a, u)| {
                netward_events::Record::from_json(netward_events::Table::DeviceNetworkEvents, &event_line(t, r, a, u))
                    .unwrap()
                    .0
            })
            .collect();
        store.append(netward_events::Table::DeviceNetworkEvents, &rows).unwrap();
    }
    let out = netward(d, &["--format", "csv", "hunt", "DeviceNetworkEvents | summarize count()"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("181"), "{out:?}");

    let mut all: Vec<_> = segments.concat();
    all.extend(&live);
    all.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    let order = |keep: &dyn Fn(&Event) -> bool| -> Vec<u32> { all.iter().filter(|e| keep(e)).map(|e| e.1).collect() };

    add_user(d, "alice", "analyst");
    let (_p, banner) = portal(d, &[]);
    let c = Conn::Plain(addr_of(&banner));
    let (_, token) = c.login("alice");
    // The first page spans the live log, the newest segment and the middle
    // one; the second crosses from the middle segment into the oldest.
    assert_eq!(all_pages(&c, &token, "/timeline"), order(&|_| true));
    // A filter that matches only in the oldest segment and the live log's old rows.
    let want = order(&|e| e.3 == "old-only.example");
    assert_eq!(want.len(), 7);
    assert_eq!(all_pages(&c, &token, "/timeline?remote=old-only"), want);
    let want = order(&|e| e.2 == "ConnectionFailed");
    assert_eq!(all_pages(&c, &token, "/timeline?action=ConnectionFailed"), want);
}

#[test]
fn saved_queries_are_per_user_and_need_the_csrf_token() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    add_user(d, "alice", "analyst");
    add_user(d, "bob", "analyst");
    let (_p, banner) = portal(d, &[]);
    let c = Conn::Plain(addr_of(&banner));
    let (_, alice) = c.login("alice");
    let (_, bob) = c.login("bob");

    // The public corpus queries are offered, and open in the editor.
    let hunt = c.get("/hunt", &alice);
    assert!(hunt.body.contains("id=\"corpus\""), "{}", hunt.body);
    let n: usize = hunt.body.split("/hunt?example=").count() - 1;
    assert_eq!(n, netward_hunt::corpus::queries().len(), "every corpus query offered");
    assert!(n > 20, "{n}");
    let ex = c.get("/hunt?example=0", &alice);
    assert!(ex.body.contains("Connection to Rare DNS Hosts") && ex.body.contains("LowCountThreshold"), "{}", ex.body);

    let token = csrf(&hunt.body);
    let q = "DeviceNetworkEvents | take 3";
    let body = format!("csrf={token}&name=three&q={}", form(q));
    let r = c.send("POST", "/hunt/save", &alice, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("saved query three"));
    // Without the token, or with bob's cookie and alice's token: refused.
    assert_eq!(c.send("POST", "/hunt/save", &alice, &format!("name=x&q={}", form(q))).status, 403);
    assert_eq!(c.send("POST", "/hunt/save", &bob, &body).status, 403);
    assert_eq!(c.send("POST", "/hunt/save", "", &body).status, 401);

    let listed = c.get("/hunt", &alice).body;
    let saved = listed.split("id=\"saved\"").nth(1).unwrap();
    assert!(saved.contains(">three<") && saved.contains(&format!("/hunt?q={}", form(q))), "{saved}");
    assert!(!c.get("/hunt", &bob).body.split("id=\"saved\"").nth(1).unwrap().contains("three"));
    let stored = std::fs::read_to_string(d.join("portal-queries.json")).unwrap();
    assert!(stored.contains("alice") && stored.contains("take 3"), "{stored}");

    // A bad name is refused with a message; delete needs the token too.
    let r = c.send("POST", "/hunt/save", &alice, &format!("csrf={token}&name=&q={}", form(q)));
    assert_eq!(r.status, 400);
    assert_eq!(c.send("POST", "/hunt/delete", &alice, "name=three").status, 403);
    let r = c.send("POST", "/hunt/delete", &alice, &format!("csrf={token}&name=three"));
    assert!(r.body.contains("deleted query three"), "{}", r.body);
    assert!(!c.get("/hunt", &alice).body.split("id=\"saved\"").nth(1).unwrap().contains("three"));
}
