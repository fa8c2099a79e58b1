//! Power cuts at every I/O step of indicator updates, through the event
//! store's simulated disk (`netward_store::sim::SimFs`).
//!
//! A sequence of updates of every kind (add, replace, remove a custom
//! indicator; import, re-import, remove a feed) is run once on a healthy
//! disk to learn the indicator set after each update and the number of I/O
//! operations. Then, for every operation N, the same sequence is run on a
//! fresh disk whose power goes off at operation N; after the crash (clean,
//! or torn: a random prefix of unsynced writes and a random subset of
//! unsynced directory changes survive) the store is reopened and must hold
//! exactly the set after the last acknowledged update or the set after the
//! update in flight, with no damaged file, and must accept further updates.

use std::path::Path;
use std::sync::Arc;

use netward_policy::hash::Seed;
use netward_policy::{Action, EnforcementLevel, FeedFormat, FeedOptions, IndicatorSpec, IndicatorType, VerdictAction};
use netward_policy_store::{PolicyStore, Vfs};
use netward_store::sim::SimFs;

const DIR: &str = "/data/policy";

fn open(fs: &SimFs) -> PolicyStore {
    let vfs: Arc<dyn Vfs> = Arc::new(fs.clone());
    PolicyStore::open_in(vfs, Path::new(DIR), Seed::FIXED).expect("open")
}

fn domains(prefix: &str, n: usize) -> String {
    (0..n).map(|i| format!("{prefix}{i}.example\n")).collect()
}

type Update = Box<dyn Fn(&mut PolicyStore) -> Result<(), String>>;

fn e<T>(r: Result<T, netward_policy_store::PolicyStoreError>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| e.to_string())
}

fn spec(v: &str, a: Action) -> IndicatorSpec {
    IndicatorSpec::new(IndicatorType::Domain, v, a)
}

/// The updates, in order. The big feed (about 100 kB) takes several writes.
fn updates() -> Vec<(&'static str, Update)> {
    vec![
        ("add a.example", Box::new(move |s| e(s.add_indicator(spec("a.example", Action::Block), false)))),
        ("add 10.0.0.0/8", {
            Box::new(move |s| {
                e(s.add_indicator(IndicatorSpec::new(IndicatorType::Cidr, "10.0.0.0/8", Action::Audit), false))
            })
        }),
        ("import small feed", {
            Box::new(move |s| {
                e(s.import_feed(domains("f", 3).as_bytes(), FeedFormat::Domains, "feed", FeedOptions::default(), 10))
            })
        }),
        ("replace a.example with allow", Box::new(move |s| e(s.add_indicator(spec("a.example", Action::Allow), true)))),
        ("re-import feed, big", {
            Box::new(move |s| {
                let opts = FeedOptions { action: Action::Audit, ..FeedOptions::default() };
                e(s.import_feed(domains("g", 5000).as_bytes(), FeedFormat::Domains, "feed", opts, 20))
            })
        }),
        ("import hosts feed", {
            Box::new(move |s| {
                e(s.import_feed(
                    "0.0.0.0 h.example\n".as_bytes(),
                    FeedFormat::Hosts,
                    "hosts",
                    FeedOptions::default(),
                    30,
                ))
            })
        }),
        ("remove indicator 2", Box::new(move |s| e(s.remove("2")))),
        ("remove feed source", Box::new(move |s| e(s.remove_source("feed")))),
        ("add b.example", Box::new(move |s| e(s.add_indicator(spec("b.example", Action::Warn), false)))),
    ]
}

/// Names whose verdicts tell the states apart.
const PROBES: &[&str] = &[
    "a.example",
    "x.a.example",
    "10.1.2.3",
    "f1.example",
    "g0.example",
    "g4999.example",
    "h.example",
    "b.example",
    "z.example",
];

/// Everything a store holds: custom indicators (all fields), feeds and each
/// of their entries, and the live matcher's verdicts for the probes.
fn state(s: &PolicyStore) -> Vec<String> {
    let mut out: Vec<String> = s.list().iter().map(|i| format!("custom {i:?}")).collect();
    for f in s.feeds() {
        out.push(format!("feed {f:?}"));
        let mut n = 0usize;
        let mut sum = 0u64;
        s.for_each_feed_entry(&f.source, |i| {
            n += 1;
            sum = sum.wrapping_add(netward_policy::hash::fnv1a(format!("{i:?}").as_bytes(), 0));
        })
        .expect("entries");
        out.push(format!("entries {} {n} {sum:x}", f.source));
    }
    let m = s.snapshot();
    for p in PROBES {
        out.push(format!("{p} -> {:?}", m.evaluate(p, EnforcementLevel::Block, 0).expect("probe").action));
    }
    out
}

/// The state the store serves from memory (no file read).
fn live(s: &PolicyStore) -> Vec<String> {
    let m = s.snapshot();
    let mut out: Vec<String> = s.list().iter().map(|i| format!("custom {i:?}")).collect();
    out.extend(s.feeds().iter().map(|f| format!("feed {f:?}")));
    out.extend(
        PROBES.iter().map(|p| format!("{p} -> {:?}", m.evaluate(p, EnforcementLevel::Block, 0).unwrap().action)),
    );
    out
}

/// The states after 0, 1, ... updates, checked against a reopen each time,
/// and the operation count after each update.
fn reference() -> (Vec<Vec<String>>, Vec<u64>) {
    let fs = SimFs::new(0);
    let mut s = open(&fs);
    let mut states = vec![state(&s)];
    let mut ops = vec![fs.ops()];
    for (what, u) in updates() {
        u(&mut s).unwrap_or_else(|e| panic!("{what}: {e}"));
        let st = state(&s);
        assert_eq!(state(&open(&fs)), st, "{what}: a reopen sees what the store serves");
        states.push(st);
        ops.push(fs.ops());
    }
    assert_eq!(ops[0], 0, "opening does no mutating I/O");
    for w in states.windows(2) {
        assert_ne!(w[0], w[1], "every update changes the state");
    }
    (states, ops)
}

/// Run the updates until one fails (the power is off from then on).
/// Returns how many were acknowledged.
fn run_until_failure(s: &mut PolicyStore) -> usize {
    let mut acked = 0;
    for (_, u) in updates() {
        if u(s).is_err() {
            break;
        }
        acked += 1;
    }
    acked
}

/// Reopen after a crash and check the state; `true` when the update in
/// flight made it.
fn check_recovered(fs: &SimFs, states: &[Vec<String>], acked: usize, ctx: &str) -> bool {
    let mut s = open(fs);
    assert!(s.problems().is_empty(), "{ctx}: {:?}", s.problems());
    let got = state(&s);
    let n = updates().len();
    let made_it = if got == states[acked] {
        // The update in flight is lost (it was never acknowledged).
        false
    } else if acked < n && got == states[acked + 1] {
        true
    } else {
        panic!(
            "{ctx}: after {acked} acknowledged updates the store holds neither state {acked} nor {}:\n got {got:#?}\n want {:#?}",
            acked + 1,
            states[acked]
        );
    };
    // No temporary file is left behind after a reopen, and the store works.
    for dir in [DIR.to_string(), format!("{DIR}/feeds")] {
        let names = fs.list(Path::new(&dir)).expect("list");
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{ctx}: leftovers in {dir}: {names:?}");
    }
    s.add_indicator(spec("after.example", Action::Block), true).expect("update after recovery");
    let again = open(fs);
    assert_eq!(
        again.snapshot().evaluate("after.example", EnforcementLevel::Block, 0).unwrap().action,
        VerdictAction::Block
    );
    made_it
}

#[test]
fn power_cut_at_every_step_keeps_old_or_new_and_never_loses_an_ack() {
    let (states, ops) = reference();
    let total = *ops.last().unwrap();
    assert!(total > 30, "the sequence does {total} mutating operations");
    let mut outcomes = std::collections::BTreeSet::new();
    for cut in 0..=total {
        // Updates wholly before the cut must be acknowledged.
        let must_ack = ops.iter().skip(1).take_while(|&&o| o <= cut).count();
        for (torn, seeds) in [(false, 0..1u64), (true, 1..5)] {
            for seed in seeds {
                let ctx = format!("power cut at op {cut}, torn {torn}, seed {seed}");
                let fs = SimFs::new(seed);
                let mut s = open(&fs);
                fs.power_cut_at(cut);
                let acked = run_until_failure(&mut s);
                assert_eq!(acked, must_ack, "{ctx}");
                drop(s);
                fs.crash(torn);
                outcomes.insert((acked, check_recovered(&fs, &states, acked, &ctx)));
            }
        }
    }
    // Both outcomes of an update in flight occur (lost, and made it).
    assert!(outcomes.iter().any(|o| o.1), "no cut ever kept the update in flight: {outcomes:?}");
    assert!(outcomes.iter().any(|o| !o.1 && o.0 < updates().len()), "no cut ever lost the update in flight");
}

#[test]
fn a_failing_io_step_changes_nothing_the_store_serves() {
    let (states, ops) = reference();
    let total = *ops.last().unwrap();
    for k in 0..total {
        for torn in [false, true] {
            let ctx = format!("I/O error at op {k}, torn {torn}");
            let fs = SimFs::new(k + 100);
            let mut s = open(&fs);
            fs.fail_op(k);
            let mut acked = 0;
            let mut failed = None;
            for (what, u) in updates() {
                match u(&mut s) {
                    Ok(()) => acked += 1,
                    Err(e) => {
                        failed = Some(format!("{what}: {e}"));
                        break;
                    }
                }
            }
            let failed = failed.unwrap_or_else(|| panic!("{ctx}: no update failed"));
            assert!(failed.contains("injected"), "{ctx}: {failed}");
            // The store keeps serving the last acknowledged state.
            let mut want_live = states[acked].clone();
            want_live.retain(|l| !l.starts_with("entries "));
            assert_eq!(live(&s), want_live, "{ctx}: {failed}");
            drop(s);
            fs.crash(torn);
            check_recovered(&fs, &states, acked, &ctx);
        }
    }
}
