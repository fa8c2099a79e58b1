//! The server's segments in its object store: after a roll they are plain
//! Parquet files in the store path (read back with the parquet crate, not
//! through netward), a fleet query reads them through the object store
//! registered in its session, dedupe survives a restart, and a segment the
//! manifest does not name (a roll that never committed) is deleted on open.
//! The local file system in the store directory (the default) and in
//! another directory (`file:///DIR`); an S3-compatible store (moto's
//! server, started by the test) with the `s3` feature.

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use datafusion::prelude::SessionContext;
use netward_events::{Record, Table, Timestamp, Value};
use netward_server::ingest::Ingest;
use netward_server::SegmentStoreConfig;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};

fn rows(device: &str, ids: std::ops::Range<i64>) -> RecordBatch {
    let recs: Vec<Record> = ids
        .map(|i| {
            let mut r = Record::new(Table::DeviceNetworkEvents);
            r.set("Timestamp", Value::DateTime(Timestamp(1_700_000_000_000_000_000 + i))).unwrap();
            r.set("DeviceId", Value::String(device.into())).unwrap();
            r.set("ReportId", Value::Long(i)).unwrap();
            r.set("RemoteUrl", Value::String(format!("h{i}.example"))).unwrap();
            r
        })
        .collect();
    netward_store::records_to_batch(Table::DeviceNetworkEvents, &recs).unwrap()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    v.sort();
    v
}

/// ReportIds of every Parquet file, read with the parquet crate alone.
fn parquet_report_ids(files: &[PathBuf]) -> Vec<i64> {
    let mut ids = Vec::new();
    for f in files {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap()).unwrap().build().unwrap();
        for b in reader {
            let b = b.unwrap();
            let col = b.column_by_name("ReportId").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
            let dev = b.column_by_name("DeviceId").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
            assert!((0..b.num_rows()).all(|i| dev.value(i) == "dev-a"));
            ids.extend(col.values().iter().copied());
        }
    }
    ids.sort_unstable();
    ids
}

/// (rows, distinct ReportIds) of DeviceNetworkEvents through a fleet
/// query's session: the store's snapshot, segments read via the object store.
fn query_counts(ingest: &Ingest) -> (i64, i64) {
    let session = SessionContext::new();
    let seg = ingest.segment_store().clone();
    session.register_object_store(&seg.url, seg.store.clone());
    ingest.with_store(|s| s.register_snapshot(&session)).unwrap().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let batches = rt.block_on(async {
        let df = session
            .sql(r#"SELECT count(*) AS n, count(DISTINCT "ReportId") AS d FROM "DeviceNetworkEvents""#)
            .await
            .unwrap();
        df.collect().await.unwrap()
    });
    let n = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
    let d = batches[0].column(1).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
    (n, d)
}

/// Upload, roll, check the Parquet files in `segments_dir`, query, restart,
/// resend (all duplicates), plant an uncommitted segment and reopen.
fn exercise(store_dir: &Path, config: &SegmentStoreConfig, segments_dir: Option<&Path>) {
    let ingest = Ingest::open(store_dir, config).unwrap();
    assert_eq!(ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![rows("dev-a", 0..3000)]).unwrap(), (3000, 0));
    assert_eq!(ingest.roll().unwrap(), 3000);
    // Rows still in the log (not rolled) and in segments are counted once.
    assert_eq!(
        ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![rows("dev-a", 2000..3500)]).unwrap(),
        (500, 1000)
    );
    assert_eq!(query_counts(&ingest), (3500, 3500));
    if let Some(dir) = segments_dir {
        let files = segment_files(dir);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(parquet_report_ids(&files), (0..3000).collect::<Vec<_>>());
    }
    drop(ingest);

    // A restart re-indexes from the object store: a resend is all doubles.
    let ingest = Ingest::open(store_dir, config).unwrap();
    assert_eq!(ingest.accept(Table::DeviceNetworkEvents, "dev-a", vec![rows("dev-a", 0..3500)]).unwrap(), (0, 3500));
    assert_eq!(ingest.roll().unwrap(), 500);
    assert_eq!(query_counts(&ingest), (3500, 3500));
    drop(ingest);

    if let Some(dir) = segments_dir {
        assert_eq!(parquet_report_ids(&segment_files(dir)), (0..3500).collect::<Vec<_>>());
        // A segment written by a roll that never committed its manifest.
        let orphan = dir.join("seg-00000000000000009999-DeviceNetworkEvents.parquet");
        std::fs::copy(&segment_files(dir)[0], &orphan).unwrap();
        let ingest = Ingest::open(store_dir, config).unwrap();
        assert!(!orphan.exists(), "recovery keeps a segment the manifest does not name");
        assert_eq!(query_counts(&ingest), (3500, 3500));
    }
}

#[test]
fn local_default_segments_are_parquet_in_the_store_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    exercise(&store, &SegmentStoreConfig::Local, Some(&store));
    // The log and manifest stay beside them.
    assert!(store.join("MANIFEST").exists());
}

#[test]
fn local_dir_segments_live_in_the_configured_dir_only() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let elsewhere = tmp.path().join("objects");
    let url = format!("file://{}", elsewhere.display());
    let config = SegmentStoreConfig::parse(&url).unwrap();
    exercise(&store, &config, Some(&elsewhere));
    assert!(segment_files(&store).is_empty(), "segments in the store dir: {:?}", segment_files(&store));
}

#[cfg(feature = "s3")]
mod s3 {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    /// moto's S3 server on a free loopback port; killed on drop.
    struct Moto(Child, u16);

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn start_moto() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server (pip install 'moto[server]', as .ci/run does)");
        // It logs "Running on http://127.0.0.1:PORT" when it listens.
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "moto_server ended before listening");
            if line.contains("Running on") {
                break;
            }
        }
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Moto(child, port)
    }

    #[test]
    fn s3_segments_are_parquet_objects_in_the_bucket() {
        let moto = start_moto();
        let endpoint = format!("http://127.0.0.1:{}", moto.1);
        // The bucket, by moto's plain REST API (a PUT on the bucket's path).
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut config = SegmentStoreConfig::parse("s3://fleet-events/netward/seg").unwrap();
        if let SegmentStoreConfig::S3(c) = &mut config {
            c.endpoint = endpoint.clone();
            c.region = "us-east-1".into();
            c.access_key_id = "test".into();
            c.secret_access_key = "test".into();
            c.allow_http = true;
        }
        let status = Command::new("curl")
            .args(["-sf", "-X", "PUT", &format!("{endpoint}/fleet-events")])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "could not create the bucket");
        let store = tmp.path().join("store");
        exercise(&store, &config, None);
        assert!(segment_files(&store).is_empty(), "segments on the local disk with an S3 store");
        // The objects, listed and read back through object_store directly.
        let seg = netward_server::segments::SegmentStore::open(&config, &store).unwrap();
        let files: Vec<PathBuf> = rt.block_on(async {
            use futures_util::TryStreamExt;
            use object_store::ObjectStoreExt;
            let prefix = object_store::path::Path::from("netward/seg");
            let metas: Vec<_> = seg.store.list(Some(&prefix)).try_collect().await.unwrap();
            let mut out = Vec::new();
            for (i, m) in metas.iter().enumerate() {
                assert!(m.location.as_ref().ends_with(".parquet"), "{}", m.location);
                let bytes = seg.store.get(&m.location).await.unwrap().bytes().await.unwrap();
                let p = tmp.path().join(format!("{i}.parquet"));
                std::fs::write(&p, &bytes).unwrap();
                out.push(p);
            }
            out
        });
        assert_eq!(files.len(), 2, "one segment per roll");
        assert_eq!(parquet_report_ids(&files), (0..3500).collect::<Vec<_>>());
    }
}
