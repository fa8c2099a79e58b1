//! `netward run`: the live agent. Binds the NFQUEUE, installs netward's
//! netfilter chains (after the queue is bound, so fail-closed never drops a
//! packet while the agent starts), and runs every queued packet through the
//! sensor on this thread; events go to the store writer thread; the control
//! socket answers `health` and `reload`. SIGINT/SIGTERM remove the rules,
//! flush the store and exit 0.

pub mod control;
pub mod listeners;
pub mod pipeline;
pub mod writer;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use netward_datapath::{icmp, ifname::InterfaceNames, rules, wake, FailMode, Family, Hook, PacketQueue, RuleSpec};
use netward_events::NetworkEvent;
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
}

/// Settings are checked when written; anything else would mean disabled.
pub fn level_of(name: &str) -> EnforcementLevel {
    name.parse().unwrap_or(EnforcementLevel::Disabled)
}

fn load_policy(ctx: &Ctx) -> CliResult<(PolicyContext, String)> {
    let level = ctx.settings.get(crate::settings::ENFORCEMENT_LEVEL).to_string();
    let store = crate::cmd::indicator::open_store(ctx)?;
    Ok((PolicyContext { matcher: store.snapshot(), level: level_of(&level) }, level))
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
    let (tx, rx) = sync_channel::<NetworkEvent>(EVENT_BACKLOG);
    let waker = wake::Waker::for_this_thread();
    let listener =
        control::bind(&ctx.data_dir).map_err(|e| CliError::failure(format!("cannot open the control socket: {e}")))?;
    std::thread::scope(|s| -> CliResult<()> {
        let wstats = shared.writer.clone();
        let writer = s.spawn(move || writer::run(ctx, rx, wstats));
        // Detached: it blocks in accept, and the process exits under it.
        let sh = shared.clone();
        let own = ctx.reloaded()?;
        std::thread::spawn(move || control::serve(listener, |cmd| answer(&own, &sh, waker, cmd)));
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
        let res = queue_loop(queue, &mut p, &tx, shared, listeners::ListenerWatch::start(baseline), &scans);
        wake::request_stop();
        drop(tx);
        let _ = writer.join();
        eprintln!("netward run: stopped; rules removed");
        res
    })
}

fn queue_loop(
    queue: &mut PacketQueue,
    p: &mut Pipeline,
    tx: &SyncSender<NetworkEvent>,
    shared: &Shared,
    mut listening: listeners::ListenerWatch,
    scans: &std::sync::mpsc::Receiver<Vec<netward_datapath::sockets::Listener>>,
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
            let mark = if let Some(reset) = icmp::refusal_as_reset(pkt.payload()) {
                // The flow table follows TCP: it is told the reset the error
                // means, and the error itself goes on to the client.
                shared.icmp_refusals.fetch_add(1, Ordering::Relaxed);
                p.packet(t, &reset, pkt.hook(), &origin);
                0
            } else {
                p.packet(t, pkt.payload(), pkt.hook(), &origin)
            };
            queue.accept(pkt, mark).map_err(|e| CliError::failure(e.to_string()))?;
        }
        while let Some(ev) = p.next_event() {
            if let Err(TrySendError::Full(_)) = tx.try_send(ev) {
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

fn answer(ctx: &Ctx, shared: &Shared, waker: wake::Waker, cmd: &str) -> serde_json::Value {
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
                "counters": shared.counters.lock().map(|c| c.clone()).unwrap_or_default(),
            })
        }
        "reload" => {
            let mut fresh = match Ctx::reloaded(ctx) {
                Ok(c) => c,
                Err(e) => return json!({"error": e.to_string()}),
            };
            let _ = fresh.reload_settings();
            match load_policy(&fresh) {
                Ok((pol, level)) => {
                    if let (Ok(mut p), Ok(mut l)) = (shared.policy.lock(), shared.level.lock()) {
                        *p = Some(pol);
                        *l = level.clone();
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
