//! netward's own outbound connections: which proxy a URL goes through and
//! the HTTP client that goes there. One place decides, so no connection of
//! netward's reaches the network past the organisation's proxy by accident:
//!
//! - `network.proxy_server` set: every request goes to that proxy (plain
//!   `http://` requests in absolute form, `https://` through CONNECT), and a
//!   proxy that cannot be reached is an error, never a reason to go direct.
//! - `network.proxy_pac_url` set: the PAC file's `FindProxyForURL` chooses
//!   (see `pac`); DIRECT only where its answer says so. A PAC file that
//!   cannot be fetched or run is an error, not DIRECT.
//! - Neither: direct. The environment (`HTTP_PROXY`, `NO_PROXY`, ...) is
//!   never read: a service's environment is not the organisation's policy,
//!   and a stray `NO_PROXY` must not open a hole.

use std::path::PathBuf;
use std::time::Duration;

/// A proxy server as the settings give it: `http://HOST:PORT` (also
/// `https://`, `socks5://`), or `HOST:PORT` meaning `http://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyServer {
    /// The URL with its scheme, as handed to the HTTP client.
    pub url: String,
}

impl ProxyServer {
    /// Parses and checks a proxy setting; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<ProxyServer, String> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("http".to_string(), text),
        };
        if !matches!(scheme.as_str(), "http" | "https" | "socks5" | "socks5h") {
            return Err(format!("proxy scheme {scheme:?} (expected http, https, socks5 or socks5h)"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(format!("{text:?}: a proxy is HOST:PORT, without a path"));
        }
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = hostport
            .rsplit_once(':')
            .filter(|(h, _)| !h.is_empty() && (!h.contains(':') || h.starts_with('[')))
            .ok_or_else(|| format!("{text:?}: expected HOST:PORT, e.g. http://proxy.example:3128"))?;
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(format!("{text:?}: bad port {port:?}")),
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{text:?}: a space in the host"));
        }
        Ok(ProxyServer { url: format!("{scheme}://{authority}") })
    }
}

/// Where one request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Direct,
    Proxy(ProxyServer),
}

impl Route {
    pub fn describe(&self) -> String {
        match self {
            Route::Direct => "direct".into(),
            Route::Proxy(p) => format!("proxy {}", p.url),
        }
    }
}

/// How netward's own connections choose their route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxyPolicy {
    /// No proxy configured.
    #[default]
    Direct,
    /// `network.proxy_server`.
    Server(ProxyServer),
    /// `network.proxy_pac_url`, loaded: its `FindProxyForURL` chooses.
    Pac(crate::pac::Pac),
}

impl ProxyPolicy {
    /// The routes to try for `url`, in order; the next only when the one
    /// before could not be reached.
    pub fn routes(&self, url: &str) -> Result<Vec<Route>, String> {
        Ok(match self {
            ProxyPolicy::Direct => vec![Route::Direct],
            ProxyPolicy::Server(p) => vec![Route::Proxy(p.clone())],
            ProxyPolicy::Pac(pac) => pac.routes(url)?,
        })
    }
}

/// What netward's outbound HTTP is allowed to do.
#[derive(Debug, Clone)]
pub struct NetConfig {
    pub proxy: ProxyPolicy,
    /// The whole request, connect to last body byte.
    pub timeout: Duration,
    /// The most bytes of one response body.
    pub max_bytes: u64,
    /// Extra trusted roots (PEM), on top of the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig { proxy: ProxyPolicy::Direct, timeout: Duration::from_secs(120), max_bytes: 256 << 20, ca_file: None }
    }
}

/// The connect phase alone is bounded tighter than the whole request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_REDIRECTS: usize = 5;

/// A blocking client that goes exactly where `route` says.
pub fn client(cfg: &NetConfig, route: &Route) -> Result<reqwest::blocking::Client, String> {
    let mut b = reqwest::blocking::Client::builder()
        // Never the environment's proxies (module docs).
        .no_proxy()
        .timeout(cfg.timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(cfg.timeout))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("netward/", env!("CARGO_PKG_VERSION")));
    if let Route::Proxy(p) = route {
        let proxy = reqwest::Proxy::all(&p.url).map_err(|e| format!("proxy {}: {e}", p.url))?;
        b = b.proxy(proxy);
    }
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("network.ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("network.ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("network.ca_file {}: no certificate in it", path.display()));
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_forms() {
        assert_eq!(ProxyServer::parse("http://198.19.1.1:3128").unwrap().url, "http://198.19.1.1:3128");
        assert_eq!(ProxyServer::parse("proxy.test:8080/").unwrap().url, "http://proxy.test:8080");
        assert_eq!(ProxyServer::parse("HTTP://u:p@proxy.test:8080").unwrap().url, "http://u:p@proxy.test:8080");
        assert!(ProxyServer::parse("[::1]:3128").is_ok());
        for bad in ["proxy.test", "ftp://p:21", "http://p:0", "http://p:99999", "http://p:3128/x", ":3128", "::1"] {
            assert!(ProxyServer::parse(bad).is_err(), "{bad}");
        }
    }
}
