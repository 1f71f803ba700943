//! The codecs that carry granary's scan through Ballista: the logical codec encodes a
//! [`GranuleScanTable`] (and the in-memory tables of an inventory session, for SQL on the
//! cluster) in the plan the client sends to the scheduler, the physical codec a
//! [`GranuleScanExec`] in the tasks the scheduler sends to executors. Everything else goes to
//! Ballista's own codecs. Stock Ballista processes cannot decode these nodes, which is why
//! granary has its own scheduler and executor (`granary cluster`).
//!
//! A granary node is the bytes [`MAGIC`] followed by its JSON: the recipe (no secrets), and
//! for the table the partitions' URLs (the execution node's URLs are its input, encoded by
//! DataFusion as an in-memory source).

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use crate::recipe::{ExtractorFactory, ScanRecipe};
use crate::scan_exec::GranuleScanExec;
use crate::scan_table::GranuleScanTable;

/// The prefix of every granary node.
pub const MAGIC: &[u8] = b"granary-scan/1\n";

/// The prefix of an in-memory table (the `granules` and `errors` tables of an inventory
/// session), followed by its partitions as Arrow IPC streams, each preceded by its length.
pub const MEMTABLE_MAGIC: &[u8] = b"granary-memtable/1\n";

fn encode_memtable(t: &MemTable, buf: &mut Vec<u8>) -> DfResult<()> {
    buf.extend_from_slice(MEMTABLE_MAGIC);
    for partition in &t.batches {
        let batches = partition.try_read().map_err(|_| {
            DataFusionError::Execution("an in-memory table is being written".to_string())
        })?;
        let mut ipc = Vec::new();
        let mut w = StreamWriter::try_new(&mut ipc, &t.schema())?;
        for b in batches.iter() {
            w.write(b)?;
        }
        w.finish()?;
        drop(w);
        buf.extend_from_slice(&(ipc.len() as u64).to_le_bytes());
        buf.extend_from_slice(&ipc);
    }
    Ok(())
}

fn decode_memtable(mut bytes: &[u8], schema: SchemaRef) -> DfResult<MemTable> {
    let truncated = || DataFusionError::Execution("a truncated in-memory table".to_string());
    let mut partitions = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<8>().ok_or_else(truncated)?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| truncated())?;
        let ipc = rest.get(..len).ok_or_else(truncated)?;
        bytes = &rest[len..];
        let reader = StreamReader::try_new(ipc, None)?;
        partitions.push(reader.collect::<Result<Vec<_>, _>>()?);
    }
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    MemTable::try_new(schema, partitions)
}

#[derive(Deserialize)]
struct Node {
    recipe: ScanRecipe,
    #[serde(default)]
    partitions: Vec<Vec<String>>,
}

/// A node as written (borrowed: nothing is copied to encode it).
#[derive(Serialize)]
struct NodeRef<'a> {
    recipe: &'a ScanRecipe,
    partitions: &'a [Vec<String>],
}

fn encode(recipe: &ScanRecipe, partitions: &[Vec<String>], buf: &mut Vec<u8>) -> DfResult<()> {
    buf.extend_from_slice(MAGIC);
    serde_json::to_writer(buf, &NodeRef { recipe, partitions })
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The granary node in `buf`, if it holds one.
fn decode(buf: &[u8]) -> Option<DfResult<Node>> {
    let json = buf.strip_prefix(MAGIC)?;
    Some(serde_json::from_slice(json).map_err(|e| DataFusionError::External(Box::new(e))))
}

/// Ballista's logical codec, plus granary's scan table.
#[derive(Debug, Default)]
pub struct GranaryLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for GranaryLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        if let Some(ipc) = buf.strip_prefix(MEMTABLE_MAGIC) {
            return Ok(Arc::new(decode_memtable(ipc, schema)?));
        }
        match decode(buf) {
            Some(node) => {
                let node = node?;
                Ok(Arc::new(GranuleScanTable {
                    recipe: node.recipe,
                    partitions: node.partitions,
                }))
            }
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        if let Some(t) = node.downcast_ref::<MemTable>() {
            return encode_memtable(t, buf);
        }
        match node.downcast_ref::<GranuleScanTable>() {
            Some(t) => encode(&t.recipe, &t.partitions, buf),
            None => self
                .ballista
                .try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> DfResult<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec, plus granary's scan node; `factory` builds the extractors of
/// the nodes it decodes (executors), `None` where plans are only passed on (the scheduler).
#[derive(Debug, Default)]
pub struct GranaryPhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
    factory: Option<Arc<dyn ExtractorFactory>>,
}

impl GranaryPhysicalCodec {
    pub fn with_factory(factory: Arc<dyn ExtractorFactory>) -> Self {
        Self {
            ballista: BallistaPhysicalExtensionCodec::default(),
            factory: Some(factory),
        }
    }
}

impl PhysicalExtensionCodec for GranaryPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match decode(buf) {
            Some(node) => {
                let node = node?;
                let [input] = inputs else {
                    return Err(DataFusionError::Internal(format!(
                        "GranuleScanExec has one input, the plan gives {}",
                        inputs.len()
                    )));
                };
                Ok(Arc::new(GranuleScanExec::new(
                    node.recipe,
                    input.clone(),
                    self.factory.clone(),
                )))
            }
            None => self.ballista.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        match node.downcast_ref::<GranuleScanExec>() {
            Some(scan) => encode(scan.recipe(), &[], buf),
            None => self.ballista.try_encode(node, buf, proto_converter),
        }
    }
}
