//! The fleet server through the real binary: a real `netward server`
//! process on loopback with its store on disk, devices in separate data
//! directories filled by `netward replay --store`, uploads with `netward
//! sync`, fleet queries with `netward hunt --server`. Every event arrives
//! once; a repeated sync sends nothing and a resent store makes no double;
//! kill -9 of the server mid-upload loses no acknowledged event; wrong,
//! expired and revoked tokens, another device's rows and a server whose
//! certificate is not the pinned one are refused. All over TLS (generated
//! certificate, pinned by fingerprint) with HTTP/2.

mod common;
use common::fleet::{device_token, netward, ok, token, Device, Server};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Device {
    fn replay(&self, files: &[PathBuf]) {
        let mut c = self.cmd();
        c.args(["replay", "--store", "--no-print", "-q"]).args(files);
        ok(c);
    }

    fn sync(&self) -> Output {
        let mut c = self.cmd();
        c.arg("sync");
        c.output().unwrap()
    }

    fn local_count(&self) -> u64 {
        let mut c = self.cmd();
        c.args(["hunt", "DeviceNetworkEvents | count"]);
        let v: serde_json::Value = serde_json::from_slice(&ok(c).stdout).unwrap();
        v["Count"].as_u64().unwrap()
    }
}

fn pcaps() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    assert!(v.len() >= 6, "{v:?}");
    v
}

fn fleet(hunter_data: &Path, s: &Server, token: &str, q: &str) -> Vec<serde_json::Value> {
    let mut c = netward(hunter_data);
    c.args(["hunt", "--server", &s.url, "--fingerprint", &s.fingerprint, "--token", token, q]);
    let out = ok(c);
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn counts_per_device(hunter: &Path, url: &Server, tok: &str) -> BTreeMap<String, u64> {
    fleet(hunter, url, tok, "DeviceNetworkEvents | summarize n = count() by DeviceId")
        .into_iter()
        .map(|r| (r["DeviceId"].as_str().unwrap().to_string(), r["n"].as_u64().unwrap()))
        .collect()
}

fn doubles(hunter: &Path, url: &Server, tok: &str) -> u64 {
    let r = fleet(
        hunter,
        url,
        tok,
        "DeviceNetworkEvents | summarize c = count() by DeviceId, ReportId | where c > 1 | count",
    );
    r[0]["Count"].as_u64().unwrap()
}

#[test]
fn three_devices_each_event_once_and_refusals() {
    let t = tempfile::tempdir().unwrap();
    let sdata = t.path().join("server");
    let server = Server::start(&sdata, "127.0.0.1:0");
    let hunt = token(&sdata, &["--hunt"]);
    let files = pcaps();
    let devices: Vec<Device> = ["dev-a", "dev-b", "dev-c"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let d = Device::new(t.path(), id, &server, &device_token(&sdata, id, &[]));
            // Different captures per device, so the counts differ.
            d.replay(&files[i * 2..i * 2 + 2 + i]);
            d
        })
        .collect();
    let local: BTreeMap<String, u64> = devices.iter().map(|d| (d.id.clone(), d.local_count())).collect();
    assert!(local.values().all(|&n| n > 0), "{local:?}");

    for d in &devices {
        let out = d.sync();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("{} row(s) sent", local[&d.id])), "{}", stderr(&out));
    }
    let hunter = t.path().join("hunter");
    assert_eq!(counts_per_device(&hunter, &server, &hunt), local);
    assert_eq!(doubles(&hunter, &server, &hunt), 0);

    // A second sync sends nothing.
    for d in &devices {
        let out = d.sync();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("sync: 0 row(s) sent"), "{}", stderr(&out));
    }
    // New events: only they go.
    let before = devices[0].local_count();
    devices[0].replay(&files[files.len() - 1..]);
    let grown = devices[0].local_count();
    assert!(grown > before);
    let out = devices[0].sync();
    assert!(stderr(&out).contains(&format!("sync: {} row(s) sent", grown - before)), "{}", stderr(&out));
    // A roll (every import ends with one) moves the acknowledged live-log rows into a
    // segment: they are not sent again, and leave the cursor, which keeps only the live log.
    let csv = t.path().join("info.csv");
    std::fs::write(&csv, "Timestamp,DeviceId,DeviceName,ReportId\n2024-05-14T08:00:00Z,dev-c,pc-c,424242\n").unwrap();
    let mut c = devices[2].cmd();
    c.args(["import", "--table", "DeviceInfo"]).arg(&csv);
    ok(c);
    let out = devices[2].sync();
    assert!(
        stderr(&out).contains("sync: 1 row(s) sent") && stderr(&out).contains("(DeviceInfo 1)"),
        "{}",
        stderr(&out)
    );
    let cursor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(devices[2].data.join("sync-cursor.json")).unwrap()).unwrap();
    let dne = &cursor["tables"]["DeviceNetworkEvents"];
    assert!(dne["segments_through"].as_u64().unwrap() > 0, "{cursor}");
    assert_eq!(dne["acked"], serde_json::json!([]), "{cursor}");
    assert!(stderr(&devices[2].sync()).contains("sync: 0 row(s) sent"));
    let info = fleet(&hunter, &server, &hunt, "DeviceInfo | where DeviceId == 'dev-c' and ReportId == 424242 | count");
    assert_eq!(info[0]["Count"], 1);
    // A device that lost its cursor sends everything again: the server makes no double.
    std::fs::remove_file(devices[1].data.join("sync-cursor.json")).unwrap();
    let out = devices[1].sync();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("; {} the server already held", local["dev-b"])), "{}", stderr(&out));
    let mut expect = local.clone();
    expect.insert("dev-a".into(), grown);
    assert_eq!(counts_per_device(&hunter, &server, &hunt), expect);
    assert_eq!(doubles(&hunter, &server, &hunt), 0);

    // The devices and their last contact.
    let mut c = netward(&hunter);
    c.args(["server", "devices", "--url", &server.url, "--fingerprint", &server.fingerprint, "--token", &hunt]);
    let list: Vec<serde_json::Value> =
        String::from_utf8_lossy(&ok(c).stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list.iter().all(|d| d["LastContact"].as_str().is_some_and(|s| s.ends_with('Z'))), "{list:?}");

    // DeviceInfo lists them too, with their last contact, in KQL.
    let rows = fleet(
        &hunter,
        &server,
        &hunt,
        "DeviceInfo | where tostring(AdditionalFields.Kind) == 'LastContact' | project DeviceId, Timestamp | sort by DeviceId asc",
    );
    let ids: Vec<&str> = rows.iter().map(|r| r["DeviceId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["dev-a", "dev-b", "dev-c"], "{rows:?}");
    assert!(rows.iter().all(|r| r["Timestamp"].as_str().is_some_and(|s| s.ends_with('Z'))), "{rows:?}");

    // Refusals, each with the server's reason on stderr and exit 1.
    let refused = |d: &Device, what: &str| {
        let out = d.sync();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(what), "expected `{what}`: {err}");
        assert!(err.contains("hint: "), "{err}");
    };
    // Another DeviceId under dev-a's token.
    let tok_a = device_token(&sdata, "dev-a", &[]);
    let imposter = Device::new(t.path(), "dev-x", &server, &tok_a);
    imposter.replay(&files[..1]);
    refused(&imposter, "carries DeviceId `dev-x`, but this token is bound to DeviceId `dev-a`");
    // A wrong secret.
    let wrong_tok = format!("{}{}", &tok_a[..tok_a.len() - 1], if tok_a.ends_with('0') { "1" } else { "0" });
    let wrong = Device::new(t.path(), "dev-a2", &server, &wrong_tok);
    wrong.replay(&files[..1]);
    refused(&wrong, "unknown token");
    // An expired token.
    let short = device_token(&sdata, "dev-e", &["--expires", "1s"]);
    let expired = Device::new(t.path(), "dev-e", &server, &short);
    expired.replay(&files[..1]);
    std::thread::sleep(Duration::from_millis(1500));
    refused(&expired, "expired at");
    // A revoked token, revoked beside the running server.
    let r_tok = device_token(&sdata, "dev-r", &[]);
    let revoked = Device::new(t.path(), "dev-r", &server, &r_tok);
    revoked.replay(&files[..1]);
    let id = r_tok.split('.').nth(1).unwrap();
    let mut c = netward(&sdata);
    c.args(["server", "token", "revoke", id]);
    ok(c);
    refused(&revoked, "was revoked at");
    // A server whose certificate is not the pinned one gets nothing, not even the token.
    let other = format!("sha256:{}", "ab".repeat(32));
    let unpinned = Device::pinned(t.path(), "dev-p", &server, &device_token(&sdata, "dev-p", &[]), &other);
    unpinned.replay(&files[..1]);
    let out = unpinned.sync();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("is not the pinned {other}")), "{}", stderr(&out));
    // The fingerprint the admin hands out is the one the server serves.
    let mut c = netward(&sdata);
    c.args(["server", "fingerprint"]);
    assert_eq!(String::from_utf8(ok(c).stdout).unwrap().trim(), server.fingerprint);
    // Cleartext is for loopback only.
    let mut c = netward(&t.path().join("plain"));
    c.args(["server", "--plain-http", "--listen", "0.0.0.0:0"]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("loopback only"), "{}", stderr(&out));
    // A device token may not query the fleet.
    let mut c = netward(&hunter);
    c.args([
        "hunt",
        "--server",
        &server.url,
        "--fingerprint",
        &server.fingerprint,
        "--token",
        &tok_a,
        "DeviceNetworkEvents | count",
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("device token"), "{}", stderr(&out));
    // None of the refused rows reached the server.
    assert_eq!(counts_per_device(&hunter, &server, &hunt), expect);
    // A bad query is bad input, with its position.
    let mut c = netward(&hunter);
    c.args([
        "hunt",
        "--server",
        &server.url,
        "--fingerprint",
        &server.fingerprint,
        "--token",
        &hunt,
        "DeviceNetworkEvents | where",
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn kill_9_mid_upload_keeps_every_acknowledged_event_once() {
    let t = tempfile::tempdir().unwrap();
    let sdata = t.path().join("server");
    let mut server = Server::start(&sdata, "127.0.0.1:0");
    let hunt = token(&sdata, &["--hunt"]);
    let dev = Device::new(t.path(), "dev-k", &server, &device_token(&sdata, "dev-k", &[]));
    let cap = t.path().join("many.pcap");
    ok({
        let mut c = netward(&dev.data);
        c.args(["gen-capture", "--flows", "3000", "--bulk-bytes", "2000", "--out"]).arg(&cap);
        c
    });
    dev.replay(std::slice::from_ref(&cap));
    let local = dev.local_count();
    assert!(local > 3000, "{local}");

    // Small batches, one at a time: the upload takes many requests.
    let mut c = dev.cmd();
    c.args(["sync", "--batch-rows", "10", "--in-flight", "1"]).stderr(Stdio::piped());
    let mut sync = c.spawn().unwrap();
    let mut err = BufReader::new(sync.stderr.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !line.contains("acknowledged so far") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "sync ended before any acknowledgement");
        assert!(Instant::now() < deadline);
    }
    server.kill9();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = sync.wait().unwrap();
    assert_eq!(status.code(), Some(1), "the sync was cut mid-upload: {rest}");
    assert!(rest.contains("unreachable"), "{rest}");

    // What the device recorded as acknowledged, from its cursor.
    let cursor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dev.data.join("sync-cursor.json")).unwrap()).unwrap();
    let acked: Vec<(i64, i64)> = cursor["tables"]["DeviceNetworkEvents"]["acked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap()))
        .collect();
    let acked_rows: i64 = acked.iter().map(|(s, e)| e - s + 1).sum();
    assert!(acked_rows > 0 && (acked_rows as u64) < local, "{acked_rows} of {local}");

    // Restarted on the same address: every acknowledged event is there, once.
    let server = Server::start(&sdata, server.addr().to_string().as_str());
    let hunter = t.path().join("hunter");
    let held: Vec<i64> =
        fleet(&hunter, &server, &hunt, "DeviceNetworkEvents | where DeviceId == 'dev-k' | project ReportId")
            .iter()
            .map(|r| r["ReportId"].as_i64().unwrap())
            .collect();
    let held_set: std::collections::BTreeSet<i64> = held.iter().copied().collect();
    assert_eq!(held.len(), held_set.len(), "no double after the crash");
    for (s, e) in &acked {
        for id in *s..=*e {
            assert!(held_set.contains(&id), "acknowledged ReportId {id} lost");
        }
    }
    // The restarted server still knows when the device was last seen.
    let mut c = netward(&hunter);
    c.args(["server", "devices", "--url", &server.url, "--fingerprint", &server.fingerprint, "--token", &hunt]);
    let list: serde_json::Value = serde_json::from_slice(&ok(c).stdout).unwrap();
    assert_eq!(list["DeviceId"], "dev-k");
    assert!(list["LastContact"].as_str().is_some_and(|s| s.ends_with('Z')), "{list}");
    // The device catches up; the server still has each event once.
    let out = dev.sync();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(counts_per_device(&hunter, &server, &hunt), BTreeMap::from([("dev-k".to_string(), local)]));
    assert_eq!(doubles(&hunter, &server, &hunt), 0);
}

#[test]
fn concurrent_devices_against_one_upload_slot_lose_nothing() {
    let t = tempfile::tempdir().unwrap();
    let sdata = t.path().join("server");
    // One body read at a time: the others wait in their streams (back-pressure).
    let server = Server::start_with(&sdata, &["--listen", "127.0.0.1:0", "--max-uploads", "1"]);
    let hunt = token(&sdata, &["--hunt"]);
    let cap = t.path().join("c.pcap");
    ok({
        let mut c = netward(t.path());
        c.args(["gen-capture", "--flows", "2000", "--bulk-bytes", "2000", "--out"]).arg(&cap);
        c
    });
    let devs: Vec<Device> = ["dev-1", "dev-2", "dev-3"]
        .iter()
        .map(|id| {
            let d = Device::new(t.path(), id, &server, &device_token(&sdata, id, &[]));
            d.replay(std::slice::from_ref(&cap));
            d
        })
        .collect();
    let syncs: Vec<Child> = devs
        .iter()
        .map(|d| {
            let mut c = d.cmd();
            // Bodies of ~1 MB, several in flight: more unread data than hyper's
            // default 1 MiB connection window, so the streams waiting for the slot
            // must not take the window the stream holding it needs.
            c.args(["sync", "--batch-rows", "2500", "--in-flight", "8"]).stderr(Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    for mut s in syncs {
        loop {
            if let Some(st) = s.try_wait().unwrap() {
                assert!(st.success());
                break;
            }
            if Instant::now() > deadline {
                let _ = s.kill();
                panic!("a sync stalled (uploads waiting on each other's flow-control window)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let expect: BTreeMap<String, u64> = devs.iter().map(|d| (d.id.clone(), d.local_count())).collect();
    let hunter = t.path().join("hunter");
    assert_eq!(counts_per_device(&hunter, &server, &hunt), expect);
    assert_eq!(doubles(&hunter, &server, &hunt), 0);
}
