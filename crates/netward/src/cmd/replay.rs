//! `netward replay FILE...`: a packet capture through the same sensor the
//! live agent uses, printed (or stored) as the events the agent would have
//! produced. A damaged capture gives an error naming the file and byte
//! offset; every event read before the damage is kept, the other files are
//! still replayed, and the exit code is 2.

use crate::cli::ReplayArgs;
use crate::cmd::import::{open_store, Appender};
use crate::context::Ctx;
use crate::device::ReportIds;
use crate::error::{CliError, CliResult};
use crate::oplog::OperationalEvent;
use crate::output::{Format, RowWriter};
use netward_capture::{CaptureEvent, Direction as CapDir, Outcome, Proto, Replayer};
use netward_events::{ActionType, NetworkEvent, Protocol, Table, Timestamp};
use netward_sensor::{FlowMeta, PolicyContext, Sensor, SensorConfig};
use netward_wire::Direction;
use serde_json::Value as J;

/// Columns a table shows (JSON and CSV carry every column).
const TABLE_COLUMNS: [&str; 8] =
    ["Timestamp", "ActionType", "RemoteIP", "RemotePort", "RemoteUrl", "LocalIP", "LocalPort", "AdditionalFields"];

pub fn ts(t: netward_capture::PacketTime) -> Timestamp {
    Timestamp::from_unix_micros(i64::try_from(t.as_micros()).unwrap_or(i64::MAX))
}

fn outcome(o: Outcome) -> ActionType {
    match o {
        Outcome::ConnectionSuccess => ActionType::ConnectionSuccess,
        Outcome::ConnectionFailed => ActionType::ConnectionFailed,
        Outcome::ConnectionAttempt => ActionType::ConnectionAttempt,
    }
}

/// The event model's protocol of a capture flow.
pub fn protocol(p: Proto) -> Protocol {
    match p {
        Proto::Tcp => Protocol::Tcp,
        Proto::Udp => Protocol::Udp,
    }
}

/// Feeds one capture-layer event to the sensor.
pub fn drive(sensor: &mut Sensor, ev: CaptureEvent<'_>) {
    match ev {
        CaptureEvent::FlowStart { flow_id, key, ts: t, .. } => {
            let protocol = protocol(key.proto);
            sensor.flow_start(flow_id, FlowMeta { protocol, local: key.client, remote: key.server }, ts(t));
        }
        CaptureEvent::Established { flow_id, ts: t } => sensor.established(flow_id, ts(t)),
        CaptureEvent::Data { flow_id, dir, bytes, ts: t, .. } => sensor.data(flow_id, wire_dir(dir), &bytes, ts(t)),
        CaptureEvent::Datagram { flow_id, dir, payload, ts: t, .. } => {
            sensor.data(flow_id, wire_dir(dir), &payload, ts(t))
        }
        CaptureEvent::OverlapConflict { flow_id, .. } => sensor.overlap_conflict(flow_id),
        CaptureEvent::Gap { .. } => {}
        CaptureEvent::FlowEnd { flow_id, outcome: o, ts: t, .. } => sensor.flow_end(flow_id, outcome(o), ts(t)),
    }
}

fn wire_dir(d: CapDir) -> Direction {
    match d {
        CapDir::ToServer => Direction::ToServer,
        CapDir::ToClient => Direction::ToClient,
    }
}

/// Where replayed events go.
trait Sink {
    fn event(&mut self, ev: NetworkEvent) -> CliResult<()>;
}

/// Prints events and/or appends them to the store. Stored events take
/// ReportIds from the device's persistent sequence; printed-only events are
/// numbered from 1 for this run.
struct Outputs<'a, W: std::io::Write> {
    rows: Option<RowWriter<W>>,
    format: Format,
    store: Option<(Appender, ReportIds<'a>)>,
    next_report_id: i64,
    /// 1125/1126 for stored verdicts: a stored replay is ingested as the
    /// agent's own record, so the operational log says what it would have.
    oplog: Vec<OperationalEvent>,
}

impl<W: std::io::Write> Sink for Outputs<'_, W> {
    fn event(&mut self, mut ev: NetworkEvent) -> CliResult<()> {
        ev.report_id = match &mut self.store {
            Some((_, ids)) => ids.next_id()?,
            None => {
                self.next_report_id += 1;
                self.next_report_id - 1
            }
        };
        let rec = ev.to_record();
        if let (Some(rows), Format::Json) = (&mut self.rows, self.format) {
            rows.write_json_object(|w| rec.write_json(w))?;
        } else if let Some(rows) = &mut self.rows {
            let cells: Vec<J> = if self.format == Format::Table {
                TABLE_COLUMNS.iter().map(|c| rec.get(c).map(|v| v.to_json()).unwrap_or(J::Null)).collect()
            } else {
                rec.values().iter().map(|v| v.to_json()).collect()
            };
            rows.write_row(&cells)?;
        }
        if let Some((appender, _)) = &mut self.store {
            appender.push(rec)?;
            self.oplog.extend(OperationalEvent::verdict(&ev));
        }
        Ok(())
    }
}

pub fn run(ctx: &Ctx, args: &ReplayArgs) -> CliResult<()> {
    let device = ctx.device()?;
    let mut sensor = Sensor::new(SensorConfig { device_id: device.id, device_name: device.name, ..Default::default() });
    if args.policy {
        sensor.set_policy(Some(policy_context(ctx, args)?));
    }
    let columns: Vec<String> = if ctx.format == Format::Table {
        TABLE_COLUMNS.iter().map(|c| c.to_string()).collect()
    } else {
        Table::DeviceNetworkEvents.columns().iter().map(|c| c.name.to_string()).collect()
    };
    let _lock = if args.store {
        ctx.announce_data_dir_if_new();
        Some(ctx.data_dir.lock()?)
    } else {
        None
    };
    let store = match args.store {
        true => Some((Appender::new(open_store(ctx)?, Table::DeviceNetworkEvents), ReportIds::open(&ctx.data_dir)?)),
        false => None,
    };
    let rows = match args.no_print {
        true => None,
        false => Some(RowWriter::new(ctx.format, columns, crate::output::stdout())?),
    };
    let mut sink = Outputs { rows, format: ctx.format, store, next_report_id: 1, oplog: Vec::new() };
    let failures = replay_files(&mut sensor, &args.files, &mut sink)?;
    if let Some(rows) = sink.rows.take() {
        rows.done()?;
    }
    let stored = match &mut sink.store {
        Some((appender, _)) => {
            appender.flush()?;
            crate::oplog::append(&ctx.data_dir, &sink.oplog)?;
            format!(", {} stored", appender.stored)
        }
        None => String::new(),
    };
    let s = sensor.stats();
    if !args.quiet {
        eprintln!(
            "replayed {} file(s): {} flows, {} events{stored}, {} verdicts",
            args.files.len(),
            s.flows,
            s.events,
            s.verdicts
        );
    }
    finish(failures)
}

fn finish(failures: Vec<String>) -> CliResult<()> {
    match failures.len() {
        0 => Ok(()),
        _ => Err(CliError::bad_input(failures.join("\n"))
            .with_hint("events read before the damage were kept; the rest of each damaged file was not read")),
    }
}

/// Replays every file through `sensor` into `sink`, returning one message
/// per damaged or unreadable file.
fn replay_files(sensor: &mut Sensor, files: &[std::path::PathBuf], sink: &mut dyn Sink) -> CliResult<Vec<String>> {
    let mut failures = Vec::new();
    for path in files {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let mut replayer = Replayer::default();
        let mut sink_err = None;
        let pump = |sensor: &mut Sensor, sink: &mut dyn Sink, sink_err: &mut Option<CliError>| {
            while let Some(ev) = sensor.poll() {
                if sink_err.is_none() {
                    if let Err(e) = sink.event(ev) {
                        *sink_err = Some(e);
                    }
                }
            }
        };
        // The capture reader buffers by itself; a BufReader would copy twice.
        let result = replayer.feed(file, &mut |ev| {
            drive(sensor, ev);
            pump(sensor, sink, &mut sink_err);
        });
        replayer.finish(&mut |ev| {
            drive(sensor, ev);
            pump(sensor, sink, &mut sink_err);
        });
        if let Some(e) = sink_err {
            return Err(e);
        }
        if let Err(e) = result {
            failures.push(format!("{}: {e}", path.display()));
        }
        if let Some((offset, e)) = &replayer.stats().first_decode_error {
            eprintln!(
                "warning: {}: {} packet(s) could not be decoded, the first at byte offset {offset}: {e}",
                path.display(),
                replayer.stats().decode_errors
            );
        }
    }
    Ok(failures)
}

fn policy_context(ctx: &Ctx, args: &ReplayArgs) -> CliResult<PolicyContext> {
    use netward_policy_store::PolicyStore;
    let configured = ctx.settings.get(crate::settings::ENFORCEMENT_LEVEL);
    let level_name = args.enforcement_level.as_deref().unwrap_or(match configured {
        // Replaying with the policy asks "what would it have said": with
        // protection disabled it would say nothing, so audit instead.
        "disabled" => {
            eprintln!("note: enforcement level is disabled; replaying with audit to show what would be reported");
            "audit"
        }
        other => other,
    });
    let level = crate::agent::level_of(level_name);
    let store = PolicyStore::open(ctx.data_dir.file("policy"))
        .map_err(|e| CliError::failure(format!("cannot open the policy in {}: {e}", ctx.data_dir.path.display())))?;
    Ok(PolicyContext::new(store.snapshot(), level))
}
