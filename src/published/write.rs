//! Writing datasets: canonical CSV, Parquet (plain Arrow types), and the time each took.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::io::parquet::write::KeyValueMetadata;
use polars::prelude::*;
use polars_parquet::write::ZstdLevel;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::stages::extract::hex;
use crate::tables::{ColumnSpec, DecimalBuf, Kind, Record, Table, Value};

/// Runs one dataset write and logs its time (`RUST_LOG=info`, the default in CI logs), so a
/// regression in one dataset shows where it is.
pub fn timed<T>(dataset: &str, format: &str, write: impl FnOnce() -> Result<T>) -> Result<T> {
    let clock = std::time::Instant::now();
    let result = write();
    tracing::info!(
        dataset,
        format,
        ms = format!("{:.1}", clock.elapsed().as_secs_f64() * 1000.0),
        "published"
    );
    result
}

/// A written file's size and sha256, taken from the bytes on their way out (the manifest
/// lists them: reading the files back to hash them was a serial tail of every publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// A file being written through a buffer, hashed as it goes.
pub struct HashedFile {
    file: BufWriter<fs::File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashedFile {
    pub fn create(path: &Path) -> Result<HashedFile> {
        let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(HashedFile {
            file: BufWriter::with_capacity(1 << 17, file),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Flushes (so a full disk is reported, not dropped) and returns size and hash.
    pub fn finish(mut self, path: &Path) -> Result<Written> {
        self.file.flush().map_err(|e| Error::io(path, e))?;
        Ok(Written {
            bytes: self.bytes,
            sha256: hex(&self.hasher.finalize()),
        })
    }
}

impl Write for HashedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// CSV with the canonical header; decimals at their precision, booleans as true/false.
pub fn write_csv(path: &Path, table: &Table) -> Result<Written> {
    let fail = |e: csv::Error| Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_writer(HashedFile::create(path)?);
    let columns = table.columns();
    writer
        .write_record(columns.iter().map(|c| c.name))
        .map_err(fail)?;
    let mut buf = DecimalBuf::default();
    for record in &table.rows {
        for (value, column) in record.values.iter().zip(columns) {
            writer
                .write_field(value.field(column.kind, &mut buf))
                .map_err(fail)?;
        }
        writer.write_record(None::<&[u8]>).map_err(fail)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?
        .finish(path)
}

/// The table as a typed DataFrame: text as String, decimals as Decimal(p, s), flags as Boolean.
pub fn to_dataframe(table: &Table) -> PolarsResult<DataFrame> {
    let rows: Vec<&Record> = table.rows.iter().collect();
    rows_to_dataframe(table.columns(), &rows)
}

/// [`to_dataframe`] of some rows of a table with `columns`, taken by reference.
pub fn rows_to_dataframe(columns: &[ColumnSpec], rows: &[&Record]) -> PolarsResult<DataFrame> {
    let height = rows.len();
    let columns = columns
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let name = PlSmallStr::from_static(spec.name);
            let values = rows.iter().map(|r| &r.values[i]);
            let series = match spec.kind {
                Kind::Decimal { precision, scale } => {
                    let ints: Int128Chunked = values
                        .map(|v| match v {
                            Value::Dec(m) => Some(i128::from(*m)),
                            _ => None,
                        })
                        .collect();
                    ints.into_decimal(precision, scale as usize)?
                        .into_series()
                        .with_name(name)
                }
                Kind::Flag { .. } => {
                    let flags: BooleanChunked = values
                        .map(|v| match v {
                            Value::Bool(b) => Some(*b),
                            _ => None,
                        })
                        .collect();
                    flags.into_series().with_name(name)
                }
                Kind::Text | Kind::FreeText | Kind::KeyText | Kind::Code { .. } => {
                    let texts: StringChunked = values.map(|v| v.as_text()).collect();
                    texts.into_series().with_name(name)
                }
            };
            Ok(series.into_column())
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(height, columns)
}

pub fn write_parquet(path: &Path, table: &Table) -> Result<Written> {
    let mut df = to_dataframe(table).map_err(|e| polars_error(path, e))?;
    write_frame(path, &mut df)
}

/// Writes a frame as zstd-compressed Parquet (every dataset this tool publishes).
pub fn write_frame(path: &Path, df: &mut DataFrame) -> Result<Written> {
    let mut file = HashedFile::create(path)?;
    let schema = df.schema().clone();
    parquet_writer(&mut file, &schema)
        .finish(df)
        .map_err(|e| polars_error(path, e))?;
    file.finish(path)
}

/// zstd level 1: for `payments.parquet` (RVU25A, a million rows) smaller than the default
/// level 3 (16.8 MB against 17.6 MB) and faster to write (470 ms against 490 ms).
fn zstd_level() -> Option<ZstdLevel> {
    ZstdLevel::try_new(1).ok()
}

/// A zstd Parquet writer whose stored Arrow schema declares plain `utf8` strings.
///
/// Polars writes the string data the same either way, but it declares its in-memory
/// `string_view` type in the file's `ARROW:schema`, and pyarrow then reads `string_view`
/// columns that many of its kernels, and older readers (Spark, BI tools), cannot use. The
/// writer keeps a schema given under that key, so this one replaces polars' own.
pub(crate) fn parquet_writer<W: Write>(file: W, schema: &Schema) -> ParquetWriter<W> {
    let mut arrow = schema.to_arrow(CompatLevel::oldest());
    for field in arrow.iter_values_mut() {
        field.dtype = match &field.dtype {
            ArrowDataType::Utf8View | ArrowDataType::LargeUtf8 => ArrowDataType::Utf8,
            ArrowDataType::BinaryView | ArrowDataType::LargeBinary => ArrowDataType::Binary,
            other => other.clone(),
        };
    }
    let declared = polars_parquet::write::schema_to_metadata_key(&arrow);
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(zstd_level()))
        .with_key_value_metadata(Some(KeyValueMetadata::Static(vec![declared])))
}

pub fn polars_error(path: &Path, e: PolarsError) -> Error {
    Error::Output {
        what: path.display().to_string(),
        message: e.to_string(),
    }
}
