//! The reports without AWS: the same SQL on an embedded DataFusion over a lake directory
//! laid out as in S3 (`table/dt=YYYY-MM-DD/*.parquet`, as [`crate::archive::DirLake`]
//! writes it). One partition, so a rerun returns rows in the same order and bytes.

use super::{Cell, Period, Report, ReportResult, SqlError, Table, VIEWS, bind_inline, compose};
use crate::archive::parquet::TABLES;
use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::parquet_to_arrow_schema;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::SchemaDescriptor;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("lake {0}: not a directory")]
    NoLake(String),
    #[error("the lake's table schemas: {0}")]
    Schema(#[from] parquet::errors::ParquetError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("section {section}: {source}")]
    Query { section: &'static str, source: DataFusionError },
    #[error("registering the lake: {0}")]
    Register(DataFusionError),
}

pub struct EmbeddedLake {
    context: SessionContext,
}

/// A table's Arrow schema from its Parquet schema, with the `dt` partition column last.
fn schema(parquet_schema: &str) -> Result<(Schema, Schema), parquet::errors::ParquetError> {
    let descriptor = SchemaDescriptor::new(Arc::new(parse_message_type(parquet_schema)?));
    let file = parquet_to_arrow_schema(&descriptor, None)?;
    let mut fields: Vec<Field> = file.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("dt", DataType::Utf8, false));
    Ok((file, Schema::new(fields)))
}

impl EmbeddedLake {
    /// Every lake table under `root`; a table with no objects yet is empty.
    pub async fn open(root: &Path) -> Result<Self, EmbeddedError> {
        if !root.is_dir() {
            return Err(EmbeddedError::NoLake(root.display().to_string()));
        }
        let context = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        for (name, parquet_schema) in TABLES {
            let (file, with_dt) = schema(parquet_schema)?;
            let dir = root.join(name);
            if !dir.is_dir() {
                let empty =
                    MemTable::try_new(Arc::new(with_dt), vec![vec![]]).map_err(EmbeddedError::Register)?;
                context.register_table(name, Arc::new(empty)).map_err(EmbeddedError::Register)?;
                continue;
            }
            let url =
                ListingTableUrl::parse(format!("{}/", dir.canonicalize().unwrap_or(dir.clone()).display()))
                    .map_err(EmbeddedError::Register)?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("dt".to_owned(), DataType::Utf8)]);
            let config =
                ListingTableConfig::new(url).with_listing_options(options).with_schema(Arc::new(file));
            let table = ListingTable::try_new(config).map_err(EmbeddedError::Register)?;
            context.register_table(name, Arc::new(table)).map_err(EmbeddedError::Register)?;
        }
        Ok(EmbeddedLake { context })
    }

    /// Runs one SQL statement (parameters already bound).
    pub async fn query(&self, sql: &str) -> Result<Table, DataFusionError> {
        let frame = self.context.sql(sql).await?;
        let columns = frame.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut rows = Vec::new();
        for batch in frame.collect().await? {
            let cells: Vec<Vec<Cell>> =
                batch.columns().iter().map(|c| cells(c.as_ref())).collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                rows.push(cells.iter().map(|c| c[r].clone()).collect());
            }
        }
        Ok(Table { columns, rows })
    }

    pub async fn run(&self, report: &'static Report, period: Period) -> Result<ReportResult, EmbeddedError> {
        let mut sections = Vec::with_capacity(report.sections.len());
        for section in report.sections {
            let sql = bind_inline(&compose(VIEWS, section.sql), &period)?;
            let table = self
                .query(&sql)
                .await
                .map_err(|source| EmbeddedError::Query { section: section.name, source })?;
            sections.push((section.name, table));
        }
        Ok(ReportResult { report, period, sections })
    }
}

/// A column's values: integers and floats as numbers, the rest as the engine prints them.
fn cells(array: &dyn Array) -> Result<Vec<Cell>, DataFusionError> {
    let nulls = |f: &dyn Fn(usize) -> Cell| -> Vec<Cell> {
        (0..array.len()).map(|i| if array.is_null(i) { Cell::Null } else { f(i) }).collect()
    };
    Ok(match array.data_type() {
        t if t.is_integer() => {
            let ints = cast(array, &DataType::Int64)?;
            let ints = ints
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| DataFusionError::Internal("int64".into()))?;
            nulls(&|i| Cell::Int(ints.value(i)))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let floats = cast(array, &DataType::Float64)?;
            let floats = floats
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| DataFusionError::Internal("float64".into()))?;
            nulls(&|i| Cell::Float(floats.value(i)))
        }
        DataType::Boolean => {
            let b = array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| DataFusionError::Internal("bool".into()))?;
            nulls(&|i| Cell::Bool(b.value(i)))
        }
        _ => {
            let format = ArrayFormatter::try_new(array, &FormatOptions::default())?;
            nulls(&|i| Cell::Text(format.value(i).to_string()))
        }
    })
}
