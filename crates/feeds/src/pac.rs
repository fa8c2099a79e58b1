//! PAC files (`network.proxy_pac_url`): the organisation's
//! `FindProxyForURL(url, host)` run in an embedded QuickJS engine with the
//! standard PAC functions (`isPlainHostName`, `dnsDomainIs`,
//! `localHostOrDomainIs`, `isResolvable`, `isInNet`, `dnsResolve`,
//! `convert_addr`, `myIpAddress`, `dnsDomainLevels`, `shExpMatch`,
//! `weekdayRange`, `dateRange`, `timeRange`, `alert`), and its answer read
//! into routes: `PROXY h:p` / `HTTP h:p`, `HTTPS h:p`, `DIRECT`, tried in
//! order. `SOCKS` entries are skipped (netward's client speaks HTTP
//! proxies); an answer with nothing usable is an error, never DIRECT.
//!
//! Each evaluation gets a fresh engine with a memory limit, a stack limit
//! and a time limit, so a hostile or broken PAC file cannot hang or eat the
//! agent. As browsers do, an `https://` URL reaches the script without its
//! path and query. DNS (`dnsResolve`, `isInNet` on a name) uses the system
//! resolver.

use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Function, Runtime};

use crate::net::{client, NetConfig, ProxyServer, Route};

/// The largest PAC file taken.
pub const MAX_PAC_BYTES: u64 = 1 << 20;
const MEMORY_LIMIT: usize = 32 << 20;
const STACK_LIMIT: usize = 1 << 20;
const TIME_LIMIT: Duration = Duration::from_secs(2);

/// The standard functions, in JavaScript over two native ones.
const PRELUDE: &str = r#"
function isPlainHostName(host) { return String(host).indexOf('.') < 0; }
function dnsDomainIs(host, domain) {
  host = String(host).toLowerCase(); domain = String(domain).toLowerCase();
  return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
function localHostOrDomainIs(host, hostdom) {
  host = String(host).toLowerCase(); hostdom = String(hostdom).toLowerCase();
  return host === hostdom || (host.indexOf('.') < 0 && hostdom.indexOf(host + '.') === 0);
}
function dnsResolve(host) { var a = __netward_resolve(String(host)); return a === '' ? null : a; }
function isResolvable(host) { return dnsResolve(host) !== null; }
function myIpAddress() { return __netward_my_ip(); }
function dnsDomainLevels(host) { return String(host).split('.').length - 1; }
function convert_addr(ip) {
  var b = String(ip).split('.');
  return (((b[0] & 255) << 24) | ((b[1] & 255) << 16) | ((b[2] & 255) << 8) | (b[3] & 255)) >>> 0;
}
function isInNet(host, pattern, mask) {
  var ip = /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : dnsResolve(host);
  if (!ip || ip.indexOf(':') >= 0) return false;
  var m = convert_addr(mask);
  return ((convert_addr(ip) & m) >>> 0) === ((convert_addr(pattern) & m) >>> 0);
}
function shExpMatch(str, shexp) {
  var re = String(shexp).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + re + '$').test(String(str));
}
function __netward_args(a) {
  a = Array.prototype.slice.call(a);
  var gmt = a.length > 0 && String(a[a.length - 1]).toUpperCase() === 'GMT';
  if (gmt) a.pop();
  return { a: a, gmt: gmt, d: new Date() };
}
function __netward_in(lo, cur, hi) { return lo <= hi ? (lo <= cur && cur <= hi) : (cur >= lo || cur <= hi); }
function weekdayRange() {
  var x = __netward_args(arguments), days = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
  var today = x.gmt ? x.d.getUTCDay() : x.d.getDay();
  var w1 = days.indexOf(String(x.a[0]).toUpperCase());
  var w2 = x.a.length > 1 ? days.indexOf(String(x.a[1]).toUpperCase()) : w1;
  return w1 >= 0 && w2 >= 0 && __netward_in(w1, today, w2);
}
function timeRange() {
  var x = __netward_args(arguments), a = x.a.map(Number), d = x.d;
  var h = x.gmt ? d.getUTCHours() : d.getHours(), m = x.gmt ? d.getUTCMinutes() : d.getMinutes();
  var s = x.gmt ? d.getUTCSeconds() : d.getSeconds();
  if (a.length === 1) return h === a[0];
  if (a.length === 2) return __netward_in(a[0], h, a[1]);
  if (a.length === 4) return __netward_in(a[0] * 60 + a[1], h * 60 + m, a[2] * 60 + a[3]);
  if (a.length === 6) return __netward_in(a[0] * 3600 + a[1] * 60 + a[2], h * 3600 + m * 60 + s, a[3] * 3600 + a[4] * 60 + a[5]);
  return false;
}
function dateRange() {
  var x = __netward_args(arguments), d = x.d;
  var months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  var cur = { y: x.gmt ? d.getUTCFullYear() : d.getFullYear(), m: x.gmt ? d.getUTCMonth() : d.getMonth(),
              d: x.gmt ? d.getUTCDate() : d.getDate() };
  var t = x.a.map(function (v) {
    var mi = months.indexOf(String(v).toUpperCase());
    if (mi >= 0) return ['m', mi];
    var n = Number(v);
    return n >= 1000 ? ['y', n] : ['d', n];
  });
  function val(parts, kinds) {
    var o = {}, v = 0;
    parts.forEach(function (p) { o[p[0]] = p[1]; });
    kinds.forEach(function (k) { v = v * 10000 + (k in o ? o[k] : cur[k]); });
    return v;
  }
  if (t.length === 1) return cur[t[0][0]] === t[0][1];
  if (t.length === 0 || t.length % 2 !== 0) return false;
  var lo = t.slice(0, t.length / 2), hi = t.slice(t.length / 2);
  var kinds = ['y', 'm', 'd'].filter(function (k) { return lo.some(function (p) { return p[0] === k; }); });
  return __netward_in(val(lo, kinds), val([], kinds), val(hi, kinds));
}
function alert(msg) {}
"#;

/// Loads the PAC file at `url` (`http://`, `https://` or `file:///`). As
/// browsers do, it is fetched directly: it is what says where the proxy is.
pub fn load(url: &str, cfg: &NetConfig) -> Result<Pac, String> {
    let fail = |e: String| format!("PAC file {url}: {e}");
    let bytes = if let Some(path) = url.strip_prefix("file://") {
        let f = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let mut buf = Vec::new();
        f.take(MAX_PAC_BYTES + 1).read_to_end(&mut buf).map_err(|e| fail(e.to_string()))?;
        buf
    } else if url.starts_with("http://") || url.starts_with("https://") {
        let c = client(cfg, &Route::Direct).map_err(fail)?;
        let resp = c.get(url).send().map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        let mut buf = Vec::new();
        resp.take(MAX_PAC_BYTES + 1).read_to_end(&mut buf).map_err(|e| fail(e.to_string()))?;
        buf
    } else {
        return Err(fail("expected an http://, https:// or file:/// URL".into()));
    };
    if bytes.len() as u64 > MAX_PAC_BYTES {
        return Err(fail(format!("larger than {} KiB", MAX_PAC_BYTES >> 10)));
    }
    let script = String::from_utf8(bytes).map_err(|e| fail(format!("not UTF-8: {e}")))?;
    Pac::new(url, script).map_err(fail)
}

/// A PAC file's source, checked to compile and to define `FindProxyForURL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pac {
    /// Where it came from, for messages.
    pub origin: String,
    script: String,
}

impl Pac {
    /// Compiles `script` once to report errors (with line and column) now
    /// rather than at the first download.
    pub fn new(origin: &str, script: String) -> Result<Pac, String> {
        let pac = Pac { origin: origin.into(), script };
        pac.run(|ctx| {
            let f: rquickjs::Value = ctx.globals().get("FindProxyForURL").map_err(|e| e.to_string())?;
            if f.is_function() {
                Ok(())
            } else {
                Err("it does not define a function FindProxyForURL(url, host)".to_string())
            }
        })?;
        Ok(pac)
    }

    /// The script's answer for `url`.
    pub fn find(&self, url: &str) -> Result<String, String> {
        let (url, host) = pac_arguments(url)?;
        self.run(|ctx| {
            let f: Function = ctx.globals().get("FindProxyForURL").map_err(|e| e.to_string())?;
            let v: rquickjs::Value = f.call((url.as_str(), host.as_str())).map_err(|e| exception(&ctx, e))?;
            v.as_string()
                .and_then(|s| s.to_string().ok())
                .ok_or_else(|| format!("FindProxyForURL returned {}, not a string", v.type_name()))
        })
    }

    /// The routes the script chooses for `url`, in order.
    pub fn routes(&self, url: &str) -> Result<Vec<Route>, String> {
        let answer = self.find(url).map_err(|e| format!("PAC file {}: {e}", self.origin))?;
        parse_answer(&answer).map_err(|e| format!("PAC file {}: {e}", self.origin))
    }

    /// A fresh engine with the limits, the prelude and the script loaded.
    fn run<T>(&self, f: impl FnOnce(Ctx<'_>) -> Result<T, String>) -> Result<T, String> {
        let rt = Runtime::new().map_err(|e| format!("cannot start the JavaScript engine: {e}"))?;
        rt.set_memory_limit(MEMORY_LIMIT);
        rt.set_max_stack_size(STACK_LIMIT);
        let start = Instant::now();
        rt.set_interrupt_handler(Some(Box::new(move || start.elapsed() > TIME_LIMIT)));
        let context = Context::full(&rt).map_err(|e| format!("cannot start the JavaScript engine: {e}"))?;
        context.with(|ctx| {
            let g = ctx.globals();
            let resolve = Function::new(ctx.clone(), |host: String| resolve(&host)).map_err(|e| e.to_string())?;
            g.set("__netward_resolve", resolve).map_err(|e| e.to_string())?;
            let my_ip = Function::new(ctx.clone(), my_ip_address).map_err(|e| e.to_string())?;
            g.set("__netward_my_ip", my_ip).map_err(|e| e.to_string())?;
            eval(&ctx, PRELUDE, "netward-pac-prelude.js")?;
            eval(&ctx, &self.script, "proxy.pac")?;
            let out = f(ctx.clone());
            if start.elapsed() > TIME_LIMIT {
                return Err(format!("it ran longer than {} s", TIME_LIMIT.as_secs()));
            }
            out
        })
    }
}

fn eval(ctx: &Ctx<'_>, src: &str, name: &str) -> Result<(), String> {
    let mut opts = EvalOptions::default();
    opts.strict = false;
    opts.filename = Some(name.into());
    ctx.eval_with_options::<(), _>(src, opts).map_err(|e| exception(ctx, e))
}

/// A JavaScript exception as text with where it happened (QuickJS puts
/// `at proxy.pac:LINE:COL` in the stack).
fn exception(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    if !matches!(e, rquickjs::Error::Exception) {
        return e.to_string();
    }
    let v = ctx.catch();
    let Some(ex) = v.as_exception() else {
        return format!("exception: {v:?}");
    };
    let msg = ex.message().unwrap_or_default();
    let at = ex.stack().and_then(|s| s.lines().find(|l| l.contains("proxy.pac")).map(|l| l.trim().to_string()));
    match at {
        Some(at) => format!("{msg} ({at})"),
        None if msg.contains("interrupted") => format!("it ran longer than {} s", TIME_LIMIT.as_secs()),
        None => msg,
    }
}

/// `(url, host)` as the script sees them.
fn pac_arguments(url: &str) -> Result<(String, String), String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("{url:?} is not a URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let url = if scheme.eq_ignore_ascii_case("https") { format!("{scheme}://{authority}/") } else { url.to_string() };
    Ok((url, host.to_ascii_lowercase()))
}

/// `PROXY a:1; HTTPS b:2; DIRECT` into routes.
pub fn parse_answer(answer: &str) -> Result<Vec<Route>, String> {
    let mut routes = Vec::new();
    let mut skipped = Vec::new();
    for (i, entry) in answer.split(';').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let mut words = entry.split_whitespace();
        let kind = words.next().unwrap_or("").to_ascii_uppercase();
        let target = words.next();
        let route = match (kind.as_str(), target) {
            ("DIRECT", None) => Route::Direct,
            ("PROXY" | "HTTP", Some(t)) => Route::Proxy(ProxyServer::parse(&format!("http://{t}"))?),
            ("HTTPS", Some(t)) => Route::Proxy(ProxyServer::parse(&format!("https://{t}"))?),
            ("SOCKS" | "SOCKS4" | "SOCKS5", Some(_)) => {
                skipped.push(entry.to_string());
                continue;
            }
            _ => return Err(format!("entry {} of the answer {answer:?} is not PROXY, HTTPS or DIRECT", i + 1)),
        };
        if words.next().is_some() {
            return Err(format!("entry {} of the answer {answer:?} has extra words", i + 1));
        }
        routes.push(route);
    }
    if routes.is_empty() {
        return Err(if skipped.is_empty() {
            format!("the answer {answer:?} names no route")
        } else {
            format!("the answer {answer:?} names only SOCKS proxies, which netward does not use")
        });
    }
    Ok(routes)
}

fn resolve(host: &str) -> String {
    let Ok(addrs) = (host, 0).to_socket_addrs() else { return String::new() };
    let addrs: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).map(|a| a.to_string()).unwrap_or_default()
}

/// The address of the interface the default route leaves by: a UDP socket
/// "connected" to a documentation address (TEST-NET-1; nothing is sent,
/// the kernel only picks the route), else loopback.
fn my_ip_address() -> String {
    let local = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").and_then(|()| s.local_addr()));
    match local {
        Ok(a) if !a.ip().is_unspecified() => a.ip().to_string(),
        _ => "127.0.0.1".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pac(body: &str) -> Pac {
        Pac::new("test.pac", format!("function FindProxyForURL(url, host) {{ {body} }}")).unwrap()
    }

    fn answer(body: &str, url: &str) -> String {
        pac(body).find(url).unwrap()
    }

    #[test]
    fn standard_functions() {
        let t = |expr: &str| answer(&format!("return ({expr}) ? 'yes' : 'no';"), "http://www.evil.test/a/b?c");
        assert_eq!(t("isPlainHostName('intranet') && !isPlainHostName(host)"), "yes");
        assert_eq!(t("dnsDomainIs(host, '.evil.test') && !dnsDomainIs(host, '.good.test')"), "yes");
        assert_eq!(
            t("localHostOrDomainIs('www', 'www.evil.test') && !localHostOrDomainIs('w', 'www.evil.test')"),
            "yes"
        );
        assert_eq!(t("dnsDomainLevels(host) === 2"), "yes");
        assert_eq!(t("shExpMatch(url, '*/a/*') && shExpMatch(host, '*.evil.????') && !shExpMatch(url, '*.x')"), "yes");
        assert_eq!(t("isInNet('198.18.5.7', '198.18.0.0', '255.254.0.0') && !isInNet('10.0.0.1', '198.18.0.0', '255.254.0.0')"), "yes");
        assert_eq!(t("convert_addr('1.2.3.4') === 16909060"), "yes");
        assert_eq!(t("dnsResolve('localhost') === '127.0.0.1' && isResolvable('localhost')"), "yes");
        assert_eq!(t("isInNet('localhost', '127.0.0.0', '255.0.0.0')"), "yes");
        assert_eq!(t("typeof myIpAddress() === 'string' && myIpAddress().split('.').length === 4"), "yes");
        assert_eq!(t("weekdayRange('SUN', 'SAT') && timeRange(0, 23) && dateRange('JAN', 'DEC')"), "yes");
        assert_eq!(
            t("dateRange(1, 31) && timeRange(0, 0, 0, 23, 59, 59, 'GMT') && weekdayRange('MON', 'SUN', 'GMT')"),
            "yes"
        );
        assert_eq!(t("dateRange(1900, 1901) || weekdayRange('XYZ')"), "no");
    }

    #[test]
    fn https_urls_reach_the_script_without_their_path() {
        assert_eq!(
            answer("return url + ' ' + host;", "https://Feeds.Test:8443/secret?k=1"),
            "https://Feeds.Test:8443/ feeds.test"
        );
        assert_eq!(answer("return url;", "http://feeds.test/a?b"), "http://feeds.test/a?b");
    }

    #[test]
    fn answers_become_routes_and_socks_alone_is_refused() {
        let r = parse_answer("PROXY p.test:3128; HTTPS s.test:443;DIRECT").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], Route::Proxy(ProxyServer { url: "http://p.test:3128".into() }));
        assert_eq!(r[2], Route::Direct);
        assert_eq!(parse_answer("SOCKS s:1080; PROXY p:8080").unwrap().len(), 1);
        assert!(parse_answer("SOCKS5 s:1080").unwrap_err().contains("SOCKS"));
        assert!(parse_answer("").is_err());
        assert!(parse_answer("PROXY").is_err());
        assert!(parse_answer("FOO bar:1").unwrap_err().contains("entry 1"));
    }

    #[test]
    fn bad_scripts_are_errors_with_their_position_and_cannot_hang() {
        let e =
            Pac::new("x.pac", "function FindProxyForURL(url, host) {\n  return 'DIRECT'\n  ) }".into()).unwrap_err();
        assert!(e.contains("proxy.pac:3"), "{e}");
        let e = Pac::new("x.pac", "var x = 1;".into()).unwrap_err();
        assert!(e.contains("FindProxyForURL"), "{e}");
        let e = pac("while (true) {}").find("http://a.test/").unwrap_err();
        assert!(e.contains("longer than"), "{e}");
        let e =
            pac("var a = []; while (true) a.push(new Array(100000).join('x'));").find("http://a.test/").unwrap_err();
        assert!(!e.is_empty());
        let e = pac("return 42;").find("http://a.test/").unwrap_err();
        assert!(e.contains("not a string"), "{e}");
        let e = pac("throw new Error('boom');").find("http://a.test/").unwrap_err();
        assert!(e.contains("boom") && e.contains("proxy.pac:1"), "{e}");
    }
}
