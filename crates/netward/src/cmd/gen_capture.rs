//! `netward gen-capture`: writes a synthetic capture with a stated mix of
//! flows (direct TLS, CONNECT, proxy GET, SOCKS5, DNS, QUIC, bulk), for
//! benchmarks and for trying `netward replay` without traffic of one's own.

use crate::cli::GenCaptureArgs;
use crate::error::{CliError, CliResult, Context};
use netward_capture::{generate, GenSpec};

pub fn run(a: &GenCaptureArgs) -> CliResult<()> {
    if a.flows == 0 {
        return Err(CliError::bad_input("--flows must be at least 1"));
    }
    let spec = GenSpec { flows: a.flows, bulk_bytes: a.bulk_bytes, seed: a.seed, ..GenSpec::default() };
    let file = std::fs::File::create(&a.out).context(|| format!("cannot create {}", a.out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let summary = generate(&mut w, &spec).context(|| format!("cannot write {}", a.out.display()))?;
    std::io::Write::flush(&mut w).context(|| format!("cannot write {}", a.out.display()))?;
    let m = spec.mix;
    eprintln!(
        "wrote {}: {} flows, {} packets, {} bytes (mix by weight: direct TLS {}, CONNECT {}, proxy GET {}, SOCKS5 {}, DNS {}, QUIC {}, bulk {} of {} bytes)",
        a.out.display(),
        summary.flows.len(),
        summary.packets,
        summary.file_bytes,
        m.direct_tls,
        m.http_connect,
        m.proxy_get,
        m.socks5,
        m.dns,
        m.quic,
        m.bulk,
        spec.bulk_bytes
    );
    Ok(())
}
