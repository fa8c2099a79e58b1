//! The durable store: round trips, duplicates, feeds, crash safety.

use std::fs;
use std::io::Write;
use std::path::Path;

use netward_policy::{Action, EnforcementLevel, FeedFormat, FeedOptions, IndicatorSpec, IndicatorType, VerdictAction};
use netward_policy_store::{PolicyStore, PolicyStoreError as StoreError, CUSTOM_SOURCE};

fn spec(kind: IndicatorType, v: &str, a: Action) -> IndicatorSpec {
    IndicatorSpec::new(kind, v, a)
}

fn action(store: &PolicyStore, input: &str) -> VerdictAction {
    store.snapshot().evaluate(input, EnforcementLevel::Block, 100).unwrap().action
}

#[test]
fn round_trip_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    let mut full = spec(IndicatorType::Domain, "EVIL.example.", Action::Block);
    full.title = Some("Evil".into());
    full.description = Some("desc".into());
    full.expires = Some(1_000);
    full.category = Some("phishing".into());
    let a = s.add_indicator(full, false).unwrap();
    let b = s.add_indicator(spec(IndicatorType::Cidr, "10.1.2.3/8", Action::Audit), false).unwrap();
    assert_eq!((a.id.as_str(), b.id.as_str(), b.value.as_str()), ("1", "2", "10.0.0.0/8"));
    s.remove("1").unwrap();
    let c = s.add_indicator(spec(IndicatorType::Url, "https://x.example/a/", Action::Allow), false).unwrap();
    assert_eq!(c.id, "3", "ids are never reused");
    let listed = s.list().to_vec();
    drop(s);
    let s = PolicyStore::open(dir.path()).unwrap();
    assert_eq!(s.list(), &listed[..]);
    assert_eq!(action(&s, "http://x.example/a/b"), VerdictAction::Allow);
    assert_eq!(action(&s, "10.200.0.1"), VerdictAction::Audit);
    assert_eq!(action(&s, "evil.example"), VerdictAction::None);
}

#[test]
fn duplicates_refused_unless_replace() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    s.add_indicator(spec(IndicatorType::Domain, "evil.example", Action::Block), false).unwrap();
    match s.add_indicator(spec(IndicatorType::Domain, "EVIL.Example.", Action::Allow), false) {
        Err(StoreError::Duplicate { existing_id }) => assert_eq!(existing_id, "1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(action(&s, "evil.example"), VerdictAction::Block);
    let r = s.add_indicator(spec(IndicatorType::Domain, "evil.example", Action::Allow), true).unwrap();
    assert_eq!(r.id, "1");
    assert_eq!(s.list().len(), 1);
    assert_eq!(action(&s, "evil.example"), VerdictAction::Allow);
    // Same value, other type: not a duplicate.
    s.add_indicator(spec(IndicatorType::Url, "evil.example", Action::Block), false).unwrap();
    assert!(matches!(s.remove("99"), Err(StoreError::NotFound(_))));
    assert!(matches!(s.remove("feed:abc"), Err(StoreError::FeedEntry(_))));
}

#[test]
fn feeds_replace_remove_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    let r = s
        .import_feed(
            "a.example\nb.example\nbad..name..123\n".as_bytes(),
            FeedFormat::Domains,
            "list1",
            FeedOptions::default(),
            50,
        )
        .unwrap();
    assert_eq!((r.imported, r.errors), (2, 1));
    assert_eq!(action(&s, "x.a.example"), VerdictAction::Block);
    // Re-import replaces the source as a whole.
    s.import_feed("c.example\n".as_bytes(), FeedFormat::Domains, "list1", FeedOptions::default(), 60).unwrap();
    assert_eq!(action(&s, "a.example"), VerdictAction::None);
    assert_eq!(action(&s, "c.example"), VerdictAction::Block);
    let opts = FeedOptions { action: Action::Audit, ..FeedOptions::default() };
    s.import_feed("0.0.0.0 d.example\n".as_bytes(), FeedFormat::Hosts, "hosts2", opts, 70).unwrap();
    drop(s);
    let mut s = PolicyStore::open(dir.path()).unwrap();
    assert!(s.problems().is_empty(), "{:?}", s.problems());
    let feeds = s.feeds();
    assert_eq!(feeds.len(), 2);
    assert_eq!((feeds[0].source.as_str(), feeds[0].entries, feeds[0].imported_at), ("hosts2", 1, 70));
    assert_eq!(action(&s, "c.example"), VerdictAction::Block);
    assert_eq!(action(&s, "d.example"), VerdictAction::Audit);
    let mut entries = Vec::new();
    s.for_each_feed_entry("list1", |i| entries.push((i.id, i.value))).unwrap();
    assert_eq!(entries.len(), 1);
    let v = s.snapshot().evaluate("c.example", EnforcementLevel::Block, 0).unwrap();
    assert_eq!(v.matched[0].id, entries[0].0, "listed id equals matched id");
    s.remove_source("list1").unwrap();
    assert_eq!(action(&s, "c.example"), VerdictAction::None);
    drop(s);
    let s = PolicyStore::open(dir.path()).unwrap();
    assert_eq!(s.feeds().len(), 1);
}

#[test]
fn bad_source_names_and_unreadable_feeds_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    for bad in ["", "../x", "a/b", CUSTOM_SOURCE, ".hidden", &"x".repeat(65)] {
        assert!(matches!(
            s.import_feed("a.example\n".as_bytes(), FeedFormat::Domains, bad, FeedOptions::default(), 0),
            Err(StoreError::InvalidSource(_))
        ));
    }
    s.import_feed(
        r#"{"objects":[{"type":"indicator","pattern":"[domain-name:value = 'a.example']"}]}"#.as_bytes(),
        FeedFormat::Stix,
        "stix",
        FeedOptions::default(),
        0,
    )
    .unwrap();
    let err =
        s.import_feed("{\"objects\":[".as_bytes(), FeedFormat::Stix, "stix", FeedOptions::default(), 0).unwrap_err();
    assert!(matches!(err, StoreError::Feed(_)), "{err}");
    assert_eq!(action(&s, "a.example"), VerdictAction::Block, "old feed kept");
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("feeds")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temp file left: {leftovers:?}");
}

#[test]
fn a_refused_import_keeps_the_old_entries_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    s.import_feed("a.example\n".as_bytes(), FeedFormat::Domains, "sub", FeedOptions::default(), 1).unwrap();
    let mut seen = None;
    let err = s
        .import_feed_if(
            "bad..one..123\nbad..two..456\n".as_bytes(),
            FeedFormat::Domains,
            "sub",
            FeedOptions::default(),
            2,
            |r| {
                seen = Some((r.imported, r.errors));
                Err(format!("{} errors and nothing imported", r.errors))
            },
        )
        .unwrap_err();
    assert!(matches!(&err, StoreError::Refused(m) if m.contains("nothing imported")), "{err}");
    assert_eq!(seen, Some((0, 2)), "the check sees the parsed report");
    assert_eq!(action(&s, "a.example"), VerdictAction::Block, "old entries kept");
    assert_eq!(s.feeds()[0].imported_at, 1);
    let names: Vec<_> = fs::read_dir(dir.path().join("feeds")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 1, "no temp file left: {names:?}");
    drop(s);
    let s = PolicyStore::open(dir.path()).unwrap();
    assert_eq!(action(&s, "a.example"), VerdictAction::Block, "and after a reopen");
}

fn write(path: &Path, data: &[u8]) {
    fs::File::create(path).unwrap().write_all(data).unwrap();
}

#[test]
fn crash_leftovers_are_ignored_and_damage_detected() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    s.add_indicator(spec(IndicatorType::Domain, "kept.example", Action::Block), false).unwrap();
    s.import_feed("f.example\n".as_bytes(), FeedFormat::Domains, "good", FeedOptions::default(), 0).unwrap();
    drop(s);
    // A writer killed mid-write leaves a temp file (its pid, 4194304, is
    // above Linux's pid_max so it cannot be alive).
    write(&dir.path().join(".indicators.json.tmp-4194304-0"), b"{\"version\":1,\"next_id\":9,\"indicat");
    write(&dir.path().join("feeds/.evil.feed.tmp-4194304-3"), b"garbage");
    // A feed damaged by other means (truncated: no trailer).
    let good = fs::read(dir.path().join("feeds/good.feed")).unwrap();
    write(&dir.path().join("feeds/trunc.feed"), &good[..good.len() - 10]);
    let mut flipped = good.clone();
    let at = flipped.iter().position(|&b| b == b'f').unwrap_or(0);
    flipped[at] = b'g';
    write(&dir.path().join("feeds/flipped.feed"), &flipped);
    let s = PolicyStore::open(dir.path()).unwrap();
    assert_eq!(s.list().len(), 1);
    assert_eq!(action(&s, "kept.example"), VerdictAction::Block);
    assert_eq!(action(&s, "f.example"), VerdictAction::Block);
    assert_eq!(s.feeds().len(), 1);
    assert_eq!(s.problems().len(), 2, "{:?}", s.problems());
    assert!(!dir.path().join(".indicators.json.tmp-4194304-0").exists(), "stale temp removed");
    assert!(!dir.path().join("feeds/.evil.feed.tmp-4194304-3").exists());
}

/// A child process adds indicators in a loop and is killed with SIGKILL at
/// some moment; the store must open with a consistent prefix of its work.
#[test]
fn survives_kill_9() {
    if let Ok(dir) = std::env::var("NETWARD_POLICY_CRASH_CHILD") {
        let mut s = PolicyStore::open(&dir).unwrap();
        for i in 0.. {
            s.add_indicator(spec(IndicatorType::Domain, &format!("d{i}.example"), Action::Block), false).unwrap();
            if i % 7 == 0 {
                let feed = format!("f{i}.example\n");
                s.import_feed(feed.as_bytes(), FeedFormat::Domains, "loop", FeedOptions::default(), i).unwrap();
            }
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0..3u64 {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "survives_kill_9", "--nocapture", "--test-threads=1"])
            .env("NETWARD_POLICY_CRASH_CHILD", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150 + 70 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let s = PolicyStore::open(dir.path()).unwrap();
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        // Ids are dense 1..=n (each child continues where the last stopped),
        // and every stored indicator is live in the snapshot.
        let n = s.list().len();
        assert!(n > 0, "the child made progress");
        for (k, ind) in s.list().iter().enumerate() {
            assert_eq!(ind.id, (k + 1).to_string());
            assert_eq!(action(&s, &ind.value), VerdictAction::Block);
        }
        if let Some(f) = s.feeds().first() {
            assert_eq!(f.entries, 1);
        }
    }
}

#[test]
fn readers_see_swaps_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    let handle = s.handle();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut seen_block = false;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let m = handle.load();
            if m.decide_domain("late.example", 0).is_some() {
                seen_block = true;
            }
        }
        seen_block
    });
    s.add_indicator(spec(IndicatorType::Domain, "late.example", Action::Block), false).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap());
}

#[test]
fn managed_indicators_replace_as_a_whole_and_rank_by_origin() {
    use netward_policy::{Indicator, Origin};
    let ind = |id: &str, value: &str, action: Action, origin: Origin, source: &str| Indicator {
        id: id.into(),
        kind: IndicatorType::Domain,
        value: value.into(),
        action,
        origin,
        source: source.into(),
        title: None,
        description: None,
        expires: None,
        category: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = PolicyStore::open(dir.path()).unwrap();
    s.add_indicator(spec(IndicatorType::Domain, "local.example", Action::Block), false).unwrap();
    let set = vec![
        // The server's feed blocks a.example; its own custom indicator allows it: custom ranks first.
        ind("srv:1", "a.example", Action::Block, Origin::ThreatFeed, "srv"),
        ind("f1", "a.example", Action::Allow, Origin::Custom, "fleet"),
        ind("srv:2", "b.example", Action::Block, Origin::ThreatFeed, "srv"),
    ];
    s.replace_managed(set.clone()).unwrap();
    assert_eq!(action(&s, "https://a.example/"), VerdictAction::Allow);
    assert_eq!(action(&s, "https://b.example/"), VerdictAction::Block);
    assert_eq!(action(&s, "https://local.example/"), VerdictAction::Block, "the device's own stay");
    drop(s);
    let mut s = PolicyStore::open(dir.path()).unwrap();
    assert_eq!(s.managed(), &set[..], "kept across a restart");
    assert_eq!(action(&s, "https://b.example/"), VerdictAction::Block);
    // A bad value refuses the whole set; the old one stays.
    let mut bad = ind("f2", "999.1.2.3", Action::Block, Origin::Custom, "fleet");
    bad.kind = IndicatorType::Ip;
    let bad = vec![bad];
    assert!(s.replace_managed(bad).is_err());
    assert_eq!(s.managed(), &set[..]);
    s.replace_managed(vec![]).unwrap();
    assert_eq!(action(&s, "https://b.example/"), VerdictAction::None);
    assert_eq!(s.list().len(), 1);
}
