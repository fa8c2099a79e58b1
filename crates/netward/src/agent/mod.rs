//! `netward run`: the live agent. Binds the NFQUEUE, installs netward's
//! netfilter chains (after the queue is bound, so fail-closed never drops a
//! packet while the agent starts), and runs every queued packet through the
//! sensor on this thread; events go to the store writer thread; the control
//! socket answers `health` and `reload`; the web portal is served on a
//! thread of its own when enabled. SIGINT/SIGTERM remove the rules,
//! flush the store and exit 0.

pub mod control;
pub mod device_info;
pub mod feeds;
pub mod fleet;
pub mod listeners;
pub mod notify;
pub mod owners;
pub mod pipeline;
pub mod portal;
pub mod process_events;
pub mod writer;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use netward_datapath::{icmp, ifname::InterfaceNames, rules, wake, FailMode, Family, Hook, PacketQueue, RuleSpec};
use netward_policy::EnforcementLevel;
use netward_sensor::{FlowOrigin, PolicyContext, Sensor, SensorConfig};
use pipeline::Pipeline;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// NFQUEUE number
    #[arg(long, default_value_t = 7878)]
    pub queue: u16,
    /// Packets of an undecided flow that are inspected before it passes uninspected
    #[arg(long, default_value_t = 40)]
    pub inspect_packets: u32,
    /// Flows followed at once (the oldest is evicted beyond it)
    #[arg(long, default_value_t = 65_536)]
    pub max_flows: usize,
    /// How connections are attributed to processes: bpf (kernel records at
    /// connect time, /proc for the rest), proc (/proc only), off.
    /// Default: the `attribution.mode` setting
    #[arg(long, value_name = "MODE", value_parser = ["bpf", "proc", "off"])]
    pub attribution: Option<String>,
    /// The cgroup v2 directory the attribution programs attach to (they see
    /// its processes and those below). Default: the `attribution.cgroup`
    /// setting, else the cgroup2 root (every process)
    #[arg(long, value_name = "DIR")]
    pub attribution_cgroup: Option<std::path::PathBuf>,
}

/// Events waiting for the writer at most; beyond it they are counted as
/// dropped (about 1 KiB each: a bound on the agent's memory, README "Memory bound").
const EVENT_BACKLOG: usize = 16_384;

/// What the control thread shares with the queue thread.
struct Shared {
    started: Instant,
    level: Mutex<String>,
    fail_mode: FailMode,
    queue: u16,
    policy: Mutex<Option<PolicyContext>>,
    policy_generation: AtomicU64,
    counters: Mutex<serde_json::Value>,
    writer: Arc<writer::WriterStats>,
    dropped_events: AtomicU64,
    /// ICMP unreachable errors read as a refused connection.
    icmp_refusals: AtomicU64,
    /// The attribution thread's state, for health.
    attribution: Mutex<Option<Arc<Mutex<serde_json::Value>>>>,
    /// The fleet link's state, when a server is configured.
    server: Mutex<Option<Arc<Mutex<crate::fleet::Health>>>>,
    /// Desktop notifications (none when the notifier could not start).
    notifier: Option<notify::Notifier>,
}

/// Settings are checked when written; anything else would mean disabled.
pub fn level_of(name: &str) -> EnforcementLevel {
    name.parse().unwrap_or(EnforcementLevel::Disabled)
}

fn load_policy(ctx: &Ctx) -> CliResult<(PolicyContext, String)> {
    let level = ctx.settings.get(crate::settings::ENFORCEMENT_LEVEL).to_string();
    let store = crate::cmd::indicator::open_store(ctx)?;
    // A damaged allow table lifts no warn: warns stay blocks, and it is said.
    let warn_allows = crate::warn::load(&ctx.data_dir).unwrap_or_else(|e| {
        eprintln!("netward run: temporary warn allows not applied: {e}");
        Default::default()
    });
    let policy =
        PolicyContext { matcher: store.snapshot(), level: level_of(&level), warn_allows: Arc::new(warn_allows) };
    Ok((policy, level))
}

pub fn run(ctx: &Ctx, args: &RunArgs) -> CliResult<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(CliError::failure(
            "netward run needs root (it installs netfilter rules and reads the packet queue)",
        )
        .with_hint("sudo netward run"));
    }
    let fail_mode: FailMode = ctx.settings.get("network_protection.fail_mode").parse().map_err(CliError::bad_input)?;
    ctx.announce_data_dir_if_new();
    ctx.data_dir.ensure()?;
    let device = ctx.device()?;
    let (policy, level) = load_policy(ctx)?;
    // Before any thread starts: the stop and wake signals reach only this one.
    wake::block_in_this_thread().map_err(|e| CliError::failure(format!("cannot install signal handlers: {e}")))?;
    let mut queue = PacketQueue::open(args.queue, fail_mode == FailMode::Open, 4096)
        .map_err(|e| CliError::failure(e.to_string()))?;
    let spec = RuleSpec { queue: args.queue, fail_mode, inspect_packets: args.inspect_packets };
    let mut families = Vec::new();
    for fam in [Family::V4, Family::V6] {
        match rules::install(&spec, fam) {
            Ok(()) => families.push(fam),
            Err(e) if fam == Family::V6 => eprintln!("warning: no IPv6 rules: {e}"),
            Err(e) => return Err(CliError::failure(e.to_string())),
        }
    }
    let shared = Arc::new(Shared {
        started: Instant::now(),
        level: Mutex::new(level.clone()),
        fail_mode,
        queue: args.queue,
        policy: Mutex::new(None),
        policy_generation: AtomicU64::new(0),
        counters: Mutex::new(json!({})),
        writer: Arc::new(writer::WriterStats::default()),
        dropped_events: AtomicU64::new(0),
        icmp_refusals: AtomicU64::new(0),
        attribution: Mutex::new(None),
        server: Mutex::new(None),
        notifier: match notify::spawn(ctx.data_dir.clone(), &ctx.settings) {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("netward run: no desktop notifications: {e}");
                None
            }
        },
    });
    let result = serve(ctx, args, &mut queue, policy, device, &shared);
    for fam in &families {
        if let Err(e) = rules::remove(*fam) {
            eprintln!("warning: {e}");
        }
    }
    let _ = std::fs::remove_file(control::socket_path(&ctx.data_dir));
    result
}

fn serve(
    ctx: &Ctx,
    args: &RunArgs,
    queue: &mut PacketQueue,
    policy: PolicyContext,
    device: crate::device::DeviceIdentity,
    shared: &Arc<Shared>,
) -> CliResult<()> {
    // Queue thread -> attribution thread (never waits: full means dropped)
    // -> writer thread (the attribution thread waits for the writer).
    let (tx, owners_rx) = sync_channel::<owners::Msg>(EVENT_BACKLOG);
    let (owners_tx, rx) = sync_channel::<writer::Item>(EVENT_BACKLOG);
    let mut owners = open_owners(ctx, args, &device.id, &device.name)?;
    owners.notifier = shared.notifier.clone();
    let attribution_mode = owners.mode_name();
    let (device_id, device_name) = (device.id.clone(), device.name.clone());
    let info = move |level: &str| {
        let row = device_info::row(crate::now(), &device_id, &device_name, level, attribution_mode);
        writer::Item::Rows(netward_events::Table::DeviceInfo, vec![row])
    };
    let level_now = shared.level.lock().map(|l| l.clone()).unwrap_or_default();
    let _ = owners_tx.send(info(&level_now));
    // The control thread never ends (it blocks in accept): it holds the
    // writer's sender only through this slot, emptied at stop, so the
    // writer sees the end of its channel.
    let info_tx = Arc::new(Mutex::new(Some(owners_tx.clone())));
    let info_slot = info_tx.clone();
    let owner_stats = owners.stats.clone();
    // The queue thread finds each new flow's socket while it holds the
    // flow's first packet (the socket surely exists then; a short
    // connection's is gone soon after), and the attribution thread names it.
    let mut sockets = match owners.mode() {
        netward_attribution::Mode::None => None,
        _ => netward_attribution::SockDiag::open().ok(),
    };
    if let Ok(mut a) = shared.attribution.lock() {
        *a = Some(owners.health.clone());
    }
    let waker = wake::Waker::for_this_thread();
    let listener =
        control::bind(&ctx.data_dir).map_err(|e| CliError::failure(format!("cannot open the control socket: {e}")))?;
    std::thread::scope(|s| -> CliResult<()> {
        let wstats = shared.writer.clone();
        let writer = s.spawn(move || writer::run(ctx, rx, wstats));
        let attribution = s.spawn(move || owners.run(owners_rx, owners_tx));
        // Detached: it blocks in accept, and the process exits under it.
        let sh = shared.clone();
        let own = ctx.reloaded()?;
        // A new enforcement level is a new DeviceInfo row.
        let level_changed = move |level: &str| {
            if let Some(tx) = info_tx.lock().ok().as_ref().and_then(|t| t.as_ref()) {
                let _ = tx.try_send(info(level));
            }
        };
        std::thread::spawn(move || control::serve(listener, |cmd| answer(&own, &sh, waker, cmd, &level_changed)));
        // Feed subscriptions refresh on their own thread, off the packet path.
        feeds::spawn(ctx.reloaded()?);
        // The web portal, when enabled, on its own thread and runtime.
        portal::spawn(ctx.reloaded()?);
        // Events up and policy down, while the packets go on without it.
        if let Ok(mut slot) = shared.server.lock() {
            *slot = fleet::spawn(ctx.reloaded()?);
        }
        // Ticks: idle flows end, counters are published, stop is noticed.
        // The socket table is read here, off the packet path: on a busy
        // host it holds thousands of sockets, and reading it takes
        // milliseconds the queue thread must not spend.
        let baseline = netward_datapath::sockets::scan();
        let (scans_tx, scans) = sync_channel::<Vec<netward_datapath::sockets::Listener>>(2);
        s.spawn(move || {
            let mut ticks = 0u64;
            while !wake::stop_requested() {
                std::thread::sleep(Duration::from_millis(500));
                ticks += 1;
                // Every 2 s: the table lists TIME_WAIT sockets too, so a host
                // making many short connections pays for each read. A full
                // channel means the queue thread has not taken the last scan
                // yet; this one is skipped.
                if ticks.is_multiple_of(4) {
                    let _ = scans_tx.try_send(netward_datapath::sockets::scan());
                }
                waker.wake();
            }
        });
        let sensor = Sensor::new(SensorConfig {
            device_id: device.id,
            device_name: device.name,
            max_flows: args.max_flows,
            ..Default::default()
        });
        let mut p = Pipeline::new(sensor, pipeline::live_flow_config(args.max_flows))
            .with_inspect_packets(args.inspect_packets);
        p.sensor.set_policy(Some(policy));
        wake::unblock_in_this_thread().map_err(|e| CliError::failure(e.to_string()))?;
        eprintln!(
            "netward run: watching (queue {}, enforcement {}, fail {})",
            args.queue,
            shared.level.lock().map(|l| l.clone()).unwrap_or_default(),
            shared.fail_mode.as_str()
        );
        let level = shared.level.lock().map(|l| l.clone()).unwrap_or_default();
        let watchdog = crate::sdnotify::agent_up(&ctx.data_dir, &level);
        let watch = listeners::ListenerWatch::start(baseline);
        let res = queue_loop(queue, &mut p, &tx, &owner_stats, shared, watch, &scans, sockets.as_mut());
        drop(watchdog);
        crate::sdnotify::agent_down(&ctx.data_dir, &res);
        wake::request_stop();
        drop(tx);
        if let Ok(mut slot) = info_slot.lock() {
            slot.take();
        }
        let _ = attribution.join();
        let _ = writer.join();
        eprintln!("netward run: stopped; rules removed");
        res
    })
}

/// The attribution thread's state, as the settings and flags say.
fn open_owners(ctx: &Ctx, args: &RunArgs, device_id: &str, device_name: &str) -> CliResult<owners::Owners> {
    let mode = args.attribution.as_deref().unwrap_or(ctx.settings.get("attribution.mode"));
    let setting: owners::Setting = mode.parse().map_err(CliError::bad_input)?;
    let cgroup = match &args.attribution_cgroup {
        Some(dir) => dir.display().to_string(),
        None => ctx.settings.get("attribution.cgroup").to_string(),
    };
    let (attributor, why) = owners::open(setting, &cgroup);
    if let Some(why) = &why {
        eprintln!("netward run: attribution without BPF: {why}");
    }
    Ok(owners::Owners::new(attributor, why, device_id.to_string(), device_name.to_string()))
}

#[allow(clippy::too_many_arguments)]
fn queue_loop(
    queue: &mut PacketQueue,
    p: &mut Pipeline,
    tx: &SyncSender<owners::Msg>,
    owner_stats: &owners::OwnerStats,
    shared: &Shared,
    mut listening: listeners::ListenerWatch,
    scans: &std::sync::mpsc::Receiver<Vec<netward_datapath::sockets::Listener>>,
    mut sockets: Option<&mut netward_attribution::SockDiag>,
) -> CliResult<()> {
    let mut generation = 0;
    let mut last_tick = Instant::now();
    let mut names = InterfaceNames::default();
    while !wake::stop_requested() {
        let g = shared.policy_generation.load(Ordering::Acquire);
        if g != generation {
            generation = g;
            if let Ok(mut pol) = shared.policy.lock() {
                if let Some(new) = pol.take() {
                    p.sensor.set_policy(Some(new));
                }
            }
        }
        let pkt = queue.recv().map_err(|e| CliError::failure(e.to_string()))?;
        let t = crate::now();
        if let Some(pkt) = pkt {
            let origin = origin(&mut names, &pkt);
            // A new flow's socket is found before the packet goes on (about
            // 10 µs: one sock_diag request), while it surely exists. Not
            // after the verdict: measured, a short connection on a busy
            // machine can be over by the time the queue thread gets there,
            // and its process goes unnamed.
            let mut find = |proto, local, remote| {
                sockets.as_deref_mut().zip(owners::proto_of(proto)).and_then(|(d, pr)| d.lookup(pr, local, remote))
            };
            let hook = pkt.hook();
            let mark = if let Some(reset) = icmp::refusal_as_reset(pkt.payload()) {
                // The flow table follows TCP: it is told the reset the error
                // means, and the error itself goes on to the client.
                shared.icmp_refusals.fetch_add(1, Ordering::Relaxed);
                p.packet_with(t, &reset, hook, &origin, &mut find);
                0
            } else {
                p.packet_with(t, pkt.payload(), hook, &origin, &mut find)
            };
            send_new_flows(p, tx, owner_stats);
            queue.accept(pkt, mark).map_err(|e| CliError::failure(e.to_string()))?;
        }
        while let Some(ev) = p.next_event() {
            if let Err(TrySendError::Full(_)) = tx.try_send(owners::Msg::Event(Box::new(ev))) {
                shared.dropped_events.fetch_add(1, Ordering::Relaxed);
            }
        }
        if last_tick.elapsed() >= Duration::from_millis(500) {
            last_tick = Instant::now();
            p.tick(t);
            // A new listener is reported within a tick or two.
            while let Ok(now) = scans.try_recv() {
                listening.scan(now, &mut p.sensor, t);
            }
            publish(p, shared);
        }
    }
    Ok(())
}

/// The flows the last packet began, with their sockets, to the
/// attribution thread. A flow's start goes before its events: the
/// attribution thread names it first.
fn send_new_flows(p: &mut Pipeline, tx: &SyncSender<owners::Msg>, owner_stats: &owners::OwnerStats) {
    let sent = Instant::now();
    for (proto, local, remote, sock) in p.take_new_flows() {
        let msg = owners::Msg::Flow { proto, local, remote, sock, at: sent };
        if let Err(TrySendError::Full(_)) = tx.try_send(msg) {
            owner_stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A forwarded packet's input interface (names cached: no lookup per packet).
fn origin(names: &mut InterfaceNames, pkt: &netward_datapath::Packet) -> FlowOrigin {
    if pkt.hook() != Hook::Forward {
        return FlowOrigin::Local;
    }
    match names.name(pkt.indev(), Instant::now()) {
        Some(interface) => FlowOrigin::Forwarded { interface },
        // The interface went away under the packet: still not this device's own.
        None => FlowOrigin::Forwarded { interface: format!("if{}", pkt.indev()).into() },
    }
}

fn publish(p: &Pipeline, shared: &Shared) {
    let s = p.stats;
    let ss = p.sensor.stats();
    let v = json!({
        "packets_queued": s.packets,
        "packets_undecodable": s.undecodable,
        "verdicts": {"pass": s.passed, "block": s.blocked, "follow": s.followed, "budget_spent": s.budget_spent},
        "inbound_accepted": s.inbound,
        "flows_tracked": p.flows_tracked(),
        "flows_evicted": p.flows_evicted(),
        "sensor": {"flows": ss.flows, "not_followed": ss.flows_not_followed, "events": ss.events, "verdicts": ss.verdicts},
    });
    if let Ok(mut c) = shared.counters.lock() {
        *c = v;
    }
}

fn answer(
    ctx: &Ctx,
    shared: &Shared,
    waker: wake::Waker,
    cmd: &str,
    level_changed: &dyn Fn(&str),
) -> serde_json::Value {
    match cmd {
        "health" => {
            let kernel = netward_datapath::queue::kernel_counters(shared.queue);
            let w = &shared.writer;
            json!({
                "state": "running",
                "enforcement_level": shared.level.lock().map(|l| l.clone()).unwrap_or_default(),
                "fail_mode": shared.fail_mode.as_str(),
                "uptime_seconds": shared.started.elapsed().as_secs(),
                "queue": shared.queue,
                "queue_waiting": kernel.map(|k| k.0),
                "queue_dropped": kernel.map(|k| k.1 + k.2),
                "events_written": w.written.load(Ordering::Relaxed),
                "events_failed": w.failed.load(Ordering::Relaxed),
                "events_dropped": shared.dropped_events.load(Ordering::Relaxed),
                "icmp_refusals": shared.icmp_refusals.load(Ordering::Relaxed),
                "store_lag_ms": w.lag_ms.load(Ordering::Relaxed),
                "attribution": shared.attribution.lock().ok().and_then(|a| a.as_ref().and_then(|h| h.lock().ok().map(|v| v.clone()))),
                "counters": shared.counters.lock().map(|c| c.clone()).unwrap_or_default(),
                "feeds": feeds::health(ctx),
                "portal": portal::health(),
                "notifications": shared.notifier.as_ref().map(notify::Notifier::health),
                "server": shared.server.lock().ok().and_then(|s| s.as_ref().map(|h| h.lock().map(|h| h.snapshot()).ok())),
            })
        }
        "reload" => {
            let mut fresh = match Ctx::reloaded(ctx) {
                Ok(c) => c,
                Err(e) => return json!({"error": e.to_string()}),
            };
            let _ = fresh.reload_settings();
            if let Some(n) = &shared.notifier {
                n.reconfigure(&fresh.settings);
            }
            match load_policy(&fresh) {
                Ok((pol, level)) => {
                    let mut changed = false;
                    if let (Ok(mut p), Ok(mut l)) = (shared.policy.lock(), shared.level.lock()) {
                        *p = Some(pol);
                        changed = *l != level;
                        *l = level.clone();
                    }
                    if changed {
                        level_changed(&level);
                    }
                    shared.policy_generation.fetch_add(1, Ordering::AcqRel);
                    waker.wake();
                    json!({"ok": true, "enforcement_level": level})
                }
                Err(e) => json!({"error": e.to_string()}),
            }
        }
        other => json!({"error": format!("unknown request `{other}`")}),
    }
}

/// `netward health`: the running agent's state and counters.
pub fn health(ctx: &Ctx) -> CliResult<()> {
    match control::request(&ctx.data_dir, "health") {
        None => {
            Err(CliError::failure(format!("no agent is running for data directory {}", ctx.data_dir.path.display()))
                .with_hint("start it with `sudo netward run`"))
        }
        Some(Err(e)) => Err(CliError::failure(e)),
        Some(Ok(v)) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
    }
}
