//! The hunting page's KQL editor in real headless Chromium (as
//! `portal_e2e.rs`): colouring from the tokens endpoint (a keyword, a
//! column, a string, a comment), the first error marked where it is,
//! completions near the caret (columns of the query's table first, Tab
//! inserts, Escape dismisses, operators after `|`), and the endpoints'
//! refusals over raw HTTP: no session, no CSRF token, a body over 64 KiB,
//! text that is not UTF-8. With `CI=true` a missing browser fails the test.

mod common;
use common::portal::{netward, ok, Kill};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const PW: &str = "correct horse battery";

fn find(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| p.exists())
}

/// One raw HTTP/1.1 exchange: status and the whole answer.
fn http(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

fn post_tokens(addr: SocketAddr, cookie: &str, csrf: Option<&str>, body: &[u8]) -> (u16, String) {
    let csrf = csrf.map(|c| format!("X-CSRF-Token: {c}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /api/kql/tokens HTTP/1.1\r\nHost: {addr}\r\nCookie: netward_session={cookie}\r\n{csrf}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    http(addr, &head, body)
}

/// Runs `js` (a function body returning a value) until `done` holds for
/// its value, for up to 10 s; the last value.
async fn wait_for(c: &Client, js: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut v = Value::Null;
    for _ in 0..100 {
        v = c.execute(js, vec![]).await.unwrap();
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s: {js}\nlast value: {v}");
}

/// The overlay's coloured spans once it shows `text`: [text, class, start].
const SPANS: &str = "return Array.from(document.querySelectorAll('#kql-highlight span')).map(s => [s.textContent, s.className, s.dataset.start]);";

/// Waits until the overlay colours the textarea's current text as the
/// server answered for it (a span ends at the text's end).
async fn coloured(c: &Client, last_token: &str) -> Vec<(String, String, String)> {
    let v = wait_for(c, SPANS, |v| {
        v.as_array().is_some_and(|a| a.iter().any(|s| s[0] == last_token && !s[1].as_str().unwrap_or("").is_empty()))
    })
    .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |i: usize| s[i].as_str().unwrap_or("").to_string();
            (f(0), f(1), f(2))
        })
        .collect()
}

async fn retype(c: &Client, text: &str) {
    let q = c.find(Locator::Id("query")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys(text).await.unwrap();
}

/// The completion menu's items once it is shown.
async fn menu(c: &Client) -> Vec<String> {
    let js = "const m = document.getElementById('kql-completions'); return m.hidden ? null : Array.from(m.querySelectorAll('li')).map(l => l.dataset.value);";
    let v = wait_for(c, js, |v| v.as_array().is_some_and(|a| !a.is_empty())).await;
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

async fn menu_hidden(c: &Client) -> bool {
    c.execute("return document.getElementById('kql-completions').hidden;", vec![]).await.unwrap() == Value::Bool(true)
}

async fn value(c: &Client) -> String {
    c.execute("return document.getElementById('query').value;", vec![]).await.unwrap().as_str().unwrap().to_string()
}

fn has(spans: &[(String, String, String)], text: &str, class: &str) -> bool {
    spans.iter().any(|(t, k, _)| t == text && k.split(' ').any(|c| c == class))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kql_editor_in_headless_chromium() {
    let browser = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let (Some(browser), Some(driver)) = (browser, driver) else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: chromium and chromium-driver are required");
        eprintln!("SKIP: no chromium/chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    ok(netward(d, &["portal", "user", "add", "alice", "--role", "analyst"], Some(&format!("{PW}\n"))));
    let mut portal = Command::new(env!("CARGO_BIN_EXE_netward"))
        .env_remove("NETWARD_DATA_DIR")
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

    // No session: the API refuses (JSON, 401), as pages redirect.
    let (status, resp) = post_tokens(addr, "none", Some("x"), b"DeviceInfo");
    assert_eq!(status, 401, "{resp}");
    assert!(resp.contains("log in first"), "{resp}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
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
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = c.expect("chromedriver did not start");

    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Id("user")).await.unwrap().send_keys("alice").await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PW).await.unwrap();
    c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    wait_for(&c, "return location.pathname;", |v| v == "/timeline").await;
    c.goto(&format!("{base}/hunt")).await.unwrap();
    // The script took over: the textarea's own text is transparent over
    // the coloured copy.
    let color = c.execute("return getComputedStyle(document.getElementById('query')).color;", vec![]).await.unwrap();
    assert_eq!(color, "rgba(0, 0, 0, 0)", "textarea text hidden over the overlay");

    // Colouring: every class from the server's lexer.
    retype(&c, "DeviceNetworkEvents // recent\n| where RemoteUrl has \"example\" and RemotePort == 443").await;
    let spans = coloured(&c, "443").await;
    for (text, class) in [
        ("DeviceNetworkEvents", "kql-table"),
        ("// recent", "kql-comment"),
        ("where", "kql-keyword"),
        ("RemoteUrl", "kql-column"),
        ("has", "kql-keyword"),
        ("\"example\"", "kql-string"),
        ("RemotePort", "kql-column"),
        ("443", "kql-number"),
    ] {
        assert!(has(&spans, text, class), "{text} as {class}: {spans:?}");
    }
    assert!(!spans.iter().any(|s| s.1.contains("kql-err")), "{spans:?}");
    // The overlay is the text, character for character.
    let overlay = c.execute("return document.getElementById('kql-highlight').textContent;", vec![]).await.unwrap();
    assert_eq!(overlay.as_str().unwrap().trim_end(), value(&c).await);

    // An error: the token marked at its place, the message under the editor.
    retype(&c, "DeviceNetworkEvents | wher x").await;
    let spans = coloured(&c, "x").await;
    let err: Vec<_> = spans.iter().filter(|s| s.1.split(' ').any(|k| k == "kql-err")).collect();
    assert_eq!(err.len(), 1, "{spans:?}");
    assert_eq!((err[0].0.as_str(), err[0].2.as_str()), ("wher", "22"), "{spans:?}");
    let status = wait_for(&c, "return document.getElementById('kql-status').textContent;", |v| {
        v.as_str().is_some_and(|s| !s.is_empty())
    })
    .await;
    let status = status.as_str().unwrap();
    assert!(status.contains("line 1, column 23") && status.contains("unknown operator"), "{status}");
    // An error at the very end (a missing operand) is marked there too.
    retype(&c, "DeviceNetworkEvents | where RemotePort ==").await;
    let v = wait_for(
        &c,
        "const e = document.querySelector('#kql-highlight .kql-err'); return e ? [e.className, e.dataset.start] : null;",
        |v| !v.is_null(),
    )
    .await;
    assert_eq!(v[1], "41", "{v}");
    c.execute("document.querySelector('.kql-editor').scrollIntoView();", vec![]).await.unwrap();
    shot(&c, "hunt-editor-error").await;

    // Completions: a column prefix offers the column, Tab inserts it.
    retype(&c, "DeviceNetworkEvents | where RemoteU").await;
    let items = menu(&c).await;
    assert_eq!(items.first().map(String::as_str), Some("RemoteUrl"), "{items:?}");
    shot(&c, "hunt-editor-completions").await;
    c.find(Locator::Id("query")).await.unwrap().send_keys(&Key::Tab.to_string()).await.unwrap();
    assert_eq!(value(&c).await, "DeviceNetworkEvents | where RemoteUrl");
    assert!(menu_hidden(&c).await, "the menu closes on accepting");
    coloured(&c, "RemoteUrl").await;
    // Escape dismisses without changing the text.
    c.find(Locator::Id("query")).await.unwrap().send_keys(" or Remote").await.unwrap();
    let items = menu(&c).await;
    assert!(items.iter().any(|i| i == "RemoteIP") && items.iter().any(|i| i == "RemotePort"), "{items:?}");
    c.find(Locator::Id("query")).await.unwrap().send_keys(&Key::Escape.to_string()).await.unwrap();
    assert!(menu_hidden(&c).await);
    assert_eq!(value(&c).await, "DeviceNetworkEvents | where RemoteUrl or Remote");
    // Enter accepts too (not a new line).
    c.find(Locator::Id("query")).await.unwrap().send_keys("P").await.unwrap();
    assert_eq!(menu(&c).await.first().map(String::as_str), Some("RemotePort"));
    c.find(Locator::Id("query")).await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
    assert_eq!(value(&c).await, "DeviceNetworkEvents | where RemoteUrl or RemotePort");

    // After `Table |` that table's columns come first: `Is` is
    // IsAzureADJoined in DeviceInfo, IsInitiatingProcessRemoteSession in
    // DeviceNetworkEvents.
    for (table, first) in
        [("DeviceInfo", "IsAzureADJoined"), ("DeviceNetworkEvents", "IsInitiatingProcessRemoteSession")]
    {
        retype(&c, &format!("{table} | where ")).await;
        coloured(&c, table).await;
        c.find(Locator::Id("query")).await.unwrap().send_keys("Is").await.unwrap();
        let items = menu(&c).await;
        assert_eq!(items.first().map(String::as_str), Some(first), "{table}: {items:?}");
    }
    // After a pipe: operators.
    retype(&c, "DeviceInfo | summ").await;
    assert_eq!(menu(&c).await, ["summarize"]);
    // Inside a string: nothing offered.
    retype(&c, "DeviceInfo | where DeviceName == 'Rem").await;
    coloured(&c, "'Rem").await;
    c.find(Locator::Id("query")).await.unwrap().send_keys("o").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(menu_hidden(&c).await, "no completions in a string");

    // The endpoints over raw HTTP, with the browser's session.
    let cookie = c.get_named_cookie("netward_session").await.unwrap().value().to_string();
    let csrf = c.execute("return document.getElementById('kql-editor').dataset.csrf;", vec![]).await.unwrap();
    let csrf = csrf.as_str().unwrap();
    let (status, resp) = post_tokens(addr, &cookie, Some(csrf), "DeviceInfo | take 1".as_bytes());
    assert_eq!(status, 200, "{resp}");
    assert!(resp.contains(r#"[13,17,"keyword"]"#), "{resp}");
    let (status, resp) = post_tokens(addr, &cookie, None, b"DeviceInfo");
    assert_eq!(status, 403, "{resp}");
    assert!(resp.contains("CSRF"), "{resp}");
    let (status, resp) = post_tokens(addr, &cookie, Some("wrong"), b"DeviceInfo");
    assert_eq!(status, 403, "{resp}");
    // Over the limit: refused on the declared length, before any body is
    // read (so none is sent here: unread bytes would reset the connection
    // and could lose the answer).
    let head = format!(
        "POST /api/kql/tokens HTTP/1.1\r\nHost: {addr}\r\nCookie: netward_session={cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        64 * 1024 + 1
    );
    let (status, resp) = http(addr, &head, b"");
    assert_eq!(status, 413, "{resp}");
    assert!(resp.contains("over 64 KiB"), "{resp}");
    // Exactly the limit is read.
    let (status, resp) = post_tokens(addr, &cookie, Some(csrf), &[b'a'; 64 * 1024]);
    assert_eq!(status, 200, "{}", &resp[..resp.len().min(300)]);
    // A long query near the limit (over 1,000 operators: the parser stops
    // at its depth limit, the lexer colours all of it). The time is printed,
    // not checked: speed is for benchmarks.
    let long: String = std::iter::once("DeviceNetworkEvents".to_string())
        .chain((0..1_100).map(|i| format!("\n| where RemoteUrl has \"ex{i}\" and RemotePort == 443 // c")))
        .collect();
    assert!(long.len() < 64 * 1024 && long.len() > 60 * 1024, "{}", long.len());
    let (status, resp) = post_tokens(addr, &cookie, Some(csrf), long.as_bytes());
    assert_eq!(status, 200, "{}", &resp[..resp.len().min(300)]);
    assert!(resp.contains("expression too deep"), "{}", &resp[..resp.len().min(300)]);
    assert_eq!(resp.matches(r#""column"]"#).count(), 2 * 1_100, "every column coloured");
    let timing = resp.lines().find(|l| l.to_ascii_lowercase().starts_with("server-timing")).unwrap_or("").to_string();
    eprintln!("tokens of a {} byte query: {timing}", long.len());
    let (status, resp) = post_tokens(addr, &cookie, Some(csrf), b"DeviceInfo | where x == '\xff'");
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("not UTF-8"), "{resp}");
    let deep = "(".repeat(20_000);
    let (status, resp) = post_tokens(addr, &cookie, Some(csrf), deep.as_bytes());
    assert_eq!(status, 200, "{}", &resp[..resp.len().min(300)]);
    assert!(resp.contains("nested too deeply"), "{}", &resp[..resp.len().min(300)]);
    let schema = format!(
        "GET /api/kql/schema HTTP/1.1\r\nHost: {addr}\r\nCookie: netward_session={cookie}\r\nConnection: close\r\n\r\n"
    );
    let (status, resp) = http(addr, &schema, b"");
    assert_eq!(status, 200);
    assert!(resp.contains(r#"["RemoteUrl","string"]"#) && resp.contains("\"summarize\""), "{resp}");
    // Without the script the page is a plain textarea in the form.
    let page =
        format!("GET /hunt HTTP/1.1\r\nHost: {addr}\r\nCookie: netward_session={cookie}\r\nConnection: close\r\n\r\n");
    let (_, html) = http(addr, &page, b"");
    assert!(html.contains(r#"<textarea name="q" id="query""#) && !html.contains("kql-on"), "{html}");
    c.close().await.unwrap();
}

async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}
