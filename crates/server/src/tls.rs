//! TLS between devices and the server: the server's certificate (PEM files
//! named in the config, else one generated on first use and kept in the
//! data directory), its fingerprint, and the device's pin. A device trusts
//! exactly the certificate whose SHA-256 fingerprint its config names (the
//! admin hands it out with the token at enrollment), so no CA is involved
//! and a self-signed certificate is as good as any.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const CERT_FILE: &str = "server-cert.pem";
pub const KEY_FILE: &str = "server-key.pem";

/// The server's certificate chain and key.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// `sha256:<hex>` of the leaf certificate.
    pub fingerprint: String,
    /// Where it was read from (or written to).
    pub cert_path: PathBuf,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// PEM files named in the config.
    Files { cert: PathBuf, key: PathBuf },
    /// `<data dir>/server-cert.pem` and `server-key.pem`, generated on
    /// first use (self-signed, for `localhost` and the given names).
    Generated { data_dir: PathBuf, names: Vec<String> },
    /// Like `Generated`, at these paths (the portal keeps its own pair,
    /// `portal-cert.pem` and `portal-key.pem`, beside the server's).
    GeneratedAt { cert: PathBuf, key: PathBuf, names: Vec<String> },
}

/// `sha256:` and the lower-case hex SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl ServerCert {
    pub fn load(source: &CertSource) -> Result<ServerCert, String> {
        let (cert, key) = match source {
            CertSource::Files { cert, key } => (cert.clone(), key.clone()),
            CertSource::Generated { data_dir, names } => {
                let (cert, key) = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
                if !cert.exists() {
                    generate(&cert, &key, names)?;
                }
                (cert, key)
            }
            CertSource::GeneratedAt { cert, key, names } => {
                if !cert.exists() {
                    generate(cert, key, names)?;
                }
                (cert.clone(), key.clone())
            }
        };
        let chain = CertificateDer::pem_file_iter(&cert)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("certificate {}: {e}", cert.display()))?;
        let leaf = chain.first().ok_or_else(|| format!("certificate {}: no certificate in it", cert.display()))?;
        let fingerprint = fingerprint(leaf);
        let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("key {}: {e}", key.display()))?;
        Ok(ServerCert { chain, key, fingerprint, cert_path: cert })
    }

    /// The acceptor: TLS 1.2/1.3, ALPN h2 then http/1.1.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| format!("certificate {}: {e}", self.cert_path.display()))?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
    }
}

fn generate(cert: &Path, key: &Path, names: &[String]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    sans.extend(names.iter().cloned());
    let ck = rcgen::generate_simple_self_signed(sans).map_err(|e| format!("cannot generate a certificate: {e}"))?;
    // The key first, owner-only, so a certificate never exists without it.
    netward_policy_store::write_atomic(key, |w| w.write_all(ck.key_pair.serialize_pem().as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", key.display()))?;
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", key.display()))?;
    netward_policy_store::write_atomic(cert, |w| w.write_all(ck.cert.pem().as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", cert.display()))
}

/// The device's TLS: trusts only the certificate with this fingerprint.
pub fn client_config(pin: &str) -> Result<rustls::ClientConfig, String> {
    let want = pin.trim().to_ascii_lowercase();
    if !want.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(format!(
            "fingerprint `{pin}`: expected sha256: and 64 hex digits (netward server fingerprint prints it)"
        ));
    }
    let p = provider();
    // ALPN (h2) is the connector's to set.
    let cfg = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pin { want, provider: p }))
        .with_no_client_auth();
    Ok(cfg)
}

/// Certificate pinning: the leaf's fingerprint must be the pinned one; the
/// handshake signature is still checked, so only the key's holder passes.
#[derive(Debug)]
struct Pin {
    want: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pin {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        if got == self.want {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate {got} is not the pinned {} ([server] fingerprint)",
                self.want
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
