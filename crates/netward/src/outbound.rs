//! The settings of netward's own outbound connections, read into the one
//! [`NetConfig`] every connection netward makes is built from
//! (`netward_feeds::net` owns the route and the client): `network.proxy_server`
//! or `network.proxy_pac_url`, `network.ca_file`, and the feed download limits.

use crate::error::{CliError, CliResult};
use crate::settings::{Settings, PROXY_PAC_URL, PROXY_SERVER};
use netward_feeds::{NetConfig, ProxyPolicy, ProxyServer};
use std::time::Duration;

/// The settings as a [`NetConfig`]; with `network.proxy_pac_url` the PAC
/// file is fetched and compiled now (its failure is the caller's error,
/// never a quiet DIRECT).
pub fn net_config(s: &Settings) -> CliResult<NetConfig> {
    let ca = s.get("network.ca_file");
    let mut cfg = NetConfig {
        proxy: ProxyPolicy::Direct,
        timeout: Duration::from_secs(s.get_u64("feeds.timeout_seconds").max(1)),
        max_bytes: s.get_u64("feeds.max_download_mb").max(1).saturating_mul(1 << 20),
        ca_file: (!ca.is_empty()).then(|| ca.into()),
    };
    cfg.proxy = match (s.get(PROXY_SERVER), s.get(PROXY_PAC_URL)) {
        ("", "") => ProxyPolicy::Direct,
        (p, "") => ProxyPolicy::Server(
            ProxyServer::parse(p).map_err(|e| CliError::bad_input(format!("setting {PROXY_SERVER}: {e}")))?,
        ),
        ("", pac) => ProxyPolicy::Pac(netward_feeds::pac::load(pac, &cfg).map_err(CliError::failure)?),
        _ => {
            return Err(CliError::bad_input(format!("both {PROXY_SERVER} and {PROXY_PAC_URL} are set"))
                .with_hint("set one of them: the proxy, or the PAC file that chooses it"))
        }
    };
    Ok(cfg)
}
