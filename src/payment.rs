//! Medicare physician fee schedule payment, as CMS's National Physician Fee Schedule Payment
//! Amount File computes it: RVUs (0.01) x GPCIs (0.001) x conversion factor (0.0001), exact,
//! rounded half up to cents only at the end; the OPPS cap; the non-participating amount and
//! the limiting charge. The `payments` dataset and `rvu lookup` both call [`settings`].

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

/// Rounds a value in units of 10^-`SCALE` dollars to cents, half up (away from zero).
fn to_cents<const SCALE: u32>(value: i128) -> i64 {
    if let Ok(small) = i64::try_from(value)
        && let Some(cents) = small_to_cents::<SCALE>(small)
    {
        return cents;
    }
    let unit = 10i128.pow(SCALE - 2);
    let rounded = if value >= 0 {
        (value + unit / 2) / unit
    } else {
        (value - unit / 2) / unit
    };
    rounded as i64
}

/// [`to_cents`] in 64 bits, where division is several times faster than in 128 (two million
/// rows of a 2026 release divide five times each); None beyond 62 bits.
fn small_to_cents<const SCALE: u32>(value: i64) -> Option<i64> {
    if value.unsigned_abs() >= 1 << 62 {
        return None;
    }
    let unit = 10i64.pow(SCALE - 2);
    Some(if value >= 0 {
        (value + unit / 2) / unit
    } else {
        (value - unit / 2) / unit
    })
}

/// ((work x PW GPCI) + (PE x PE GPCI) + (MP x MP GPCI)) x CF, in cents.
pub fn fee_schedule_amount(rvus: Rvus, gpci: Gpcis, cf: i64) -> i64 {
    let adjusted = i128::from(rvus.work) * i128::from(gpci.pw)
        + i128::from(rvus.pe) * i128::from(gpci.pe)
        + i128::from(rvus.mp) * i128::from(gpci.mp);
    // RVU (1e-2) x GPCI (1e-3) x CF (1e-4): dollars at scale 9.
    to_cents::<9>(adjusted * i128::from(cf))
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
        nonpar: to_cents::<4>(i128::from(par) * 95),
        limiting_charge: to_cents::<6>(i128::from(par) * 10925),
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

/// Whether a `payments` column can be null: only the OPPS caps, absent where a code has no
/// OPPS RVUs (every other amount is due; a missing RVU is an error, never a null).
pub fn may_be_null(column: &str) -> bool {
    column.ends_with("_opps_cap")
}

/// A locality of the GPCI the payments use.
#[derive(Debug, Clone, Copy)]
pub struct Locality<'a> {
    pub mac: &'a str,
    pub locality: &'a str,
    gpcis: Gpcis,
}

/// The rows CMS's payment file lists (payable statuses, some RVU not zero) at every locality
/// of a GPCI, per variant: the codes and localities, found and checked once, then computed
/// part by part ([`Payments::part`]) so the two million rows of a 2026 release never sit in
/// memory at once.
pub struct Payments<'a> {
    pub localities: Vec<Locality<'a>>,
    codes: Vec<(&'a Record, CodeRvus)>,
    columns: PprrvuColumns,
}

/// Some codes' payments at every locality, code-major (row `i * localities + j` is code `i`
/// at locality `j`), column by column: what depends only on the code once per code, the
/// amounts once per row.
pub struct Part<'a> {
    /// Per code, in `COLUMNS` order: release_id, variant, hcpcs, modifier, status_code.
    pub texts: [Vec<&'a str>; 5],
    /// Per code: nonfacility_na, facility_na.
    pub na: [Vec<bool>; 2],
    /// Per code: whether the row has OPPS RVUs (the two cap columns are null where not).
    pub capped: Vec<bool>,
    /// Per row, in cents, in `COLUMNS` order from `nonfacility_amount` (a cap that does not
    /// apply is 0 here and null in the dataset).
    pub cents: [Vec<i64>; 10],
    /// The largest magnitude in `cents`, kept while computing (a pass over the part later
    /// would read 10 MB back from memory).
    pub largest: u64,
}

impl Part<'_> {
    /// How many codes the part holds.
    pub fn codes(&self) -> usize {
        self.capped.len()
    }
}

impl<'a> Payments<'a> {
    pub fn of(rvus: &'a Table, gpci: &'a Table) -> Result<Payments<'a>> {
        let columns = PprrvuColumns::of(rvus)?;
        let g = GpciColumns::of(gpci)?;
        let localities = gpci
            .rows
            .iter()
            .map(|r| {
                Ok(Locality {
                    mac: text(r, g.mac),
                    locality: text(r, g.locality),
                    gpcis: g.gpcis(gpci, r)?,
                })
            })
            .collect::<Result<_>>()?;
        let mut codes = Vec::new();
        for r in &rvus.rows {
            if !PAYABLE.contains(&text(r, columns.status)) {
                continue;
            }
            let code = columns.rvus(rvus, r)?;
            if listed(text(r, columns.status), &code) {
                codes.push((r, code));
            }
        }
        Ok(Payments {
            localities,
            codes,
            columns,
        })
    }

    /// The number of rows: listed codes x localities.
    pub fn rows(&self) -> usize {
        self.codes.len() * self.localities.len()
    }

    /// The codes in `range` (of the listed codes) at every locality; the amounts go into
    /// `reuse`'s vectors when given (a part's amounts are 10 MB: reusing the last part's
    /// saves the page faults of fresh memory).
    pub fn part(&self, range: std::ops::Range<usize>, reuse: Option<[Vec<i64>; 10]>) -> Part<'a> {
        let part = &self.codes[range];
        let c = &self.columns;
        let of_code = |i: usize| part.iter().map(|(r, _)| text(r, i)).collect();
        let na = |i: usize| {
            part.iter()
                .map(|(r, _)| r.values[i] == Value::Bool(true))
                .collect()
        };
        let height = part.len() * self.localities.len();
        let mut cents = reuse.unwrap_or_default();
        for column in &mut cents {
            column.clear();
            column.reserve(height);
        }
        let mut largest = 0;
        for (_, code) in part {
            for locality in &self.localities {
                let (nf, f) = settings(code, locality.gpcis);
                let row = [
                    nf.amount,
                    f.amount,
                    nf.opps_cap.unwrap_or(0),
                    f.opps_cap.unwrap_or(0),
                    nf.par,
                    f.par,
                    nf.nonpar,
                    f.nonpar,
                    nf.limiting_charge,
                    f.limiting_charge,
                ];
                for (column, value) in cents.iter_mut().zip(row) {
                    largest = largest.max(value.unsigned_abs());
                    column.push(value);
                }
            }
        }
        Part {
            texts: [
                of_code(c.release),
                of_code(c.variant),
                of_code(c.hcpcs),
                of_code(c.modifier),
                of_code(c.status),
            ],
            na: [na(c.nf_na), na(c.f_na)],
            capped: part.iter().map(|(_, code)| code.opps.is_some()).collect(),
            cents,
            largest,
        }
    }

    /// The listed codes, split into parts of about `rows` rows (whole codes at every
    /// locality, at least one code each).
    pub fn ranges(&self, rows: usize) -> Vec<std::ops::Range<usize>> {
        let per_part = (rows / self.localities.len().max(1)).max(1);
        let n = self.codes.len();
        (0..n)
            .step_by(per_part)
            .map(|start| start..(start + per_part).min(n))
            .collect()
    }
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
    fn cents_round_half_up_in_either_width() {
        // 1.2345 and 1.2350 dollars (scale 4), and the same below zero.
        assert_eq!(to_cents::<4>(12345), 123);
        assert_eq!(to_cents::<4>(12350), 124);
        assert_eq!(to_cents::<4>(-12350), -124);
        // Beyond 62 bits the i128 path rounds the same way: q cents and a half.
        let q = (1i128 << 68) / 100;
        assert_eq!(i128::from(to_cents::<4>(q * 100 + 50)), q + 1);
        assert_eq!(i128::from(to_cents::<4>(-(q * 100 + 50))), -(q + 1));
        assert_eq!(i128::from(to_cents::<4>(q * 100 + 49)), q);
    }

    #[test]
    fn amounts_beyond_64_bits_are_exact_too() {
        // 10^8 and 10^10 RVUs (given in hundredths) at GPCI 1.000 and CF 1.0000 are 10^8 and
        // 10^10 dollars (expected in cents). The second is 10^19 at scale 9, beyond 64 bits,
        // and takes the wide path.
        let rvus = |work| Rvus { work, pe: 0, mp: 0 };
        assert_eq!(
            fee_schedule_amount(rvus(10_000_000_000), NATIONAL, 10_000),
            10_000_000_000
        );
        assert_eq!(
            fee_schedule_amount(rvus(1_000_000_000_000), NATIONAL, 10_000),
            1_000_000_000_000
        );
        assert_eq!(
            fee_schedule_amount(rvus(-1_000_000_000_000), NATIONAL, 10_000),
            -1_000_000_000_000
        );
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
