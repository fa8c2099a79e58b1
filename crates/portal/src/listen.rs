//! The portal's listener: plain HTTP on loopback, HTTPS (HTTP/1.1 and h2)
//! anywhere, with a bounded number of connections and a handshake timeout.
//! A non-loopback address without TLS is refused: passwords and session
//! cookies never cross a network in clear text.

use axum::extract::ConnectInfo;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// HTTPS: the acceptor (certificate and key) and the certificate's
/// fingerprint, printed so a user can check what the browser shows.
#[derive(Clone)]
pub struct PortalTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// `sha256:<hex>` of the leaf certificate.
    pub fingerprint: String,
}

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 512;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `listen` may be served with (or without) TLS.
pub fn check_transport(listen: SocketAddr, tls: bool) -> Result<(), String> {
    if tls || listen.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "--listen {listen}: a non-loopback address is served over HTTPS only (a certificate from [portal] tls_cert/tls_key, or a generated one)"
    ))
}

/// A bound portal, not serving yet: its address is known (`--listen
/// 127.0.0.1:0`, the agent's health).
pub struct Bound {
    pub(crate) listener: TcpListener,
    pub(crate) router: Router,
    pub(crate) tls: Option<PortalTls>,
    pub addr: SocketAddr,
}

impl Bound {
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// The line `netward portal` prints first (tests read it too).
    pub fn banner(&self) -> String {
        match &self.tls {
            Some(t) => format!("netward portal listening on {} certificate {}", self.url(), t.fingerprint),
            None => format!("netward portal listening on {}", self.url()),
        }
    }

    /// Serves until the process ends.
    pub async fn run(self) -> Result<(), String> {
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = connections.clone().acquire_owned().await.map_err(|e| e.to_string())?;
            let (tcp, peer) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    eprintln!("netward portal: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // The login limiter counts per client address.
            let svc = hyper_util::service::TowerToHyperService::new(
                self.router.clone().layer(axum::Extension(ConnectInfo(peer))),
            );
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                // A connection's end or error concerns that client only.
                let _ = match tls {
                    Some(t) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, t.acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => http.serve_connection(hyper_util::rt::TokioIo::new(s), svc).await,
                        // A refused certificate, a scanner, plain HTTP to the TLS port.
                        _ => return,
                    },
                    None => http.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc).await,
                };
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_only_on_loopback() {
        let lo: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        let lo6: SocketAddr = "[::1]:7878".parse().unwrap();
        let lan: SocketAddr = "198.18.0.1:7878".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:7878".parse().unwrap();
        assert!(check_transport(lo, false).is_ok() && check_transport(lo6, false).is_ok());
        assert!(check_transport(lan, false).unwrap_err().contains("HTTPS only"));
        assert!(check_transport(any, false).is_err());
        assert!(check_transport(lan, true).is_ok() && check_transport(lo, true).is_ok());
    }
}
