//! `payments.parquet`, written column by column from [`crate::payment::Part`]s.
//!
//! The payments of a 2026 release are two million rows, half the work of an ingest when they
//! went through a DataFrame: polars' writer hashed every string and every amount to decide
//! whether a dictionary pays, and compressed the columns one after another. Here the layout
//! is known: the codes and localities are the dictionaries (their indexes are the row's
//! position), the amounts are delta-encoded (neighbouring localities differ by a few cents),
//! and every core computes and encodes whole row groups at once. Readers see
//! the same file: plain `string`, `decimal(10,2)` and `bool` columns, in `payment::COLUMNS`
//! order.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use polars::prelude::{PolarsError, PolarsResult, polars_bail};
use polars_arrow::array::{Array, BooleanArray, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field, IntegerType};
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter,
    ParquetType, StatisticsOptions, Version, WriteOptions, ZstdLevel, array_to_columns, compress,
    fallible_streaming_iterator, schema_to_metadata_key, to_parquet_type,
};

use super::write::{HashedFile, Written};
use crate::error::Result;
use crate::payment::{COLUMNS, Locality, Part, Payments, may_be_null};
use crate::tables::Table;

/// The first amount in cents that `decimal(10,2)` cannot hold.
const MAX_CENTS: u64 = 10_000_000_000;

/// Rows per row group: a part of the codes at every locality.
const ROWS_PER_GROUP: usize = 1 << 17;

/// Writes the payments of `rvus` at every locality of `gpci` to `path`. Each core takes the
/// next part of the codes, computes its amounts and encodes its row group; this thread writes
/// the row groups in order as they come. Returns the number of rows and the file's size and
/// hash.
pub fn write_file(path: &Path, rvus: &Table, gpci: &Table) -> Result<(usize, Written)> {
    let payments = Payments::of(rvus, gpci)?;
    let fail = |e: PolarsError| super::polars_error(path, e);
    let file = HashedFile::create(path)?;
    let schema = schema();
    let types: Vec<ParquetType> = schema
        .iter_values()
        .map(to_parquet_type)
        .collect::<PolarsResult<_>>()
        .map_err(fail)?;
    let declared = schema_to_metadata_key(&schema);
    let mut writer = FileWriter::try_new(file, schema, options()).map_err(fail)?;
    let ranges = payments.ranges(ROWS_PER_GROUP);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, ranges.len().max(1));
    let next = AtomicUsize::new(0);
    let (done, received) = mpsc::sync_channel::<(usize, PolarsResult<RowGroup>)>(workers);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (done, next, ranges, payments, types) =
                (done.clone(), &next, &ranges, &payments, &types);
            scope.spawn(move || {
                // Each worker reuses its last part's amount vectors (10 MB: fresh memory
                // would cost as many page faults).
                let mut reuse = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(range) = ranges.get(i) else { break };
                    let part = payments.part(range.clone(), reuse.take());
                    let group = encode(part, &payments.localities, types).map(|(group, cents)| {
                        reuse = Some(cents);
                        group
                    });
                    // The writer hangs up only after an error of its own, which it reports.
                    if done.send((i, group)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        write_in_order(&mut writer, received, |i| {
            ranges[i].len() * payments.localities.len()
        })
        .map_err(fail)
    })?;
    writer.end(Some(vec![declared])).map_err(fail)?;
    let written = writer.into_inner().finish(path)?;
    Ok((payments.rows(), written))
}

/// Writes the row groups the workers send, numbered, in their order. The parts are the same
/// size, so a worker is seldom more than a part ahead of the others and few wait here.
fn write_in_order(
    writer: &mut FileWriter<HashedFile>,
    received: mpsc::Receiver<(usize, PolarsResult<RowGroup>)>,
    rows: impl Fn(usize) -> usize,
) -> PolarsResult<()> {
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    for (i, group) in received {
        waiting.insert(i, group?);
        while let Some(group) = waiting.remove(&next) {
            write_group(writer, rows(next), group)?;
            next += 1;
        }
    }
    Ok(())
}

/// The file's Arrow schema, as readers see it: plain strings, cents as `decimal(10,2)`.
fn schema() -> ArrowSchema {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let dtype = match i {
                0..=6 => ArrowDataType::Utf8,
                7 | 8 => ArrowDataType::Boolean,
                _ => ArrowDataType::Decimal(10, 2),
            };
            // Declared required where no row can be null: no definition levels to write.
            (
                name.into(),
                Field::new(name.into(), dtype, may_be_null(name)),
            )
        })
        .collect()
}

/// zstd level 1, statistics as polars writes them, V1 pages (every reader takes them).
fn options() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(ZstdLevel::try_new(1).ok()),
        data_page_size: None,
    }
}

/// Each column's compressed pages.
type RowGroup = Vec<Vec<CompressedPage>>;

/// One row group: every column's pages, encoded and compressed; and the amounts' vectors,
/// for the next part.
fn encode(
    part: Part,
    localities: &[Locality],
    types: &[ParquetType],
) -> PolarsResult<(RowGroup, [Vec<i64>; 10])> {
    let (columns, cents) = arrays(part, localities)?;
    let options = options();
    let pages = columns
        .iter()
        .zip(types)
        .map(|((array, encoding), type_)| {
            // Delta-encoded cents are already as small as zstd would make them (265 KB
            // against 272 KB for a row group's nonfacility_amount): stored as they are.
            let compression = match encoding {
                Encoding::DeltaBinaryPacked => CompressionOptions::Uncompressed,
                _ => options.compression,
            };
            let mut pages = Vec::new();
            for leaf in array_to_columns(array, type_.clone(), options, &[*encoding])? {
                for page in leaf {
                    pages.push(compress(page?, vec![], compression)?);
                }
            }
            Ok(pages)
        })
        .collect::<PolarsResult<_>>()?;
    // The pages are copies: the arrays were the last users of the amounts' buffers.
    drop(columns);
    let cents = cents.map(|array| array.into_inner().1.to_vec());
    Ok((pages, cents))
}

fn write_group(
    writer: &mut FileWriter<HashedFile>,
    rows: usize,
    group: RowGroup,
) -> PolarsResult<()> {
    let columns = DynIter::new(group.iter().map(|pages| {
        Ok(DynStreamingIterator::new(
            fallible_streaming_iterator::convert(pages.iter().map(Ok)),
        ))
    }));
    writer.write(rows as u64, columns)
}

/// A column of a row group and how it is encoded.
type Column = (Box<dyn Array>, Encoding);

/// The part's 19 columns in `COLUMNS` order, each with its encoding, and the 10 amount
/// columns again (sharing their buffers) to take the vectors back after encoding.
fn arrays(part: Part, localities: &[Locality]) -> PolarsResult<(Vec<Column>, [Cents; 10])> {
    let each_code = Repeat::EachCode(localities.len());
    let per_code = |values: &[&str]| dictionary(values, each_code);
    let per_locality = |values: Vec<&str>| dictionary(&values, Repeat::EveryCode(part.codes()));
    let repeated = |flags: &[bool]| -> Bitmap {
        let mut bits = MutableBitmap::with_capacity(flags.len() * localities.len());
        for &flag in flags {
            bits.extend_constant(localities.len(), flag);
        }
        bits.into()
    };
    let flag = |flags: &[bool]| -> Box<dyn Array> {
        Box::new(BooleanArray::new(
            ArrowDataType::Boolean,
            repeated(flags),
            None,
        ))
    };
    let [release, variant, hcpcs, modifier, status] = &part.texts;
    let mut columns: Vec<Column> = vec![
        (per_code(release)?, Encoding::RleDictionary),
        (per_code(variant)?, Encoding::RleDictionary),
        (per_code(hcpcs)?, Encoding::RleDictionary),
        (per_code(modifier)?, Encoding::RleDictionary),
        (
            per_locality(localities.iter().map(|l| l.mac).collect())?,
            Encoding::RleDictionary,
        ),
        (
            per_locality(localities.iter().map(|l| l.locality).collect())?,
            Encoding::RleDictionary,
        ),
        (per_code(status)?, Encoding::RleDictionary),
        (flag(&part.na[0]), Encoding::Plain),
        (flag(&part.na[1]), Encoding::Plain),
    ];
    let capped = repeated(&part.capped);
    if part.largest >= MAX_CENTS {
        for (i, values) in part.cents.iter().enumerate() {
            if let Some(&cents) = values.iter().find(|c| c.unsigned_abs() >= MAX_CENTS) {
                polars_bail!(ComputeError: "{} is {cents} cents, more than decimal(10,2) holds", COLUMNS[9 + i]);
            }
        }
    }
    // `cents` holds the columns from COLUMNS[9] on.
    let mut names = COLUMNS[9..].iter();
    let cents = part.cents.map(|values| {
        let nullable = names.next().is_some_and(|name| may_be_null(name));
        let validity = nullable.then(|| capped.clone());
        PrimitiveArray::new(ArrowDataType::Int64, values.into(), validity)
    });
    for array in &cents {
        columns.push((array.clone().boxed(), Encoding::DeltaBinaryPacked));
    }
    Ok((columns, cents))
}

/// A column of amounts in cents.
type Cents = PrimitiveArray<i64>;

/// How a part's rows repeat a list of values (rows are code-major).
#[derive(Debug, Clone, Copy)]
enum Repeat {
    /// One value per code, repeated at each of this many localities.
    EachCode(usize),
    /// One value per locality, the whole list once for each of this many codes.
    EveryCode(usize),
}

impl Repeat {
    /// The row-by-row keys, from the key of each value.
    fn keys(self, key_of: &[u32]) -> Vec<u32> {
        match self {
            Repeat::EachCode(localities) => {
                let mut keys = Vec::with_capacity(key_of.len() * localities);
                for &key in key_of {
                    keys.resize(keys.len() + localities, key);
                }
                keys
            }
            Repeat::EveryCode(codes) => {
                let mut keys = Vec::with_capacity(key_of.len() * codes);
                for _ in 0..codes {
                    keys.extend_from_slice(key_of);
                }
                keys
            }
        }
    }
}

/// A dictionary-encoded string column of `values` repeated as `repeat` says. Equal values
/// share one dictionary entry.
fn dictionary(values: &[&str], repeat: Repeat) -> PolarsResult<Box<dyn Array>> {
    let mut entries: Vec<&str> = Vec::new();
    let mut seen: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    let key_of: Vec<u32> = values
        .iter()
        .map(|&v| {
            *seen.entry(v).or_insert_with(|| {
                entries.push(v);
                entries.len() as u32 - 1
            })
        })
        .collect();
    let keys = PrimitiveArray::from_vec(repeat.keys(&key_of));
    let values = Utf8ViewArray::from_slice_values(entries);
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    Ok(DictionaryArray::try_new(dtype, keys, values.boxed())?.boxed())
}
