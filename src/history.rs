//! History across published releases: every PPRRVU and GPCI row version with the dates it
//! was in force, and the conversion factors by date (`history/`), plus the `codes` dataset.
//!
//! A history is a fold over releases in order: each release either carries a key's open
//! version on unchanged, ends it, or starts a new one (see [`extend`]). Publishing the newest
//! release applies one step to the stored history; anything else (a back-filled release, a
//! revision) refolds every published release.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalog::{ReleaseId, effective_from};
use crate::error::{Error, Result};
use crate::published::{polars_error, write_frame};
use crate::tables::{Record, Table, TableKind, Value, pprrvu};

/// The day before an ISO date (`2025-04-01` -> `2025-03-31`).
pub fn day_before(date: &str) -> String {
    let parts: Vec<i64> = date.split('-').filter_map(|p| p.parse().ok()).collect();
    let [y, m, d] = parts[..] else {
        return date.to_string();
    };
    let days = days_from_civil(y, m, d) - 1;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// Howard Hinnant's civil-date algorithms (public domain), for day arithmetic without a crate.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A key as text (every key column of PPRRVU and GPCI is a code or label).
type Key = Vec<Option<String>>;

/// The tables of one release, by kind.
pub type Tables<'a> = BTreeMap<TableKind, &'a Table>;

/// What one release does to a history: open versions that run on, open versions that end,
/// and the rows of the versions it starts.
struct Step {
    id: ReleaseId,
    continuing: HashSet<Key>,
    ending: HashSet<Key>,
    started: DataFrame,
}

pub(crate) fn string_column(name: &str, values: Vec<Option<String>>) -> Column {
    let chunked: StringChunked = values.iter().map(|v| v.as_deref()).collect();
    chunked.into_series().with_name(name.into()).into_column()
}

/// The PPRRVU history's key: a code's versions run along its lineage, not its variant.
pub const PPRRVU_KEY: &[&str] = &["lineage", "hcpcs", "modifier"];

/// The lineage a PPRRVU variant's rows continue: 2025's `standard` carries on as 2026's
/// `non_qpp` (the default payment variant); `qpp` starts its own in 2026.
pub fn lineage(variant: &str) -> &'static str {
    if variant == "qpp" {
        "qpp"
    } else {
        DEFAULT_LINEAGE
    }
}

/// The lineage of the default payment variant (`standard`, then `non_qpp`).
pub const DEFAULT_LINEAGE: &str = "non_qpp";

/// Columns a version is not compared on: the release, the variant's name (it changes at the
/// 2026 split while the lineage runs on) and the conversion factor (history of its own, in
/// `conversion_factors.parquet`; it changes every code each year).
const NOT_COMPARED: &[&str] = &["release_id", "variant", "conversion_factor"];

/// A row's history key: the table's natural key, with a PPRRVU variant as its lineage.
fn history_key(table: &Table, key: &[usize], variant: Option<usize>, record: &Record) -> Key {
    key.iter()
        .map(|&i| {
            let text = record.values[i].as_text();
            match Some(i) == variant && table.kind == TableKind::Pprrvu {
                true => Some(lineage(text.unwrap_or("")).to_string()),
                false => text.map(str::to_string),
            }
        })
        .collect()
}

/// The first row of each key (later duplicates are validation's business, not history's).
fn first_per_key(table: &Table) -> HashMap<Key, &Record> {
    let key = table.key_indexes();
    let variant = table.column_index("variant");
    let mut out = HashMap::with_capacity(table.rows.len());
    for record in &table.rows {
        out.entry(history_key(table, &key, variant, record))
            .or_insert(record);
    }
    out
}

/// The columns two versions are compared on: all but [`NOT_COMPARED`] and the columns the
/// prior release's file did not have (empty in every row: 2026's `pricing_indicator`).
fn compared_columns(kind: TableKind, prior: Option<&Table>) -> Vec<usize> {
    kind.columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| !NOT_COMPARED.contains(&c.name))
        .filter(|(i, _)| {
            prior.is_none_or(|t| {
                t.rows.is_empty() || t.rows.iter().any(|r| r.values[*i] != Value::Null)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// New versions' rows: the canonical columns, then last release and the dates in force.
fn started_frame(kind: TableKind, id: ReleaseId, records: &[&Record]) -> PolarsResult<DataFrame> {
    let height = records.len();
    let mut df = crate::published::write::rows_to_dataframe(kind.columns(), records)?;
    let same = |text: Option<String>| vec![text; height];
    if kind == TableKind::Pprrvu {
        let variants = text_column(&df, "variant")?;
        let lineages: Vec<Option<String>> = variants
            .iter()
            .map(|v| Some(lineage(v.unwrap_or("")).to_string()))
            .collect();
        df.insert_column(2, string_column("lineage", lineages))?;
        df.drop_in_place("conversion_factor")?;
    }
    for column in [
        string_column("last_release_id", same(Some(id.to_string()))),
        string_column("effective_from", same(Some(effective_from(id)))),
        string_column("effective_to", same(None)),
    ] {
        df.with_column(column)?;
    }
    Ok(df)
}

/// The step a release's table makes after the prior release's table (None: the first).
fn table_step(
    kind: TableKind,
    prior: Option<&Table>,
    next: &Table,
    id: ReleaseId,
) -> PolarsResult<Step> {
    let compared = compared_columns(kind, prior);
    let same = |a: &Record, b: &Record| compared.iter().all(|&i| a.values[i] == b.values[i]);
    let before = prior.map(first_per_key).unwrap_or_default();
    let after = first_per_key(next);
    let (mut continuing, mut ending) = (HashSet::new(), HashSet::new());
    for (key, old) in &before {
        match after.get(key) {
            Some(new) if same(old, new) => continuing.insert(key.clone()),
            _ => ending.insert(key.clone()),
        };
    }
    let started: Vec<&Record> = after
        .into_iter()
        .filter(|(key, _)| !continuing.contains(key))
        .map(|(_, record)| record)
        .collect();
    Ok(Step {
        id,
        continuing,
        ending,
        started: started_frame(kind, id, &started)?,
    })
}

const CF_KEY: &[&str] = &["variant"];

fn cf_frame(id: ReleaseId, runs: &[(String, String)]) -> PolarsResult<DataFrame> {
    let col = |name: &str, f: &dyn Fn(&(String, String)) -> Option<String>| {
        string_column(name, runs.iter().map(f).collect())
    };
    DataFrame::new(
        runs.len(),
        vec![
            col("variant", &|r| Some(r.0.clone())),
            col("conversion_factor", &|r| Some(r.1.clone())),
            col("release_id", &|_| Some(id.to_string())),
            col("last_release_id", &|_| Some(id.to_string())),
            col("effective_from", &|_| Some(effective_from(id))),
            col("effective_to", &|_| None),
        ],
    )
}

fn cf_step(prior: Option<&Table>, next: &Table, id: ReleaseId) -> PolarsResult<Step> {
    let before = prior.map(pprrvu::conversion_factors).unwrap_or_default();
    let after = pprrvu::conversion_factors(next);
    let (mut continuing, mut ending) = (HashSet::new(), HashSet::new());
    for (variant, cf) in &before {
        let key = vec![Some(variant.clone())];
        if after.get(variant) == Some(cf) {
            continuing.insert(key);
        } else {
            ending.insert(key);
        }
    }
    let started: Vec<(String, String)> = after
        .into_iter()
        .filter(|(variant, _)| !continuing.contains(&vec![Some(variant.clone())]))
        .collect();
    Ok(Step {
        id,
        continuing,
        ending,
        started: cf_frame(id, &started)?,
    })
}

fn text_column(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    Ok(df.column(name)?.str()?.clone())
}

fn keys_of(df: &DataFrame, key_cols: &[&str]) -> PolarsResult<Vec<Key>> {
    let columns = key_cols
        .iter()
        .map(|c| text_column(df, c))
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok((0..df.height())
        .map(|i| {
            columns
                .iter()
                .map(|c| c.get(i).map(str::to_string))
                .collect()
        })
        .collect())
}

/// Moves a history on by one release. Returns false, changing nothing, when the history's
/// open versions are not exactly the keys the step expects (it was built from other releases).
fn extend(history: &mut DataFrame, key_cols: &[&str], step: Step) -> PolarsResult<bool> {
    let keys = keys_of(history, key_cols)?;
    let mut last: Vec<Option<String>> = text_column(history, "last_release_id")?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect();
    let mut to: Vec<Option<String>> = text_column(history, "effective_to")?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect();
    let ended = day_before(&effective_from(step.id));
    let mut open = 0;
    for (i, key) in keys.iter().enumerate() {
        if to[i].is_some() {
            continue;
        }
        open += 1;
        if step.continuing.contains(key) {
            last[i] = Some(step.id.to_string());
        } else if step.ending.contains(key) {
            to[i] = Some(ended.clone());
        } else {
            return Ok(false);
        }
    }
    if open != step.continuing.len() + step.ending.len() {
        return Ok(false);
    }
    history.with_column(string_column("last_release_id", last))?;
    history.with_column(string_column("effective_to", to))?;
    history.vstack_mut(&step.started)?;
    Ok(true)
}

/// Rows in key order, each key's versions oldest first: the same bytes however it was built.
fn sorted(history: &DataFrame, key_cols: &[&str]) -> PolarsResult<DataFrame> {
    let keys = keys_of(history, key_cols)?;
    let first = text_column(history, "release_id")?;
    let mut order: Vec<(Key, Option<ReleaseId>, IdxSize)> = keys
        .into_iter()
        .zip(first.iter())
        .zip(0..)
        .map(|((k, f), i)| (k, f.and_then(|f| f.parse().ok()), i))
        .collect();
    order.sort();
    let idx = IdxCa::from_vec("idx".into(), order.into_iter().map(|(_, _, i)| i).collect());
    let mut out = history.take(&idx)?;
    // One chunk, so the Parquet bytes do not depend on how the rows were gathered.
    out.rechunk_mut();
    Ok(out)
}

/// The three histories as they are built: PPRRVU, GPCI and conversion factors.
struct Histories {
    pprrvu: DataFrame,
    gpci: DataFrame,
    cf: DataFrame,
}

impl Histories {
    fn empty(id: ReleaseId) -> PolarsResult<Histories> {
        Ok(Histories {
            pprrvu: started_frame(TableKind::Pprrvu, id, &[])?,
            gpci: started_frame(TableKind::Gpci, id, &[])?,
            cf: cf_frame(id, &[])?,
        })
    }

    /// Applies one release; `prior` holds, per table, the last table the histories took in
    /// (a release without a GPCI file leaves its open versions running). False when the
    /// histories' open versions are not `prior`'s keys.
    fn apply(&mut self, prior: &Tables, next: &Tables, id: ReleaseId) -> PolarsResult<bool> {
        let mut ok = true;
        if let Some(table) = next.get(&TableKind::Pprrvu) {
            let before = prior.get(&TableKind::Pprrvu).copied();
            let step = table_step(TableKind::Pprrvu, before, table, id)?;
            ok &= extend(&mut self.pprrvu, PPRRVU_KEY, step)?;
            ok &= extend(&mut self.cf, CF_KEY, cf_step(before, table, id)?)?;
        }
        if let Some(table) = next.get(&TableKind::Gpci) {
            let before = prior.get(&TableKind::Gpci).copied();
            let step = table_step(TableKind::Gpci, before, table, id)?;
            ok &= extend(&mut self.gpci, TableKind::Gpci.key(), step)?;
        }
        Ok(ok)
    }
}

/// Which published release versions a stored history was built from.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct State {
    /// (release id, sha256 of its manifest.json), oldest first.
    releases: Vec<(ReleaseId, String)>,
}

fn published_state(output: &Path) -> State {
    State {
        releases: crate::published::published(output)
            .into_iter()
            .map(|(id, dir)| {
                let sha = fs::read(dir.join("manifest.json"))
                    .map(|b| crate::stages::extract::sha256_hex(&b))
                    .unwrap_or_default();
                (id, sha)
            })
            .collect(),
    }
}

fn read_state(history: &Path) -> Option<State> {
    serde_json::from_slice(&fs::read(history.join("state.json")).ok()?).ok()
}

fn read_frame(path: &Path) -> Result<DataFrame> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| polars_error(path, e))
}

/// Brings `history/` up to date after `id` was published: [`plan`], then [`Plan::write`].
pub fn update(
    output: &Path,
    id: ReleaseId,
    next: &Tables,
    prior: Option<(ReleaseId, &Tables)>,
    cpt_descriptions: bool,
) -> Result<()> {
    match plan(output, id, next, prior, cpt_descriptions)? {
        Some(plan) => plan.write(output),
        None => Ok(()),
    }
}

/// The history and `codes` once `id` is published, computed from the releases published
/// before it and `id`'s tables in hand, so it can be worked out while `id` is being
/// published (the publishing of `id` does not change what it reads) and written after.
pub struct Plan {
    id: ReleaseId,
    histories: Histories,
    codes: (DataFrame, String),
}

/// One step on the stored history when `id` is newer than every other published release and
/// the history holds exactly those releases, else a refold of every published release.
/// None when the newest release has no PPRRVU table (the history waits for one).
pub fn plan(
    output: &Path,
    id: ReleaseId,
    next: &Tables,
    prior: Option<(ReleaseId, &Tables)>,
    cpt_descriptions: bool,
) -> Result<Option<Plan>> {
    let dir = output.join("history");
    let others = State {
        releases: published_state(output)
            .releases
            .into_iter()
            .filter(|(r, _)| *r != id)
            .collect(),
    };
    let newest = others.releases.last().is_none_or(|(last, _)| *last < id);
    let appends = newest
        && !others.releases.is_empty()
        && prior.map(|(p, _)| p) == others.releases.last().map(|(r, _)| *r)
        && read_state(&dir).as_ref() == Some(&others);
    if appends {
        let clock = std::time::Instant::now();
        let mut histories = Histories {
            pprrvu: read_frame(&dir.join("pprrvu.parquet"))?,
            gpci: read_frame(&dir.join("gpci.parquet"))?,
            cf: read_frame(&dir.join("conversion_factors.parquet"))?,
        };
        // A prior release without a GPCI (or PPRRVU) file: that history ends at the last
        // release that had one.
        let mut before: Tables = prior.map(|(_, t)| t.clone()).unwrap_or_default();
        let older = older_tables(output, id, next, &before)?;
        before.extend(older.iter().map(|(k, t)| (*k, t)));
        tracing::debug!("history: read in {:?}", clock.elapsed());
        let applied = histories
            .apply(&before, next, id)
            .map_err(|e| polars_error(&dir, e))?;
        tracing::debug!("history: applied at {:?}", clock.elapsed());
        if let (true, Some(latest)) = (applied, next.get(&TableKind::Pprrvu)) {
            tracing::info!("history: {id} appended to the stored history");
            return Plan::new(output, histories, (id, latest), cpt_descriptions).map(Some);
        }
        tracing::info!("history: stored history does not end at the prior release; rebuilding");
    }
    if others.releases.is_empty() {
        tracing::info!("history: started with {id}");
    } else {
        tracing::info!("history: rebuilt from every published release");
    }
    // This release's tables are in hand: the rebuild takes them instead of reading them back.
    fold(output, cpt_descriptions, Some((id, next)))
}

impl Plan {
    /// Sorts the histories and works out `codes` for the newest release, `latest`.
    fn new(
        output: &Path,
        histories: Histories,
        latest: (ReleaseId, &Table),
        cpt_descriptions: bool,
    ) -> Result<Plan> {
        let dir = output.join("history");
        let fail = |e: PolarsError| polars_error(&dir, e);
        let clock = std::time::Instant::now();
        let histories = Histories {
            pprrvu: sorted(&histories.pprrvu, PPRRVU_KEY).map_err(fail)?,
            gpci: sorted(&histories.gpci, TableKind::Gpci.key()).map_err(fail)?,
            cf: sorted(&histories.cf, CF_KEY).map_err(fail)?,
        };
        tracing::debug!("history: sorted in {:?}", clock.elapsed());
        let codes = crate::codes::codes(latest.0, latest.1, &histories.pprrvu, cpt_descriptions)
            .map_err(fail)?;
        tracing::debug!("history: codes at {:?}", clock.elapsed());
        Ok(Plan {
            id: latest.0,
            histories,
            codes,
        })
    }

    /// Writes the histories, `codes` and the state (the releases published now) to a staging
    /// folder and swaps it in.
    pub fn write(self, output: &Path) -> Result<()> {
        self.stage(output)?.commit(output)
    }

    /// Writes the histories and `codes` to a staging folder, which can be done while the
    /// release is being published; [`Staged::commit`] swaps it in once it is.
    pub fn stage(self, output: &Path) -> Result<Staged> {
        let staging = output
            .join(".staging")
            .join(format!("history.{}", std::process::id()));
        let staged = Staged {
            id: self.id,
            staging,
            committed: false,
        };
        write_files(&staged.staging, self.histories, self.codes)?;
        Ok(staged)
    }
}

/// The history's files written to a staging folder, waiting for their release to be in place.
/// Dropped without [`Staged::commit`] (the release failed), the folder is removed.
pub struct Staged {
    id: ReleaseId,
    staging: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes the state (the releases published now, which must include this one) and swaps
    /// the folder in as `history/`, as releases are.
    pub fn commit(mut self, output: &Path) -> Result<()> {
        let state = published_state(output);
        if !state.releases.iter().any(|(r, _)| *r == self.id) {
            return Err(Error::Output {
                what: output.join("history").display().to_string(),
                message: format!("history: {} is not published", self.id),
            });
        }
        let path = self.staging.join("state.json");
        fs::write(
            &path,
            serde_json::to_string_pretty(&state).unwrap_or_default() + "\n",
        )
        .map_err(|e| Error::io(&path, e))?;
        crate::published::replace_dir(&self.staging, &output.join("history"))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// The tables `next` has and `prior` lacks, from the latest earlier release that has them.
fn older_tables(
    output: &Path,
    id: ReleaseId,
    next: &Tables,
    prior: &Tables,
) -> Result<BTreeMap<TableKind, Table>> {
    let mut found = BTreeMap::new();
    let missing: Vec<TableKind> = [TableKind::Pprrvu, TableKind::Gpci]
        .into_iter()
        .filter(|kind| next.contains_key(kind) && !prior.contains_key(kind))
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    let published = crate::published::published(output);
    for kind in missing {
        for (_, dir) in published.iter().rev().filter(|(r, _)| *r < id) {
            if let Some(table) = crate::published::load_tables(dir, &[kind])?.remove(&kind) {
                found.insert(kind, table);
                break;
            }
        }
    }
    Ok(found)
}

/// Rebuilds `history/` when it was not built from exactly the releases published now (a run
/// was killed between publishing a release and updating the history).
pub fn ensure_current(output: &Path, cpt_descriptions: bool) -> Result<()> {
    let now = published_state(output);
    if now.releases.is_empty() || read_state(&output.join("history")).as_ref() == Some(&now) {
        return Ok(());
    }
    tracing::info!("history: behind the published releases; rebuilding");
    rebuild(output, cpt_descriptions)
}

type Loaded = Vec<(ReleaseId, BTreeMap<TableKind, Table>)>;

/// The PPRRVU and GPCI tables of every published release but `skip`, oldest first, read on
/// all cores.
fn load_published(output: &Path, skip: Option<ReleaseId>) -> Result<Loaded> {
    let mut published = crate::published::published(output);
    published.retain(|(id, _)| Some(*id) != skip);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let chunk = published.len().div_ceil(workers).max(1);
    let kinds = [TableKind::Pprrvu, TableKind::Gpci];
    std::thread::scope(|scope| {
        let handles: Vec<_> = published
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(id, dir)| Ok((*id, crate::published::load_tables(dir, &kinds)?)))
                        .collect::<Result<Loaded>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            all.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            );
        }
        Ok(all)
    })
}

/// Rebuilds `history/` and the `codes` dataset from every release published under `output`.
pub fn rebuild(output: &Path, cpt_descriptions: bool) -> Result<()> {
    match fold(output, cpt_descriptions, None)? {
        Some(plan) => plan.write(output),
        None => Ok(()),
    }
}

/// The history folded over every published release, with `in_hand`'s tables taken instead
/// of its files (or added, while it is being published). None when there is nothing to fold.
fn fold(
    output: &Path,
    cpt_descriptions: bool,
    in_hand: Option<(ReleaseId, &Tables)>,
) -> Result<Option<Plan>> {
    let loaded = load_published(output, in_hand.map(|(id, _)| id))?;
    let mut releases: Vec<(ReleaseId, Tables)> = loaded
        .iter()
        .map(|(id, tables)| (*id, tables.iter().map(|(k, t)| (*k, t)).collect()))
        .collect();
    if let Some((id, tables)) = in_hand {
        releases.push((id, tables.clone()));
        releases.sort_by_key(|(id, _)| *id);
    }
    let Some((latest_id, latest)) = releases.last() else {
        return Ok(None);
    };
    let dir = output.join("history");
    let fail = |e: PolarsError| polars_error(&dir, e);
    let mut histories = Histories::empty(releases[0].0).map_err(fail)?;
    let mut prior = Tables::new();
    for (id, next) in &releases {
        if !histories.apply(&prior, next, *id).map_err(fail)? {
            return Err(Error::Output {
                what: dir.display().to_string(),
                message: format!("history: {id} does not follow the releases before it"),
            });
        }
        prior.extend(next.iter().map(|(k, t)| (*k, *t)));
    }
    let Some(latest_table) = latest.get(&TableKind::Pprrvu) else {
        return Ok(None);
    };
    Plan::new(
        output,
        histories,
        (*latest_id, latest_table),
        cpt_descriptions,
    )
    .map(Some)
}

/// Writes the sorted histories and `codes` into `staging` (created afresh).
fn write_files(staging: &Path, histories: Histories, codes: (DataFrame, String)) -> Result<()> {
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    }
    fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    let Histories {
        mut pprrvu,
        mut gpci,
        mut cf,
    } = histories;
    let (mut codes, lines) = codes;
    for (name, frame) in [
        ("pprrvu", &mut pprrvu),
        ("gpci", &mut gpci),
        ("conversion_factors", &mut cf),
        ("codes", &mut codes),
    ] {
        let dataset = if name == "codes" {
            "codes".to_string()
        } else {
            format!("history/{name}")
        };
        crate::published::timed(&dataset, "parquet", || {
            write_frame(&staging.join(format!("{name}.parquet")), frame)
        })?;
    }
    let path = staging.join("codes.jsonl");
    crate::published::timed("codes", "jsonl", || {
        fs::write(&path, lines).map_err(|e| Error::io(&path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_before() {
        assert_eq!(day_before("2025-04-01"), "2025-03-31");
        assert_eq!(day_before("2024-03-09"), "2024-03-08");
        assert_eq!(day_before("2024-03-01"), "2024-02-29");
        assert_eq!(day_before("2025-01-01"), "2024-12-31");
    }
}
