//! Attribution against real processes: BPF programs attached to a cgroup of
//! the test's own, connections inside a network namespace of the test's own
//! (loopback there), programs that connect and exit before the lookup.
mod common;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::{digest, spawn, Listener, Netns, TempDir, TestCgroup, PYTHON};
use netward_attribution::{Attributor, Config, Hook, Mode, ProcessInfo, Proto, Source};

// Dropped in this order: processes, then the programs detach, then the
// cgroup and the namespace go.
struct Rig {
    listener: Listener,
    attr: Attributor,
    cg: TestCgroup,
    ns: Netns,
}

fn rig(tag: &str, bpf: bool) -> Option<Rig> {
    if !common::ready() {
        return None;
    }
    let ns = Netns::new(tag);
    let cg = TestCgroup::new(tag);
    let mut cfg = Config::new(cg.path.clone());
    cfg.bpf = bpf;
    let attr = ns.enter(move || Attributor::open(cfg).unwrap());
    if bpf {
        assert_eq!(attr.mode(), Mode::Bpf, "BPF did not load: {:?}", attr.bpf_error());
    }
    let listener = Listener::start(&ns);
    Some(Rig { ns, cg, attr, listener })
}

fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

fn real(path: &str) -> PathBuf {
    fs::canonicalize(path).unwrap()
}

fn assert_image(info: &ProcessInfo, exe: &Path, hashed: &Path) {
    assert_eq!(info.file_name, exe.file_name().unwrap().to_str().unwrap(), "{info:?}");
    assert_eq!(info.folder_path.as_deref(), exe.parent(), "{info:?}");
    let hashes = info.hashes.as_ref().expect("hashes");
    assert_eq!(hashes.sha256, digest("sha256sum", hashed));
    assert_eq!(hashes.sha1, digest("sha1sum", hashed));
    assert_eq!(hashes.md5, digest("md5sum", hashed));
}

/// A shell's /dev/tcp connects and the shell exits at once; the lookup comes
/// after it is gone and names it from the kernel's record.
#[test]
fn short_lived_shell_is_named_after_it_exited() {
    let Some(mut r) = rig("bash", true) else { return };
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{}", r.listener.addr.port());
    let mut client = spawn(&r.ns, Some(&r.cg), &["bash", "-c", &script]);
    let pid = client.pid();
    client.wait_success();
    let peer = r.listener.next_peer();
    assert!(gone(pid), "the shell has exited before the lookup");

    let started = Instant::now();
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    let first = started.elapsed();
    eprintln!("{:?}", r.attr.stats());
    assert_eq!(info.source, Source::Bpf);
    assert_eq!(info.pid, pid);
    assert_image(&info, &real("/bin/bash"), Path::new("/bin/bash"));
    assert_eq!(info.command_line.as_deref(), Some(format!("bash -c {script}").as_str()));
    assert_eq!(info.uid, Some(0));
    assert_eq!(info.account_name.as_deref(), Some("root"));
    assert_eq!(info.parent_pid, Some(std::process::id()), "the test spawned it");
    let me = fs::read_link("/proc/self/exe").unwrap();
    assert_eq!(info.parent_file_name.as_deref(), me.file_name().and_then(|n| n.to_str()));
    let age = SystemTime::now().duration_since(info.creation_time.expect("creation time")).unwrap();
    assert!(age < Duration::from_secs(60), "created {age:?} ago");
    let sock = r.attr.socket(Proto::Tcp, peer, r.listener.addr).unwrap();
    assert_eq!(sock.inode, 0, "no file holds the socket any more: /proc could not have named it");
    assert_eq!(r.attr.kernel_owner(sock.cookie).unwrap().hook, Hook::Connect4);

    // Cost of a lookup on the connection path (cache warm), for the report.
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        assert!(r.attr.lookup(Proto::Tcp, peer, r.listener.addr).is_some());
    }
    eprintln!("lookup: first {first:?}, then {:?} each over {n}", t.elapsed() / n);
    assert!(r.attr.stats().exec_events.load(std::sync::atomic::Ordering::Relaxed) >= 2);

    // The exec events, for DeviceProcessEvents: `ip netns exec` then bash,
    // same pid (each exec'd the next).
    let created: Vec<_> = r.attr.take_process_events().into_iter().filter(|e| e.info.pid == pid).collect();
    let names: Vec<&str> = created.iter().map(|e| e.info.file_name.as_str()).collect();
    assert_eq!(names, ["ip", "bash"]);
    assert_eq!(created[1].info.command_line, info.command_line);
    assert_eq!(created[1].info.hashes, info.hashes);
    assert!(created[0].exec_time <= created[1].exec_time);
    assert!(r.attr.take_process_events().is_empty(), "taken once");
}

/// A one-line python socket, started by a shell (its parent), gone before
/// the lookup.
#[test]
fn short_lived_python_with_its_parent() {
    let Some(mut r) = rig("py", true) else { return };
    let code = format!("import socket; socket.create_connection(('127.0.0.1', {}))", r.listener.addr.port());
    // `; exit 0` keeps bash from exec'ing python: bash stays the parent.
    let script = format!("{PYTHON} -c \"{code}\"; exit 0");
    let mut shell = spawn(&r.ns, Some(&r.cg), &["bash", "-c", &script]);
    shell.wait_success();
    let peer = r.listener.next_peer();
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    assert!(gone(info.pid), "python has exited");
    assert_ne!(info.pid, shell.pid());
    assert_eq!(info.source, Source::Bpf);
    assert_image(&info, &real(PYTHON), Path::new(PYTHON));
    assert_eq!(info.command_line.as_deref(), Some(format!("{PYTHON} -c {code}").as_str()));
    assert_eq!(info.parent_pid, Some(shell.pid()));
    assert_eq!(info.parent_file_name.as_deref(), Some("bash"));
}

/// A copy of bash under another name: its own name and folder, bash's hash.
#[test]
fn renamed_copy_keeps_the_hash() {
    let Some(mut r) = rig("copy", true) else { return };
    let dir = TempDir::new("copy");
    let copy = dir.0.join("innocent-tool");
    fs::copy("/bin/bash", &copy).unwrap();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{}", r.listener.addr.port());
    let mut client = spawn(&r.ns, Some(&r.cg), &[copy.to_str().unwrap(), "-c", &script]);
    client.wait_success();
    let peer = r.listener.next_peer();
    // Gone from disk too: the image was read through the descriptor opened
    // at exec time.
    fs::remove_file(&copy).unwrap();
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    assert_eq!(info.pid, client.pid());
    assert_image(&info, &copy, Path::new("/bin/bash"));
    assert_eq!(info.file_name, "innocent-tool");
}

/// Run as nobody: the kernel's uid at connect time and its account name.
#[test]
fn unprivileged_user_is_named() {
    let Some(mut r) = rig("nobody", true) else { return };
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{}", r.listener.addr.port());
    let argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-c", &script];
    let mut client = spawn(&r.ns, Some(&r.cg), &argv);
    client.wait_success();
    let peer = r.listener.next_peer();
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    assert_eq!(info.pid, client.pid());
    assert_eq!(info.file_name, "bash");
    assert_eq!(info.uid, Some(65534));
    assert_eq!(info.account_name.as_deref(), Some("nobody"));
}

/// A burst of short-lived connectors at once: each connection is its own
/// process's, with the image named and hashed, whether user space read /proc
/// at exec time or only the kernel's exec record was left.
#[test]
fn burst_of_short_lived_processes() {
    let Some(mut r) = rig("burst", true) else { return };
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{}", r.listener.addr.port());
    let mut clients: Vec<_> = (0..16).map(|_| spawn(&r.ns, Some(&r.cg), &["bash", "-c", &script])).collect();
    let mut want: Vec<u32> = clients.iter().map(|c| c.pid()).collect();
    for c in &mut clients {
        c.wait_success();
    }
    let bash = real("/bin/bash");
    let mut got = Vec::new();
    for _ in 0..clients.len() {
        let peer = r.listener.next_peer();
        let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
        assert_eq!(info.source, Source::Bpf);
        assert_image(&info, &bash, Path::new("/bin/bash"));
        assert_eq!(info.command_line.as_deref(), Some(format!("bash -c {script}").as_str()));
        got.push(info.pid);
    }
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    let s = r.attr.stats();
    eprintln!(
        "burst: {} exec events, {} named from the kernel's record alone",
        s.exec_events.load(std::sync::atomic::Ordering::Relaxed),
        s.exec_from_kernel.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// IPv6: connect6 records a shell's /dev/tcp to ::1.
#[test]
fn ipv6_short_lived() {
    if !common::ready() {
        return;
    }
    let ns = Netns::new("v6");
    let cg = TestCgroup::new("v6");
    let cfg = Config::new(cg.path.clone());
    let attr = ns.enter(move || Attributor::open(cfg).unwrap());
    let mut server = Listener::start_on(&ns, None, "::1".parse().unwrap());
    let script = format!("exec 3<>/dev/tcp/::1/{}", server.addr.port());
    let mut client = spawn(&ns, Some(&cg), &["bash", "-c", &script]);
    client.wait_success();
    let peer = server.next_peer();
    assert!(peer.is_ipv6());
    let sock = attr.socket(Proto::Tcp, peer, server.addr).expect("socket");
    assert_eq!(attr.kernel_owner(sock.cookie).map(|o| o.hook), Some(Hook::Connect6));
    let info = attr.lookup(Proto::Tcp, peer, server.addr).expect("attributed");
    assert_eq!((info.source, info.pid), (Source::Bpf, client.pid()));
    assert_image(&info, &real("/bin/bash"), Path::new("/bin/bash"));
}

/// A dual-stack (AF_INET6) socket talking IPv4 through a v4-mapped address:
/// the agent sees a v4 tuple, the socket is an IPv6 one.
#[test]
fn v4_mapped_socket_found_by_its_v4_tuple() {
    let Some(mut r) = rig("mapped", true) else { return };
    let code = format!(
        "import socket; s = socket.socket(socket.AF_INET6); s.connect(('::ffff:127.0.0.1', {})); print('up', flush=True); __import__('time').sleep(60)",
        r.listener.addr.port()
    );
    let mut p = spawn(&r.ns, Some(&r.cg), &[PYTHON, "-c", &code]);
    assert_eq!(p.line(), "up");
    let peer = r.listener.next_peer();
    assert!(peer.is_ipv4());
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    assert_eq!((info.source, info.pid), (Source::Bpf, p.pid()));
    let sock = r.attr.socket(Proto::Tcp, peer, r.listener.addr).unwrap();
    assert_eq!(r.attr.kernel_owner(sock.cookie).map(|o| o.hook), Some(Hook::Connect6));
}

/// A server in the watched cgroup: the accepted connection (never
/// connect()ed, so not in the kernel's records itself) and the listening
/// socket are both named through the bind() of the listener.
#[test]
fn server_named_on_accepted_and_listening_sockets() {
    if !common::ready() {
        return;
    }
    let ns = Netns::new("srv");
    let cg = TestCgroup::new("srv");
    let cfg = Config::new(cg.path.clone());
    let attr = ns.enter(move || Attributor::open(cfg).unwrap());
    let mut server = Listener::start_in(&ns, Some(&cg));
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{}", server.addr.port());
    let mut client = spawn(&ns, None, &["bash", "-c", &script]); // outside the cgroup
    client.wait_success();
    let peer = server.next_peer();

    let accepted = attr.socket(Proto::Tcp, server.addr, peer).expect("accepted socket");
    assert_eq!(attr.kernel_owner(accepted.cookie), None, "accept is no connect");
    let info = attr.lookup(Proto::Tcp, server.addr, peer).expect("attributed");
    assert_eq!((info.source, info.pid), (Source::Bpf, server.proc.pid()));
    assert_image(&info, &real(PYTHON), Path::new(PYTHON));

    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    let listening = attr.socket(Proto::Tcp, server.addr, any).expect("listening socket");
    assert_eq!(listening.state, 10);
    assert_eq!(attr.kernel_owner(listening.cookie).map(|o| o.hook), Some(Hook::Bind4));
    assert_eq!(attr.lookup(Proto::Tcp, server.addr, any).map(|i| i.pid), Some(server.proc.pid()));
    drop(server);

    // Dropping the attributor detaches every program from the cgroup.
    let show = |p: &Path| {
        let out = std::process::Command::new("bpftool").args(["cgroup", "show"]).arg(p).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let before = show(&cg.path);
    for prog in ["connect4", "connect6", "sendmsg4", "sendmsg6", "post_bind4", "post_bind6"] {
        assert!(before.contains(prog), "{prog} attached: {before}");
    }
    drop(attr);
    // bpftool may print its header for a program being freed at that very
    // moment: what counts is that no program line stays.
    let programs = |p: &Path| show(p).lines().filter(|l| !l.trim().is_empty() && !l.starts_with("ID")).count();
    let deadline = Instant::now() + Duration::from_secs(2);
    while programs(&cg.path) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(programs(&cg.path), 0, "nothing left attached: {}", show(&cg.path));
}

const HOLDER: &str = "import socket, sys, time; s = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); print('up', flush=True); time.sleep(60)";

/// A python process connected to the listener and sleeping, holding its socket.
fn holder(r: &Rig, in_cgroup: bool) -> common::Proc {
    let port = r.listener.addr.port().to_string();
    let mut p = spawn(&r.ns, in_cgroup.then_some(&r.cg), &[PYTHON, "-c", HOLDER, &port]);
    assert_eq!(p.line(), "up");
    p
}

/// BPF off by configuration: a long-lived process holding its socket is
/// found through sock_diag and /proc.
#[test]
fn proc_fallback_names_a_long_lived_process() {
    let Some(mut r) = rig("proc", false) else { return };
    assert_eq!(r.attr.mode(), Mode::Proc);
    assert!(r.attr.attached_programs().is_empty());
    let p = holder(&r, true);
    let peer = r.listener.next_peer();
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    assert_eq!(info.source, Source::Proc);
    assert_eq!(info.pid, p.pid());
    assert_image(&info, &real(PYTHON), Path::new(PYTHON));
    assert!(info.command_line.as_deref().is_some_and(|c| c.contains("time.sleep(60)")), "{:?}", info.command_line);
    assert_eq!(info.account_name.as_deref(), Some("root"));
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        assert_eq!(r.attr.lookup(Proto::Tcp, peer, r.listener.addr).map(|i| i.pid), Some(p.pid()));
    }
    eprintln!("proc fallback lookup: {:?} each over {n}", t.elapsed() / n);
    // And a tuple with no socket names nobody.
    let nobody = SocketAddr::from(([127, 0, 0, 1], 9));
    assert_eq!(r.attr.lookup(Proto::Tcp, peer, nobody), None);
}

/// The programs see only the cgroup they are attached to: a process outside
/// the test's cgroup is not in the kernel's records (named through /proc).
#[test]
fn outside_the_attached_cgroup_the_kernel_sees_nothing() {
    let Some(mut r) = rig("outside", true) else { return };
    let p = holder(&r, false);
    let peer = r.listener.next_peer();
    let sock = r.attr.socket(Proto::Tcp, peer, r.listener.addr).expect("socket");
    assert_eq!(r.attr.kernel_owner(sock.cookie), None);
    let info = r.attr.lookup(Proto::Tcp, peer, r.listener.addr).expect("attributed");
    assert_eq!(info.source, Source::Proc);
    assert_eq!(info.pid, p.pid());
}

/// Unconnected UDP: sendmsg4 records the sender.
#[test]
fn udp_sendto_is_recorded() {
    let Some(r) = rig("udp", true) else { return };
    let code = "import socket, time; u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'x', ('127.0.0.1', 9)); print(u.getsockname()[1], flush=True); time.sleep(60)";
    let mut p = spawn(&r.ns, Some(&r.cg), &[PYTHON, "-c", code]);
    let port: u16 = p.line().parse().unwrap();
    let local = SocketAddr::from(([0, 0, 0, 0], port));
    let remote = SocketAddr::from(([127, 0, 0, 1], 9));
    let sock = r.attr.socket(Proto::Udp, local, remote).expect("udp socket");
    assert_eq!(r.attr.kernel_owner(sock.cookie).map(|o| o.hook), Some(Hook::Sendmsg4));
    let info = r.attr.lookup(Proto::Udp, local, remote).expect("attributed");
    assert_eq!((info.source, info.pid), (Source::Bpf, p.pid()));
    assert_image(&info, &real(PYTHON), Path::new(PYTHON));
}

/// The programs cannot attach (here: the configured cgroup does not exist):
/// the attributor says why and works through /proc.
#[test]
fn falls_back_when_bpf_cannot_attach() {
    if !common::ready() {
        return;
    }
    let ns = Netns::new("nocg");
    let mut cfg = Config::new(std::env::temp_dir().join(format!("netward-no-such-cgroup-{}", std::process::id())));
    cfg.bpf = true;
    let attr = ns.enter(move || Attributor::open(cfg).unwrap());
    assert_eq!(attr.mode(), Mode::Proc);
    assert!(attr.bpf_error().is_some_and(|e| e.contains("cgroup")), "{:?}", attr.bpf_error());
    let mut listener = Listener::start(&ns);
    let port = listener.addr.port().to_string();
    let mut p = spawn(&ns, None, &[PYTHON, "-c", HOLDER, &port]);
    assert_eq!(p.line(), "up");
    let peer = listener.next_peer();
    let info = attr.lookup(Proto::Tcp, peer, listener.addr).expect("attributed");
    assert_eq!((info.source, info.pid), (Source::Proc, p.pid()));
}
