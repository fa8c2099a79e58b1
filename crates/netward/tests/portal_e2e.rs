//! The portal end to end in real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver by fantoccini): accounts made
//! with the CLI, a replayed proxy capture on the timeline, hunting with a
//! chart, an indicator that `netward evaluate` then blocks, a settings change
//! on the 5007 history, and the refusals (role, wrong password, CSRF,
//! a session cookie replayed after logout, the login limiter). Screenshots
//! of every page go to `target/portal-screenshots/`. Last, the portal over
//! HTTPS (a generated certificate, accepted by the browser): a Secure cookie. With `CI=true` a
//! missing browser fails the test.

mod common;
use common::portal::{netward, ok, Kill};
use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_netward");
const ADMIN_PW: &str = "correct horse battery";
const ANALYST_PW: &str = "analyst password 1";

/// One raw HTTP/1.1 exchange (status, headers and body as text), for what a
/// browser will not do: omit a CSRF token, replay a cookie.
fn http(addr: SocketAddr, req: String) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

fn post(addr: SocketAddr, path: &str, cookie: &str, body: &str) -> (u16, String) {
    http(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: netward_session={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn get(addr: SocketAddr, path: &str, cookie: &str) -> (u16, String) {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: netward_session={cookie}\r\nConnection: close\r\n\r\n"),
    )
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn find(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn shot(c: &Client, name: &str) {
    let dir = workspace().join("target/portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn login(c: &Client, base: &str, user: &str, pw: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Id("user")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(pw).await.unwrap();
    submit(c, c.find(Locator::Id("login")).await.unwrap()).await;
}

/// Clicks `el` (a submit button or link) and waits until the browser has
/// replaced the page: the click returns before the answer is there.
async fn submit(c: &Client, el: fantoccini::elements::Element) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    el.click().await.unwrap();
    for _ in 0..100 {
        if old.tag_name().await.is_err() {
            // The old document is gone; let the new one finish loading.
            for _ in 0..50 {
                let ready = c.execute("return document.readyState", vec![]).await.ok();
                if ready.as_ref().and_then(|v| v.as_str()) == Some("complete") {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the page was not replaced within 10 s of the click");
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

async fn session_cookie(c: &Client) -> String {
    let cookie = c.get_named_cookie("netward_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    cookie.value().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_in_headless_chromium() {
    let browser = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let (Some(browser), Some(driver)) = (browser, driver) else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: chromium and chromium-driver are required");
        eprintln!("SKIP: no chromium/chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let capture = workspace().join("testdata/pcaps/sv-http-connect-http-connect-tls.pcap");
    ok(netward(d, &["replay", "--store", "--no-print", capture.to_str().unwrap()], None));
    ok(netward(d, &["portal", "user", "add", "alice", "--role", "admin"], Some(&format!("{ADMIN_PW}\n"))));
    ok(netward(d, &["portal", "user", "add", "bob", "--role", "analyst"], Some(&format!("{ANALYST_PW}\n"))));
    let mode = std::fs::metadata(d.join("portal-users.json")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
    // A password on the command line is not accepted.
    assert!(!netward(d, &["portal", "user", "add", "eve", "--role", "admin", "--password", "x"], None)
        .status
        .success());

    let mut portal = Command::new(BIN)
        .arg("--data-dir")
        .arg(d)
        .args(["portal", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(portal.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _portal = Kill(portal);
    let base = line.trim().rsplit(' ').next().unwrap().trim_end_matches('/').to_string();
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap_or_else(|e| panic!("{line}: {e}"));

    let port = free_port();
    let _driver = Kill(Command::new(driver).arg(format!("--port={port}")).stdout(Stdio::null()).spawn().unwrap());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"binary": browser, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}),
    );
    let mut c = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(cl) => {
                c = Some(cl);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let c = c.expect("chromedriver did not start");

    // Pages need a login.
    c.goto(&format!("{base}/timeline")).await.unwrap();
    assert!(c.current_url().await.unwrap().path() == "/login");
    shot(&c, "login").await;

    // A wrong password is refused.
    login(&c, &base, "alice", "wrong password").await;
    assert!(text(&c, "#login-error").await.contains("Wrong user or password"));

    login(&c, &base, "alice", ADMIN_PW).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/timeline");
    // The proxy connection: the proxy column and the real destination.
    let rows = c.find_all(Locator::Css("#timeline td.proxy")).await.unwrap();
    let mut proxied = None;
    for (i, r) in rows.iter().enumerate() {
        if !r.text().await.unwrap().trim().is_empty() {
            proxied = Some(i);
            break;
        }
    }
    let i = proxied.expect("a proxy connection on the timeline");
    let dests = c.find_all(Locator::Css("#timeline td.destination")).await.unwrap();
    let dest = dests[i].text().await.unwrap();
    let proxy = rows[i].text().await.unwrap();
    assert!(!dest.trim().is_empty(), "real destination shown");
    eprintln!("timeline proxy row: {proxy} | destination {dest}");
    shot(&c, "timeline").await;
    let details = c.find_all(Locator::LinkText("details")).await.unwrap();
    submit(&c, details[i].clone()).await;
    assert!(text(&c, "#event").await.contains("AdditionalFields"));
    shot(&c, "event").await;

    // Hunting: rows, then a chart.
    c.goto(&format!("{base}/hunt")).await.unwrap();
    c.find(Locator::Id("query")).await.unwrap().send_keys("DeviceNetworkEvents | take 5").await.unwrap();
    submit(&c, c.find(Locator::Id("run")).await.unwrap()).await;
    let n = c.find_all(Locator::Css("#results tr")).await.unwrap().len();
    assert!(n > 1, "result rows shown ({n} rows with the header)");
    shot(&c, "hunt").await;
    let q = c.find(Locator::Id("query")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys("DeviceNetworkEvents | summarize count() by bin(Timestamp, 1m) | render timechart").await.unwrap();
    submit(&c, c.find(Locator::Id("run")).await.unwrap()).await;
    c.find(Locator::Css("#chart svg polyline")).await.expect("a timechart drawn as SVG");
    shot(&c, "hunt-chart").await;
    // An error is shown with its position.
    let q = c.find(Locator::Id("query")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys("DeviceNetworkEvents | wher x").await.unwrap();
    submit(&c, c.find(Locator::Id("run")).await.unwrap()).await;
    assert!(text(&c, "#query-error").await.contains("line 1, column"));

    // A block indicator from the page, then the CLI's verdict.
    c.goto(&format!("{base}/indicators")).await.unwrap();
    c.find(Locator::Id("value")).await.unwrap().send_keys("portal-block.example").await.unwrap();
    submit(&c, c.find(Locator::Id("add-button")).await.unwrap()).await;
    assert!(text(&c, "#notice").await.contains("portal-block.example"));
    assert!(text(&c, "#indicators").await.contains("portal-block.example"));
    shot(&c, "indicators").await;
    let verdict = ok(netward(d, &["--format", "json", "evaluate", "https://portal-block.example/x"], None));
    assert!(verdict.contains("\"block\""), "{verdict}");

    // The enforcement level, on the 5007 history with the user.
    c.goto(&format!("{base}/settings")).await.unwrap();
    c.find(Locator::Css("#enforcement_level")).await.unwrap().select_by_value("block").await.unwrap();
    submit(&c, c.find(Locator::Id("save")).await.unwrap()).await;
    let hist = text(&c, "#history").await;
    assert!(hist.lines().any(|l| l.contains("alice") && l.contains("block")), "{hist}");
    shot(&c, "settings").await;
    let events = ok(netward(d, &["--format", "json", "events", "--id", "5007"], None));
    assert!(events.contains("alice"), "{events}");
    // The notification text: one 5007 for it, none for the unchanged level.
    let before = events.lines().count();
    let nt = c.find(Locator::Id("notification_text")).await.unwrap();
    nt.clear().await.unwrap();
    nt.send_keys("Blocked by ACME IT: call 555-0100").await.unwrap();
    submit(&c, c.find(Locator::Id("save")).await.unwrap()).await;
    assert!(text(&c, "#notice").await.contains("notification.text"));
    let hist = text(&c, "#history").await;
    assert!(
        hist.lines().any(|l| l.contains("alice") && l.contains("notification.text") && l.contains("ACME")),
        "{hist}"
    );
    let events = ok(netward(d, &["--format", "json", "events", "--id", "5007"], None));
    assert_eq!(events.lines().count(), before + 1, "{events}");
    let shown = ok(netward(d, &["--format", "json", "config", "show"], None));
    assert!(shown.contains("Blocked by ACME IT: call 555-0100"), "{shown}");

    c.goto(&format!("{base}/alerts")).await.unwrap();
    shot(&c, "alerts").await;

    // A state change without the CSRF token is refused, with it accepted.
    let cookie = session_cookie(&c).await;
    let (status, _) = post(addr, "/settings", &cookie, "enforcement_level=audit");
    assert_eq!(status, 403);
    assert_eq!(get(addr, "/settings", &cookie).0, 200);
    // Logout ends the session: the same cookie is refused after.
    submit(&c, c.find(Locator::Id("logout")).await.unwrap()).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    let (status, resp) = get(addr, "/settings", &cookie);
    assert_eq!(status, 303, "{resp}");
    assert!(resp.contains("location: /login") || resp.contains("Location: /login"), "{resp}");
    assert_eq!(post(addr, "/settings", &cookie, "enforcement_level=audit").0, 401);

    // An analyst reads and hunts but is refused the settings page.
    login(&c, &base, "bob", ANALYST_PW).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/timeline");
    c.goto(&format!("{base}/settings")).await.unwrap();
    assert!(c.source().await.unwrap().contains("This page is for admins."));
    shot(&c, "analyst-refused").await;
    let bob = session_cookie(&c).await;
    assert_eq!(get(addr, "/settings", &bob).0, 403);

    // The login limiter: after 5 failures even the right password waits.
    // (The address already has one failure: alice's wrong password.)
    let statuses: Vec<u16> = (0..5).map(|_| post(addr, "/login", "", "user=bob&password=nope").0).collect();
    assert_eq!(statuses[0], 401, "{statuses:?}");
    assert_eq!(statuses[4], 429, "{statuses:?}");
    let body = format!("user=bob&password={}", ANALYST_PW.replace(' ', "+"));
    assert_eq!(post(addr, "/login", "", &body).0, 429);
    c.close().await.unwrap();

    // HTTPS: the same data directory served with a generated certificate,
    // Chromium told to accept it (it is self-signed); the cookie is Secure.
    let mut tls = Command::new(BIN)
        .arg("--data-dir")
        .arg(d)
        .args(["portal", "--listen", "127.0.0.1:0", "--tls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(tls.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _tls = Kill(tls);
    let https = line.split(' ').find(|w| w.starts_with("https://")).unwrap_or_else(|| panic!("{line}"));
    assert!(line.contains("certificate sha256:"), "{line}");
    let https = https.trim_end_matches('/').to_string();
    caps.insert("acceptInsecureCerts".into(), serde_json::json!(true));
    let c =
        ClientBuilder::rustls().unwrap().capabilities(caps).connect(&format!("http://127.0.0.1:{port}")).await.unwrap();
    login(&c, &https, "alice", ADMIN_PW).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/timeline");
    assert!(c.find(Locator::Css("#timeline")).await.is_ok());
    let cookie = c.get_named_cookie("netward_session").await.unwrap();
    assert_eq!(cookie.secure(), Some(true), "Secure under TLS");
    assert_eq!(cookie.http_only(), Some(true));
    shot(&c, "timeline-https").await;
    c.close().await.unwrap();
}
