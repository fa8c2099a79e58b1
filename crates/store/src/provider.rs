//! The stored tables as DataFusion tables.
//!
//! [`StoreTable`] serves one table from the snapshot current when a query is
//! planned: the Parquet segments (read by DataFusion's own Parquet scan, with
//! projection, row-group and page pruning from the query's filters) unioned
//! with the log tail (in memory). Segments whose time range cannot match the
//! filters are not scanned at all. Filters are pushed down as `Inexact`:
//! DataFusion still applies them to every row.

use crate::segment::Segment;
use crate::store::{Snapshot, Store};
use crate::vfs::Vfs;
use crate::Result;
use arrow::array::{ArrayRef, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{project_schema, Column, DFSchema, ScalarValue, TableReference};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::TableType;
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::error::Result as DfResult;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use netward_events::{device_events_source, ColumnType, DeviceEventsSource, Table, DEVICE_EVENTS_ACTION_PREFIX};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// One stored table of a [`Store`], as a DataFusion table provider.
pub struct StoreTable {
    table: Table,
    schema: SchemaRef,
    shared: Arc<RwLock<Snapshot>>,
    vfs: Arc<dyn Vfs>,
}

impl std::fmt::Debug for StoreTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTable").field("table", &self.table).finish()
    }
}

impl Store {
    /// Registers every table (`DeviceNetworkEvents`, `DeviceEvents`,
    /// `DeviceInfo`, `DeviceProcessEvents`) under its exact, case-sensitive name (as KQL has it; in
    /// SQL, quote it: `"DeviceNetworkEvents"`). `DeviceEvents` is a view: its
    /// stored (imported) rows and the network protection rows of
    /// `DeviceNetworkEvents`. Each query sees the store as it is when planned.
    pub fn register(&self, ctx: &SessionContext) -> Result<()> {
        let shared = self.shared();
        register_all(ctx, |table| self.provider_over(table, shared.clone()))
    }

    /// Registers every table as of one [`Snapshot`] taken now: all
    /// scans of the session, even several of one table in a query, see the
    /// same rows, and this process's retention keeps their segment files
    /// until the tables are deregistered. Register again to see new data.
    pub fn register_snapshot(&self, ctx: &SessionContext) -> Result<()> {
        let snap = Arc::new(RwLock::new(self.snapshot()));
        register_all(ctx, |table| self.provider_over(table, snap.clone()))
    }

    /// The provider of one stored table (live: each scan takes the snapshot
    /// current when it is planned). For `DeviceEvents` these are its stored
    /// rows only; [`Store::register`] adds netward's verdict rows.
    pub fn table_provider(&self, table: Table) -> StoreTable {
        self.provider_over(table, self.shared())
    }

    fn provider_over(&self, table: Table, shared: Arc<RwLock<Snapshot>>) -> StoreTable {
        StoreTable { table, schema: Arc::new(table.arrow_schema()), shared, vfs: self.vfs().clone() }
    }
}

fn register_all(ctx: &SessionContext, provider: impl Fn(Table) -> StoreTable) -> Result<()> {
    for table in [Table::DeviceNetworkEvents, Table::DeviceInfo, Table::DeviceProcessEvents] {
        ctx.register_table(TableReference::bare(table.name()), Arc::new(provider(table)))?;
    }
    let view =
        device_events_view(Arc::new(provider(Table::DeviceEvents)), Arc::new(provider(Table::DeviceNetworkEvents)))?;
    ctx.register_table(TableReference::bare(Table::DeviceEvents.name()), Arc::new(view))?;
    Ok(())
}

/// `DeviceEvents` as users see it: the stored `DeviceEvents` rows (imports)
/// followed by netward's own network protection rows, which are stored once,
/// in `DeviceNetworkEvents`, and given `DeviceEvents`' columns as
/// [`device_events_source`] says. Filters and projections reach both scans.
pub fn device_events_view(stored: Arc<dyn TableProvider>, network: Arc<dyn TableProvider>) -> DfResult<ViewTable> {
    let de = Table::DeviceEvents;
    let stored = LogicalPlanBuilder::scan(de.name(), provider_as_source(stored), None)?.build()?;
    let action = Expr::Column(Column::new_unqualified("ActionType"));
    let prefix = datafusion::prelude::lit(DEVICE_EVENTS_ACTION_PREFIX);
    let mut cols = Vec::with_capacity(de.columns().len());
    for c in de.columns() {
        let e = match device_events_source(c.name) {
            DeviceEventsSource::Column(src) => Expr::Column(Column::new_unqualified(src)),
            DeviceEventsSource::Empty if c.ty == ColumnType::String => datafusion::prelude::lit(""),
            DeviceEventsSource::Empty => datafusion::prelude::lit(ScalarValue::try_from(&c.ty.arrow())?),
        };
        cols.push(e.alias(c.name));
    }
    let verdicts = LogicalPlanBuilder::scan(Table::DeviceNetworkEvents.name(), provider_as_source(network), None)?
        .filter(datafusion::functions::string::expr_fn::starts_with(action, prefix))?
        .project(cols)?
        .build()?;
    let plan = LogicalPlanBuilder::from(stored).union(verdicts)?.build()?;
    Ok(ViewTable::new(plan, None))
}

/// Segment time ranges as pruning statistics: one container per segment,
/// known only for `Timestamp`.
struct SegmentStats<'a>(&'a [Arc<Segment>]);

impl PruningStatistics for SegmentStats<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        (column.name == "Timestamp").then(|| {
            let v: Vec<Option<i64>> = self.0.iter().map(|s| s.min_ts.map(|t| t.0)).collect();
            Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC")) as ArrayRef
        })
    }
    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        (column.name == "Timestamp").then(|| {
            let v: Vec<Option<i64>> = self.0.iter().map(|s| s.max_ts.map(|t| t.0)).collect();
            Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC")) as ArrayRef
        })
    }
    fn num_containers(&self) -> usize {
        self.0.len()
    }
    fn null_counts(&self, _column: &Column) -> Option<ArrayRef> {
        None
    }
    fn row_counts(&self) -> Option<ArrayRef> {
        Some(Arc::new(UInt64Array::from_iter_values(self.0.iter().map(|s| s.rows))))
    }
    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<arrow::array::BooleanArray> {
        None
    }
}

impl StoreTable {
    pub fn table(&self) -> Table {
        self.table
    }

    /// The segments whose time range may match `predicate`.
    fn prune(&self, segments: Vec<Arc<Segment>>, predicate: Option<&Arc<dyn PhysicalExpr>>) -> Vec<Arc<Segment>> {
        let Some(pred) = predicate else { return segments };
        let Some(pp) = PruningPredicateBuilder::new().with_file_schema(self.schema.clone()).build(pred.clone()) else {
            return segments;
        };
        match pp.prune(&SegmentStats(&segments)) {
            Ok(keep) => segments.into_iter().zip(keep).filter_map(|(s, k)| k.then_some(s)).collect(),
            Err(_) => segments,
        }
    }

    async fn parquet_plan(
        &self,
        state: &dyn Session,
        segments: &[Arc<Segment>],
        projection: Option<&Vec<usize>>,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let groups_wanted = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups_wanted.min(segments.len())];
        // The Vfs's object store when it has one, else the local files.
        let store_url = match self.vfs.object_store_url() {
            Some(u) => ObjectStoreUrl::parse(u)?,
            None => ObjectStoreUrl::local_filesystem(),
        };
        for (i, s) in segments.iter().enumerate() {
            let location = match self.vfs.object_location(&s.path) {
                Some(l) => l,
                None => absolute(&s.path)?.to_string_lossy().into_owned(),
            };
            let mut f = PartitionedFile::new(location, s.bytes);
            f.arrow_schema = Some(self.schema.clone());
            let n = groups.len();
            groups[i % n].push(f);
        }
        let mut source = ParquetSource::new(self.schema.clone());
        if let Some(p) = predicate {
            source = source.with_predicate(p);
        }
        let conf = FileScanConfigBuilder::new(store_url, Arc::new(source))
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        // Filters are evaluated while decoding (late materialisation): the
        // other columns of a row group are decoded only for the rows that
        // pass; the page index on Timestamp skips pages outside a time range.
        let mut options = state.table_options().parquet.clone();
        options.global.pushdown_filters = true;
        options.global.reorder_filters = true;
        options.global.enable_page_index = true;
        ParquetFormat::default().with_options(options).create_physical_plan(state, conf).await
    }
}

fn absolute(p: &std::path::Path) -> DfResult<PathBuf> {
    Ok(std::path::absolute(p)?)
}

#[async_trait]
impl TableProvider for StoreTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let snap = self.shared.read().unwrap_or_else(|e| e.into_inner()).clone();
        let predicate = match conjunction(filters.to_vec()) {
            Some(expr) => Some(state.create_physical_expr(expr, &DFSchema::try_from(self.schema.clone())?)?),
            None => None,
        };
        let segments: Vec<Arc<Segment>> = snap.segments_of(self.table).cloned().collect();
        let segments = self.prune(segments, predicate.as_ref());
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        let mut memory: Vec<RecordBatch> = Vec::new();
        if !segments.is_empty() {
            if self.vfs.is_real() || self.vfs.object_store_url().is_some() {
                plans.push(self.parquet_plan(state, &segments, projection, predicate, limit).await?);
            } else {
                // A simulated file system: DataFusion cannot open the files,
                // so the segments are read through the Vfs.
                for s in &segments {
                    memory.extend(
                        s.read(self.vfs.as_ref())
                            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
                    );
                }
            }
        }
        memory.extend(snap.tail_of(self.table));
        if !memory.is_empty() {
            // Spread the batches over the target partitions for parallelism.
            let n = state.config().target_partitions().clamp(1, memory.len());
            let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
            for (i, b) in memory.into_iter().enumerate() {
                parts[i % n].push(b);
            }
            plans.push(MemorySourceConfig::try_new_exec(&parts, self.schema.clone(), projection.cloned())?);
        }
        if plans.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(&self.schema, projection)?)));
        }
        UnionExec::try_new(plans)
    }
}
