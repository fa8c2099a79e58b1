//! The session a fleet query runs in: the server's store as of one
//! snapshot, with `DeviceInfo` extended by one row per device the server
//! has heard from: `Timestamp` = its last contact, `AdditionalFields` =
//! `{"Source":"netward server","Kind":"LastContact"}`, so `DeviceInfo`
//! lists the fleet's devices with their last contact, beside the rows the
//! devices uploaded themselves.

use crate::segments::SegmentStore;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::{provider_as_source, MemTable, ViewTable};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::SessionContext;
use netward_events::{Record, Table, Timestamp};
use netward_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CONTACT_FIELDS: &str = r#"{"Source":"netward server","Kind":"LastContact"}"#;

/// Registers the store's tables as of now, and `DeviceInfo` with the
/// contact rows (`contacts`: DeviceId -> Unix ns).
pub fn register(
    store: &Store,
    segments: &SegmentStore,
    contacts: &BTreeMap<String, i64>,
    session: &SessionContext,
) -> Result<(), String> {
    // The segments are read by DataFusion through the server's object store.
    session.register_object_store(&segments.url, segments.store.clone());
    store.register_snapshot(session).map_err(|e| e.to_string())?;
    let err = |e: datafusion::error::DataFusionError| e.to_string();
    let name = Table::DeviceInfo.name();
    // A bare reference: a plain string would be parsed and lower-cased.
    let stored: Arc<dyn TableProvider> = session
        .deregister_table(TableReference::bare(name))
        .map_err(err)?
        .ok_or_else(|| format!("{name} was not registered"))?;
    let mut rows = Vec::with_capacity(contacts.len());
    for (dev, &ns) in contacts {
        let mut r = Record::new(Table::DeviceInfo);
        let set = |r: &mut Record, c: &str, v: &str| r.set_text(c, v).map_err(|e| format!("{c}: {e}"));
        set(&mut r, "Timestamp", &Timestamp::from_unix_nanos(ns).to_string())?;
        set(&mut r, "DeviceId", dev)?;
        set(&mut r, "AdditionalFields", CONTACT_FIELDS)?;
        rows.push(r);
    }
    let batch = netward_store::records_to_batch(Table::DeviceInfo, &rows).map_err(|e| e.to_string())?;
    let mem = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(err)?;
    let plan = LogicalPlanBuilder::scan(name, provider_as_source(stored), None)
        .and_then(|b| b.build())
        .and_then(|s| {
            let contacts = LogicalPlanBuilder::scan("LastContact", provider_as_source(Arc::new(mem)), None)?.build()?;
            LogicalPlanBuilder::from(s).union(contacts)?.build()
        })
        .map_err(err)?;
    session.register_table(TableReference::bare(name), Arc::new(ViewTable::new(plan, None))).map_err(err)?;
    Ok(())
}
