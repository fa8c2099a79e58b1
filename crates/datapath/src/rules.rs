//! netward's own netfilter chains. Installed per address family with one
//! `iptables-restore --noflush` transaction (so the namespace never sees a
//! half-installed set), replaced whole when a killed run left them behind,
//! and removed on exit. Other software's rules and chains are never touched:
//! only the `NETWARD-*` chains and the jumps to them from the built-in chains.
//!
//! mangle (every packet of a flow that still needs a decision is queued):
//!
//! ```text
//! OUTPUT  -> NETWARD-OUT: a connection's first SYN (no payload) skipped;
//!            loopback skipped except DNS, then NETWARD-Q
//! INPUT   -> NETWARD-IN:  loopback skipped (seen once, in OUTPUT), then NETWARD-Q
//! FORWARD -> NETWARD-FWD: NETWARD-Q (containers, VMs, routed namespaces)
//! NETWARD-Q: restore the connection's mark; PASS or BLOCK -> return;
//!            ICMP destination unreachable about a tracked connection -> NFQUEUE;
//!            a reply packet past the first N (connbytes) -> return;
//!            INSPECT, a bare TCP ACK (no payload) -> return;
//!            a TCP handshake's SYN-ACK and its last ACK (no payload) -> return;
//!            INSPECT and original direction -> NFQUEUE;
//!            the first N packets (connbytes) -> NFQUEUE
//! ```
//!
//! filter (acting on the mark the agent gave):
//!
//! ```text
//! OUTPUT, INPUT, FORWARD -> NETWARD-ACT: save a non-zero mark into the
//!            connection; BLOCK + TCP -> REJECT --reject-with tcp-reset; BLOCK -> DROP
//! ```
//!
//! Fail mode: `open` queues with `--queue-bypass` (no agent listening: the
//! packet is accepted); `closed` without it (no agent: the packet is dropped,
//! so new connections wait and fail). What a *full* queue does is the queue's
//! fail-open flag ([`crate::PacketQueue`]).

use crate::{MARK_BLOCK, MARK_INSPECT, MARK_MASK, MARK_PASS};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn restore(self) -> &'static str {
        match self {
            Family::V4 => "iptables-restore",
            Family::V6 => "ip6tables-restore",
        }
    }
    fn save(self) -> &'static str {
        match self {
            Family::V4 => "iptables-save",
            Family::V6 => "ip6tables-save",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// What traffic does when the agent cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    Open,
    Closed,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }
}

impl std::str::FromStr for FailMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(FailMode::Open),
            "closed" => Ok(FailMode::Closed),
            other => Err(format!("fail mode `{other}`: expected open or closed")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub queue: u16,
    pub fail_mode: FailMode,
    /// Packets of a flow (both directions) queued while the agent has not
    /// marked it.
    pub inspect_packets: u32,
}

impl Default for RuleSpec {
    fn default() -> Self {
        RuleSpec { queue: 7878, fail_mode: FailMode::Open, inspect_packets: 40 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot run {program}: {source} (install the Debian package iptables)")]
    Spawn { program: &'static str, source: std::io::Error },
    #[error("{program} refused netward's {family} rules: {stderr}")]
    Refused { program: &'static str, family: &'static str, stderr: String },
}

/// The built-in chains netward jumps from, per table.
const HOOKS: [(&str, &str, &str); 6] = [
    ("mangle", "OUTPUT", "NETWARD-OUT"),
    ("mangle", "INPUT", "NETWARD-IN"),
    ("mangle", "FORWARD", "NETWARD-FWD"),
    ("filter", "OUTPUT", "NETWARD-ACT"),
    ("filter", "INPUT", "NETWARD-ACT"),
    ("filter", "FORWARD", "NETWARD-ACT"),
];
const OWN_CHAINS: [(&str, &str); 5] = [
    ("mangle", "NETWARD-OUT"),
    ("mangle", "NETWARD-IN"),
    ("mangle", "NETWARD-FWD"),
    ("mangle", "NETWARD-Q"),
    ("filter", "NETWARD-ACT"),
];

fn jump(chain: &str, target: &str) -> String {
    format!("-A {chain} -j {target}")
}

/// How many jumps `saved` (an `iptables-save` text) has from `chain` to `target` in `table`.
fn jumps_in(saved: &str, table: &str, chain: &str, target: &str) -> usize {
    let mut current = "";
    let want = jump(chain, target);
    saved
        .lines()
        .filter(|l| {
            if let Some(t) = l.strip_prefix('*') {
                current = t;
            }
            current == table && l.trim_end() == want
        })
        .count()
}

fn chain_exists(saved: &str, table: &str, chain: &str) -> bool {
    let mut current = "";
    let decl = format!(":{chain} ");
    saved.lines().any(|l| {
        if let Some(t) = l.strip_prefix('*') {
            current = t;
        }
        current == table && l.starts_with(&decl)
    })
}

/// Packets of a TCP connection's handshake never queued: the server's
/// SYN-ACK and the client's ACK that completes it (the connection's third
/// packet), when they carry no payload. The agent's flow table reads the
/// handshake from the client's ACK or first bytes instead
/// (`FlowConfig::synack_unseen`), and counts its packet budget with these
/// two in mind.
pub const HANDSHAKE_UNQUEUED: u32 = 2;

/// The first SYN of a connection this host opens is not queued either
/// (the connection's first packet, without payload: a TCP Fast Open SYN
/// carrying bytes still is). It needs no verdict — verdicts land after the
/// handshake — and each queued packet is a trip through the agent while
/// the program waits. The agent's flow table starts such a flow from its
/// first queued packet instead (`FlowConfig::syn_unseen`): the client's
/// first bytes or FIN, the server's greeting, or the server's RST (or ICMP
/// error) refusing it; a retransmitted SYN (its connection confirmed by
/// then) is queued, so an unanswered attempt is still seen.
pub const SYN_UNQUEUED: u32 = 1;

/// `u32` matches for a TCP segment without payload, one per data offset
/// (5..=15 words): the IP header's length field equals the headers' lengths.
fn no_payload_matches(family: Family) -> Vec<String> {
    (5u32..=15)
        .map(|words| match family {
            // Version 4, IHL 5; total length; the TCP data offset, byte 12 of the TCP header.
            Family::V4 => format!("0>>24=0x45 && 0&0xFFFF={} && 32>>28={words}", 20 + 4 * words),
            // Payload length; next header TCP (no extension headers); the data offset at 40 + 12.
            Family::V6 => format!("4>>16={} && 4>>8&0xFF=6 && 52>>28={words}", 4 * words),
        })
        .collect()
}

impl RuleSpec {
    fn queue_target(&self) -> String {
        let bypass = if self.fail_mode == FailMode::Open { " --queue-bypass" } else { "" };
        format!("NFQUEUE --queue-num {}{bypass}", self.queue)
    }

    /// The `iptables-restore --noflush` input that installs the rules, given
    /// what `iptables-save` shows now (`saved`): declaring a chain flushes it,
    /// stale jumps are deleted and exactly one jump per hook is inserted first.
    pub fn render_install(&self, family: Family, saved: &str) -> String {
        let m = |v: u32| format!("0x{v:x}/0x{MARK_MASK:x}");
        let q = self.queue_target();
        let mut out = String::new();
        for table in ["mangle", "filter"] {
            let _ = writeln!(out, "*{table}");
            for (t, c) in OWN_CHAINS {
                if t == table {
                    let _ = writeln!(out, ":{c} - [0:0]");
                }
            }
            for (t, hook, target) in HOOKS {
                if t != table {
                    continue;
                }
                for _ in 0..jumps_in(saved, table, hook, target) {
                    let _ = writeln!(out, "-D {hook} -j {target}");
                }
                let _ = writeln!(out, "-I {hook} 1 -j {target}");
            }
            if table == "mangle" {
                // SYN_UNQUEUED: this host's first SYN of a connection. Not
                // by connbytes: conntrack does not count a retransmitted SYN
                // (every SYN of an unanswered attempt reads as packet 1), but
                // only the first is seen before its connection is confirmed.
                for rule in &no_payload_matches(family) {
                    let _ = writeln!(
                        out,
                        "-A NETWARD-OUT -p tcp -m tcp --tcp-flags SYN,FIN,RST,ACK SYN -m conntrack --ctstate NEW ! --ctstatus CONFIRMED -m u32 --u32 \"{rule}\" -j RETURN"
                    );
                }
                for p in ["udp", "tcp"] {
                    for port in ["--sport", "--dport"] {
                        let _ = writeln!(out, "-A NETWARD-OUT -o lo -p {p} -m {p} {port} 53 -j NETWARD-Q");
                    }
                }
                let _ = writeln!(out, "-A NETWARD-OUT -o lo -j RETURN");
                let _ = writeln!(out, "-A NETWARD-OUT -j NETWARD-Q");
                let _ = writeln!(out, "-A NETWARD-IN -i lo -j RETURN");
                let _ = writeln!(out, "-A NETWARD-IN -j NETWARD-Q");
                let _ = writeln!(out, "-A NETWARD-FWD -j NETWARD-Q");
                let _ = writeln!(
                    out,
                    "-A NETWARD-Q -j CONNMARK --restore-mark --nfmask 0x{MARK_MASK:x} --ctmask 0x{MARK_MASK:x}"
                );
                let _ = writeln!(out, "-A NETWARD-Q -m mark --mark {} -j RETURN", m(MARK_PASS));
                let _ = writeln!(out, "-A NETWARD-Q -m mark --mark {} -j RETURN", m(MARK_BLOCK));
                // Unreachable errors about a connection being set up: the
                // agent reads them as its refusal (crate::icmp).
                let unreachable = match family {
                    Family::V4 => "-p icmp -m icmp --icmp-type 3",
                    Family::V6 => "-p ipv6-icmp -m icmp6 --icmpv6-type 1",
                };
                let _ = writeln!(out, "-A NETWARD-Q {unreachable} -m conntrack --ctstate RELATED -j {q}");
                // Past the budget a reply packet is never queued (only a
                // followed flow's client packets are): in a download that is
                // nearly every packet, so it leaves here, not after the
                // rules below.
                let _ = writeln!(
                    out,
                    "-A NETWARD-Q -m conntrack --ctdir REPLY -m connbytes ! --connbytes 0:{} --connbytes-dir both --connbytes-mode packets -j RETURN",
                    self.inspect_packets
                );
                // A followed flow's bare ACKs carry nothing to inspect, and in a
                // download they are most of the client's packets: queueing
                // them would hold back the ACK clock. Exactly "no payload"
                // (header lengths add up to the packet's length), one rule
                // per TCP header length; IPv4 options or IPv6 extension
                // headers do not match, so such packets are still queued.
                let no_payload = no_payload_matches(family);
                for rule in &no_payload {
                    let _ = writeln!(
                        out,
                        "-A NETWARD-Q -p tcp -m mark --mark {} -m tcp --tcp-flags SYN,FIN,RST,ACK ACK -m u32 --u32 \"{rule}\" -j RETURN",
                        m(MARK_INSPECT)
                    );
                }
                // The handshake carries nothing to inspect either, and each
                // packet queued there is a trip through the agent before the
                // client may send its first bytes ([`HANDSHAKE_UNQUEUED`]):
                // the SYN-ACK, and the third packet when it is the client's
                // bare ACK (a retransmitted SYN makes it the fourth: queued).
                for rule in &no_payload {
                    let _ = writeln!(
                        out,
                        "-A NETWARD-Q -p tcp -m tcp --tcp-flags SYN,FIN,RST,ACK SYN,ACK -m conntrack --ctdir REPLY -m u32 --u32 \"{rule}\" -j RETURN"
                    );
                }
                for rule in &no_payload {
                    let _ = writeln!(
                        out,
                        "-A NETWARD-Q -p tcp -m tcp --tcp-flags SYN,FIN,RST,ACK ACK -m connbytes --connbytes 3:3 --connbytes-dir both --connbytes-mode packets -m conntrack --ctdir ORIGINAL -m u32 --u32 \"{rule}\" -j RETURN"
                    );
                }
                for p in ["tcp", "udp"] {
                    let _ = writeln!(
                        out,
                        "-A NETWARD-Q -p {p} -m mark --mark {} -m conntrack --ctdir ORIGINAL -j {q}",
                        m(MARK_INSPECT)
                    );
                    let _ = writeln!(
                        out,
                        "-A NETWARD-Q -p {p} -m connbytes --connbytes 0:{} --connbytes-dir both --connbytes-mode packets -j {q}",
                        self.inspect_packets
                    );
                }
            } else {
                let _ = writeln!(
                    out,
                    "-A NETWARD-ACT -m mark ! --mark 0x0/0x{MARK_MASK:x} -j CONNMARK --save-mark --nfmask 0x{MARK_MASK:x} --ctmask 0x{MARK_MASK:x}"
                );
                // The reset REJECT sends belongs to the blocked connection too:
                // it must pass, or the program waits for a timeout.
                let _ = writeln!(out, "-A NETWARD-ACT -p tcp --tcp-flags RST RST -j RETURN");
                let _ = writeln!(
                    out,
                    "-A NETWARD-ACT -p tcp -m mark --mark {} -j REJECT --reject-with tcp-reset",
                    m(MARK_BLOCK)
                );
                let _ = writeln!(out, "-A NETWARD-ACT -m mark --mark {} -j DROP", m(MARK_BLOCK));
            }
            let _ = writeln!(out, "COMMIT");
        }
        out
    }

    /// The `iptables-restore --noflush` input that removes every jump to a
    /// netward chain and the chains themselves (nothing when none is there).
    pub fn render_remove(saved: &str) -> String {
        let mut out = String::new();
        for table in ["mangle", "filter"] {
            let mut body = String::new();
            for (t, hook, target) in HOOKS {
                if t == table {
                    for _ in 0..jumps_in(saved, table, hook, target) {
                        let _ = writeln!(body, "-D {hook} -j {target}");
                    }
                }
            }
            for (t, c) in OWN_CHAINS {
                if t == table && chain_exists(saved, table, c) {
                    let _ = writeln!(body, "-F {c}");
                }
            }
            for (t, c) in OWN_CHAINS {
                if t == table && chain_exists(saved, table, c) {
                    let _ = writeln!(body, "-X {c}");
                }
            }
            if !body.is_empty() {
                let _ = write!(out, "*{table}\n{body}COMMIT\n");
            }
        }
        out
    }
}

fn run(program: &'static str, args: &[&str], input: Option<&str>, family: Family) -> Result<String, RuleError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RuleError::Spawn { program, source })?;
    if let Some(mut stdin) = child.stdin.take() {
        if let Some(text) = input {
            // A write error shows up as the program's own failure below.
            let _ = stdin.write_all(text.as_bytes());
        }
    }
    let out = child.wait_with_output().map_err(|source| RuleError::Spawn { program, source })?;
    if !out.status.success() {
        return Err(RuleError::Refused {
            program,
            family: family.name(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn saved(family: Family) -> Result<String, RuleError> {
    let mut s = run(family.save(), &["-t", "mangle"], None, family)?;
    s.push_str(&run(family.save(), &["-t", "filter"], None, family)?);
    Ok(s)
}

/// Did a previous run leave netward chains in this namespace?
pub fn installed(family: Family) -> Result<bool, RuleError> {
    let s = saved(family)?;
    Ok(OWN_CHAINS.iter().any(|(t, c)| chain_exists(&s, t, c)))
}

/// Installs (or replaces) the rules of one family in one transaction.
pub fn install(spec: &RuleSpec, family: Family) -> Result<(), RuleError> {
    let text = spec.render_install(family, &saved(family)?);
    run(family.restore(), &["--noflush"], Some(&text), family).map(|_| ())
}

/// Removes the rules of one family (a no-op when none are installed).
pub fn remove(family: Family) -> Result<(), RuleError> {
    let text = RuleSpec::render_remove(&saved(family)?);
    if text.is_empty() {
        return Ok(());
    }
    run(family.restore(), &["--noflush"], Some(&text), family).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: &str = "*mangle\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:NETWARD-OUT - [0:0]\n-A OUTPUT -j NETWARD-OUT\n-A OUTPUT -j NETWARD-OUT\n-A OUTPUT -j OTHER\nCOMMIT\n*filter\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

    #[test]
    fn a_followed_flows_bare_acks_return_before_it_is_queued() {
        for (family, first) in
            [(Family::V4, "0>>24=0x45 && 0&0xFFFF=40 && 32>>28=5"), (Family::V6, "4>>16=20 && 4>>8&0xFF=6 && 52>>28=5")]
        {
            let text = RuleSpec::default().render_install(family, "");
            let lines: Vec<&str> = text.lines().collect();
            let skips: Vec<usize> =
                (0..lines.len()).filter(|&i| lines[i].contains("-m u32") && lines[i].contains("--mark")).collect();
            assert_eq!(skips.len(), 11, "one per TCP header length: {text}");
            assert!(lines[skips[0]].contains(first), "{}", lines[skips[0]]);
            assert!(lines[skips[10]].contains("=15\""), "{}", lines[skips[10]]);
            assert!(skips
                .iter()
                .all(|&i| lines[i].contains("--mark 0x40000/0x70000") && lines[i].ends_with("-j RETURN")));
            let inspect_queue =
                lines.iter().position(|l| l.contains("--ctdir ORIGINAL") && l.contains("-p tcp")).unwrap();
            assert!(skips.iter().all(|&i| i < inspect_queue), "{text}");
        }
    }

    /// The handshake's SYN-ACK and the client's bare third packet return
    /// before any rule that queues, whatever the flow's mark.
    #[test]
    fn a_handshake_is_not_queued() {
        let text = RuleSpec::default().render_install(Family::V4, "");
        let lines: Vec<&str> = text.lines().collect();
        let synack: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains("SYN,FIN,RST,ACK SYN,ACK -m conntrack --ctdir REPLY"))
            .collect();
        let third: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains("--connbytes 3:3")).collect();
        assert_eq!((synack.len(), third.len()), (11, 11), "one per TCP header length: {text}");
        assert!(third.iter().all(|&i| lines[i].contains("--ctdir ORIGINAL") && lines[i].contains("-m u32")));
        let first_queue =
            lines.iter().position(|l| l.starts_with("-A NETWARD-Q -p tcp") && l.contains("NFQUEUE")).unwrap();
        assert!(synack.iter().chain(&third).all(|&i| i < first_queue && lines[i].ends_with("-j RETURN")), "{text}");
        assert_eq!(HANDSHAKE_UNQUEUED, 2, "the two packets these rules keep from the agent");
        let past_budget =
            lines.iter().position(|l| l.contains("--ctdir REPLY -m connbytes ! --connbytes 0:40")).unwrap();
        assert!(past_budget < first_queue && lines[past_budget].ends_with("-j RETURN"), "{text}");
    }

    /// This host's first SYN of a connection leaves before anything queues
    /// it, and only from OUTPUT: an inbound or forwarded SYN is still queued.
    #[test]
    fn an_own_connections_first_syn_is_not_queued() {
        for family in [Family::V4, Family::V6] {
            let text = RuleSpec::default().render_install(family, "");
            let lines: Vec<&str> = text.lines().collect();
            let syn: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains("SYN,FIN,RST,ACK SYN -m")).collect();
            assert_eq!(syn.len(), 11, "one per TCP header length (no payload): {text}");
            assert!(syn.iter().all(|&i| lines[i].starts_with("-A NETWARD-OUT -p tcp")
                && lines[i].contains("--ctstate NEW ! --ctstatus CONFIRMED ")
                && lines[i].contains("-m u32")
                && lines[i].ends_with("-j RETURN")));
            let to_queue = lines.iter().position(|l| *l == "-A NETWARD-OUT -j NETWARD-Q").unwrap();
            let dns = lines.iter().position(|l| l.starts_with("-A NETWARD-OUT -o lo -p udp")).unwrap();
            assert!(syn.iter().all(|&i| i < dns && i < to_queue), "{text}");
        }
        assert_eq!(SYN_UNQUEUED, 1);
    }

    #[test]
    fn stale_jumps_are_deleted_once_each_and_one_inserted() {
        let text = RuleSpec::default().render_install(Family::V4, STALE);
        assert_eq!(text.matches("-D OUTPUT -j NETWARD-OUT").count(), 2, "{text}");
        assert_eq!(text.matches("-I OUTPUT 1 -j NETWARD-OUT").count(), 1);
        assert!(!text.contains("OTHER"), "other software's rules are left alone");
        assert!(text.contains("--queue-bypass"), "fail open bypasses a queue without listener");
        let closed = RuleSpec { fail_mode: FailMode::Closed, ..Default::default() }.render_install(Family::V6, "");
        assert!(!closed.contains("--queue-bypass"));
        assert!(text.contains("-p icmp -m icmp --icmp-type 3") && closed.contains("--icmpv6-type 1"), "{closed}");
        assert!(!closed.contains("-D "), "nothing stale to delete");
    }

    #[test]
    fn removal_touches_only_what_exists() {
        let text = RuleSpec::render_remove(STALE);
        assert_eq!(
            text,
            "*mangle\n-D OUTPUT -j NETWARD-OUT\n-D OUTPUT -j NETWARD-OUT\n-F NETWARD-OUT\n-X NETWARD-OUT\nCOMMIT\n"
        );
        assert_eq!(RuleSpec::render_remove("*mangle\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"), "");
    }
}
