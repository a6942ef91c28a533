//! Medicare physician fee schedule payment, as CMS's National Physician Fee Schedule Payment
//! Amount File computes it: RVUs (0.01) x GPCIs (0.001) x conversion factor (0.0001), exact,
//! rounded half up to cents only at the end; the OPPS cap; the non-participating amount and
//! the limiting charge. The `payments` dataset and `rvu lookup` both call [`settings`].

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Location, Result};
use crate::tables::{Record, Table, Value};

// PPRRVU's status domain lives with the table (one copy): re-exported for the payment code.
pub use crate::tables::pprrvu::{PAYABLE, status_meaning};

/// The three RVUs of one setting, in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rvus {
    pub work: i64,
    pub pe: i64,
    pub mp: i64,
}

/// A locality's three GPCIs, in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gpcis {
    pub pw: i64,
    pub pe: i64,
    pub mp: i64,
}

/// GPCIs of 1.000: the national amount.
pub const NATIONAL: Gpcis = Gpcis {
    pw: 1000,
    pe: 1000,
    mp: 1000,
};

/// One setting's amounts, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Amounts {
    /// The fee schedule amount from the printed RVUs, before the OPPS cap (CMS's payment
    /// file prints it in an NA setting too).
    pub amount: i64,
    /// The OPPS-based cap for the setting at the locality: the same formula on PPRRVU's
    /// "PE/MP used for OPPS payment amount" RVUs (None when those are all zero, as CMS's
    /// payment file prints OPPS indicator 9).
    pub opps_cap: Option<i64>,
    /// What a participating provider is paid: the lower of the amount and the cap.
    pub par: i64,
    /// 95% of `par`.
    pub nonpar: i64,
    /// 115% of `nonpar`, i.e. 109.25% of `par`.
    pub limiting_charge: i64,
}

/// Rounds a value in units of 10^-`scale` dollars to cents, half up (away from zero).
fn to_cents(value: i128, scale: u32) -> i64 {
    let unit = 10i128.pow(scale - 2);
    let rounded = if value >= 0 {
        (value + unit / 2) / unit
    } else {
        (value - unit / 2) / unit
    };
    rounded as i64
}

/// ((work x PW GPCI) + (PE x PE GPCI) + (MP x MP GPCI)) x CF, in cents.
pub fn fee_schedule_amount(rvus: Rvus, gpci: Gpcis, cf: i64) -> i64 {
    let adjusted = i128::from(rvus.work) * i128::from(gpci.pw)
        + i128::from(rvus.pe) * i128::from(gpci.pe)
        + i128::from(rvus.mp) * i128::from(gpci.mp);
    // RVU (1e-2) x GPCI (1e-3) x CF (1e-4): dollars at scale 9.
    to_cents(adjusted * i128::from(cf), 9)
}

/// One setting's amounts. The non-participating amount and the limiting charge are taken
/// from the rounded (and capped) participating amount, as a reader of CMS's file would.
pub fn amounts(rvus: Rvus, gpci: Gpcis, cf: i64, opps_cap: Option<i64>) -> Amounts {
    let amount = fee_schedule_amount(rvus, gpci, cf);
    let par = opps_cap.map_or(amount, |cap| amount.min(cap));
    Amounts {
        amount,
        opps_cap,
        par,
        // cents x 95/100 and x 10925/10000, at scale 4 and 6 before rounding.
        nonpar: to_cents(i128::from(par) * 95, 4),
        limiting_charge: to_cents(i128::from(par) * 10925, 6),
    }
}

pub fn dollars(cents: i64) -> String {
    crate::tables::format_decimal(cents, 2)
}

/// The payment inputs of one PPRRVU row.
#[derive(Debug, Clone, Copy)]
pub struct CodeRvus {
    pub nonfacility: Rvus,
    pub facility: Rvus,
    /// The RVUs CMS prices the OPPS cap with (work, and the "used for OPPS payment amount"
    /// PE and MP), per setting; None when the row has no OPPS RVUs.
    pub opps: Option<(Rvus, Rvus)>,
    pub cf: i64,
}

/// Both settings of a code at a locality: (non-facility, facility). The one computation of
/// a payment: the dataset and lookup both come here.
pub fn settings(code: &CodeRvus, gpci: Gpcis) -> (Amounts, Amounts) {
    let cap = |pick: fn(&(Rvus, Rvus)) -> Rvus| {
        code.opps
            .as_ref()
            .map(|o| fee_schedule_amount(pick(o), gpci, code.cf))
    };
    (
        amounts(code.nonfacility, gpci, code.cf, cap(|o| o.0)),
        amounts(code.facility, gpci, code.cf, cap(|o| o.1)),
    )
}

/// True when CMS's payment file lists the row: a payable status and some RVU not zero.
pub fn listed(status: &str, code: &CodeRvus) -> bool {
    let zero = |r: Rvus| r.work == 0 && r.pe == 0 && r.mp == 0;
    PAYABLE.contains(&status) && !(zero(code.nonfacility) && zero(code.facility))
}

/// A table's column index by name; a table without it is an error naming the column.
pub fn column(table: &Table, name: &str) -> Result<usize> {
    table.column_index(name).ok_or_else(|| Error::Parse {
        location: Location::file(table.file.clone()).with_column(name),
        message: format!("the {} table has no column '{name}'", table.kind),
    })
}

/// Column indexes of PPRRVU, found by name once.
pub struct PprrvuColumns {
    pub release: usize,
    pub variant: usize,
    pub hcpcs: usize,
    pub modifier: usize,
    pub status: usize,
    pub work: usize,
    pub nf_pe: usize,
    pub f_pe: usize,
    pub mp: usize,
    pub cf: usize,
    pub nf_na: usize,
    pub f_na: usize,
    pub opps_nf_pe: usize,
    pub opps_f_pe: usize,
    pub opps_mp: usize,
}

impl PprrvuColumns {
    pub fn of(t: &Table) -> Result<PprrvuColumns> {
        Ok(PprrvuColumns {
            release: column(t, "release_id")?,
            variant: column(t, "variant")?,
            hcpcs: column(t, "hcpcs")?,
            modifier: column(t, "modifier")?,
            status: column(t, "status_code")?,
            work: column(t, "work_rvu")?,
            nf_pe: column(t, "nonfacility_pe_rvu")?,
            f_pe: column(t, "facility_pe_rvu")?,
            mp: column(t, "mp_rvu")?,
            cf: column(t, "conversion_factor")?,
            nf_na: column(t, "nonfacility_na")?,
            f_na: column(t, "facility_na")?,
            opps_nf_pe: column(t, "opps_nonfacility_pe_rvu")?,
            opps_f_pe: column(t, "opps_facility_pe_rvu")?,
            opps_mp: column(t, "opps_mp_rvu")?,
        })
    }

    /// The RVUs and CF of a row; an empty one is an error (never $0.00).
    pub fn rvus(&self, table: &Table, r: &Record) -> Result<CodeRvus> {
        let d = |i: usize| decimal(table, r, i);
        let (work, mp) = (d(self.work)?, d(self.mp)?);
        let (opps_nf, opps_f, opps_mp) =
            (d(self.opps_nf_pe)?, d(self.opps_f_pe)?, d(self.opps_mp)?);
        let opps = (opps_nf != 0 || opps_f != 0 || opps_mp != 0).then_some((
            Rvus {
                work,
                pe: opps_nf,
                mp: opps_mp,
            },
            Rvus {
                work,
                pe: opps_f,
                mp: opps_mp,
            },
        ));
        Ok(CodeRvus {
            opps,
            nonfacility: Rvus {
                work,
                pe: d(self.nf_pe)?,
                mp,
            },
            facility: Rvus {
                work,
                pe: d(self.f_pe)?,
                mp,
            },
            cf: d(self.cf)?,
        })
    }
}

/// A decimal cell; empty or not a number is an error naming the file, row and column.
pub fn decimal(table: &Table, r: &Record, i: usize) -> Result<i64> {
    match &r.values[i] {
        Value::Dec(m) => Ok(*m),
        other => Err(Error::Parse {
            location: Location::file(table.file.clone())
                .with_row(r.source_row)
                .with_column(table.columns()[i].name),
            message: format!(
                "{:?} where a payment needs a number",
                other.render(table.columns()[i].kind)
            ),
        }),
    }
}

fn text(r: &Record, i: usize) -> &str {
    r.values[i].as_text().unwrap_or("")
}

/// A GPCI row's MAC, locality and GPCIs.
pub struct GpciColumns {
    pub mac: usize,
    pub locality: usize,
    pw: usize,
    pe: usize,
    mp: usize,
}

impl GpciColumns {
    pub fn of(t: &Table) -> Result<GpciColumns> {
        Ok(GpciColumns {
            mac: column(t, "mac")?,
            locality: column(t, "locality")?,
            pw: column(t, "pw_gpci")?,
            pe: column(t, "pe_gpci")?,
            mp: column(t, "mp_gpci")?,
        })
    }

    pub fn gpcis(&self, table: &Table, r: &Record) -> Result<Gpcis> {
        Ok(Gpcis {
            pw: decimal(table, r, self.pw)?,
            pe: decimal(table, r, self.pe)?,
            mp: decimal(table, r, self.mp)?,
        })
    }
}

/// The columns of `payments.parquet`, in order.
pub const COLUMNS: [&str; 19] = [
    "release_id",
    "variant",
    "hcpcs",
    "modifier",
    "mac",
    "locality",
    "status_code",
    "nonfacility_na",
    "facility_na",
    "nonfacility_amount",
    "facility_amount",
    "nonfacility_opps_cap",
    "facility_opps_cap",
    "nonfacility_par",
    "facility_par",
    "nonfacility_nonpar",
    "facility_nonpar",
    "nonfacility_limiting_charge",
    "facility_limiting_charge",
];

/// The rows CMS's payment file lists (payable statuses, some RVU not zero) at every locality
/// of `gpci`, per variant, in frames of about `rows_per_frame` rows handed to `sink` one at a
/// time (a 2026 release has over two million). Returns the number of rows.
pub fn frames(
    rvus: &Table,
    gpci: &Table,
    rows_per_frame: usize,
    mut sink: impl FnMut(&mut DataFrame) -> Result<()>,
) -> Result<usize> {
    let c = PprrvuColumns::of(rvus)?;
    let g = GpciColumns::of(gpci)?;
    let localities: Vec<(&str, &str, Gpcis)> = gpci
        .rows
        .iter()
        .map(|r| Ok((text(r, g.mac), text(r, g.locality), g.gpcis(gpci, r)?)))
        .collect::<Result<_>>()?;
    let mut listed_rows = Vec::new();
    for r in &rvus.rows {
        if !PAYABLE.contains(&text(r, c.status)) {
            continue;
        }
        let code = c.rvus(rvus, r)?;
        if listed(text(r, c.status), &code) {
            listed_rows.push((r, code));
        }
    }
    let codes_per_frame = (rows_per_frame / localities.len().max(1)).max(1);
    let mut total = 0;
    for part in listed_rows.chunks(codes_per_frame) {
        let mut df = part_frame(part, &localities, &c)?;
        total += df.height();
        sink(&mut df)?;
    }
    if listed_rows.is_empty() {
        sink(&mut part_frame(&[], &localities, &c)?)?;
    }
    Ok(total)
}

/// One frame: `part`'s codes x every locality, code-major. The columns that depend only on
/// the code or only on the locality are built once per code or locality and gathered (a
/// copy of 16-byte string views), so only the amounts are computed per row.
fn part_frame(
    part: &[(&Record, CodeRvus)],
    localities: &[(&str, &str, Gpcis)],
    c: &PprrvuColumns,
) -> Result<DataFrame> {
    let fail = |e: PolarsError| Error::Output {
        what: "payments".into(),
        message: e.to_string(),
    };
    let height = part.len() * localities.len();
    let texts = |name: &str, values: Vec<&str>| -> Column {
        let chunked: StringChunked = values.into_iter().map(Some).collect();
        chunked.into_series().with_name(name.into()).into_column()
    };
    let flags = |name: &str, values: Vec<bool>| -> Column {
        let chunked: BooleanChunked = values.into_iter().map(Some).collect();
        chunked.into_series().with_name(name.into()).into_column()
    };
    let of_code = |i: usize| part.iter().map(move |(r, _)| text(r, i)).collect();
    let na = |i: usize| {
        part.iter()
            .map(|(r, _)| r.values[i] == Value::Bool(true))
            .collect()
    };
    let per_code = DataFrame::new(
        part.len(),
        vec![
            texts("release_id", of_code(c.release)),
            texts("variant", of_code(c.variant)),
            texts("hcpcs", of_code(c.hcpcs)),
            texts("modifier", of_code(c.modifier)),
            texts("status_code", of_code(c.status)),
            flags("nonfacility_na", na(c.nf_na)),
            flags("facility_na", na(c.f_na)),
        ],
    )
    .map_err(fail)?;
    let per_locality = DataFrame::new(
        localities.len(),
        vec![
            texts("mac", localities.iter().map(|l| l.0).collect()),
            texts("locality", localities.iter().map(|l| l.1).collect()),
        ],
    )
    .map_err(fail)?;
    let (mut code_index, mut locality_index) =
        (Vec::with_capacity(height), Vec::with_capacity(height));
    // The 8 amounts every row has, then the 2 caps, in `COLUMNS` order within each.
    let mut amounts: [Vec<i128>; 8] = std::array::from_fn(|_| Vec::with_capacity(height));
    let mut caps: [Vec<Option<i128>>; 2] = std::array::from_fn(|_| Vec::with_capacity(height));
    for (i, (_, code)) in part.iter().enumerate() {
        for (j, &(_, _, gpci)) in localities.iter().enumerate() {
            code_index.push(i as IdxSize);
            locality_index.push(j as IdxSize);
            let (nf, f) = settings(code, gpci);
            let row = [
                nf.amount,
                f.amount,
                nf.par,
                f.par,
                nf.nonpar,
                f.nonpar,
                nf.limiting_charge,
                f.limiting_charge,
            ];
            for (column, value) in amounts.iter_mut().zip(row) {
                column.push(i128::from(value));
            }
            caps[0].push(nf.opps_cap.map(i128::from));
            caps[1].push(f.opps_cap.map(i128::from));
        }
    }
    let gather =
        |df: &DataFrame, index: Vec<IdxSize>| df.take(&IdxCa::from_vec("index".into(), index));
    let mut frame = gather(&per_code, code_index).map_err(fail)?;
    frame
        .hstack_mut(
            gather(&per_locality, locality_index)
                .map_err(fail)?
                .columns(),
        )
        .map_err(fail)?;
    let money = |name: &str, cents: Int128Chunked| -> Result<Column> {
        let dollars = cents.into_decimal(10, 2).map_err(fail)?;
        Ok(dollars.into_series().with_name(name.into()).into_column())
    };
    let amount_names = COLUMNS[9..].iter().filter(|n| !n.ends_with("_opps_cap"));
    for (name, cents) in amount_names.zip(amounts) {
        let column = money(name, Int128Chunked::from_vec((*name).into(), cents))?;
        frame.with_column(column).map_err(fail)?;
    }
    let cap_names = COLUMNS[9..].iter().filter(|n| n.ends_with("_opps_cap"));
    for (name, cents) in cap_names.zip(caps) {
        frame
            .with_column(money(name, cents.into_iter().collect())?)
            .map_err(fail)?;
    }
    frame.select(COLUMNS).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_amount_is_total_rvus_times_cf() {
        // 99213 RVU25A non-facility: (1.30 + 1.35 + 0.10) x 32.3465 = 88.952875 -> 88.95
        let rvus = Rvus {
            work: 130,
            pe: 135,
            mp: 10,
        };
        let a = amounts(rvus, NATIONAL, 323465, None);
        assert_eq!((a.amount, a.par), (8895, 8895));
        // 95% of 88.95 = 84.5025 -> 84.50; 109.25% of 88.95 = 97.177875 -> 97.18
        assert_eq!(a.nonpar, 8450);
        assert_eq!(a.limiting_charge, 9718);
    }

    #[test]
    fn the_opps_cap_binds_only_when_lower() {
        // PFAK25A: 70496 PFS 316.40, OPPS 300.66 -> 300.66; 70450 124.37 vs 167.57 -> 124.37.
        let rvus = Rvus {
            work: 100,
            pe: 0,
            mp: 0,
        };
        let a = amounts(rvus, NATIONAL, 316_4000, Some(30066));
        assert_eq!((a.amount, a.par), (31640, 30066));
        let b = amounts(rvus, NATIONAL, 124_3700, Some(16757));
        assert_eq!((b.amount, b.par), (12437, 12437));
    }
}
