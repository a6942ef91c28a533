//! Medicare physician fee schedule payment arithmetic, exact: RVUs (0.01) x GPCIs (0.001) x
//! conversion factor (0.0001), rounded half up to cents only at the end.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::tables::{Record, Table, TableKind, Value};

/// Statuses whose RVUs are used for payment.
pub const PAYABLE: &[&str] = &["A", "R", "T"];

/// What CMS's status codes mean (DOMAIN.md section 3).
pub fn status_meaning(code: &str) -> &'static str {
    match code {
        "A" => "active code, paid under the fee schedule",
        "B" => "bundled: payment is in other services",
        "C" => "carrier (contractor) priced",
        "D" => "deleted code",
        "E" => "excluded from the fee schedule by regulation",
        "F" => "deleted, no grace period",
        "G" => "not valid for Medicare, grace period",
        "H" => "deleted modifier",
        "I" => "not valid for Medicare",
        "J" => "anesthesia service (no RVUs)",
        "M" => "measurement code, not paid",
        "N" => "non-covered service",
        "P" => "bundled or excluded",
        "R" => "restricted coverage",
        "T" => "paid only when no other service is paid that day",
        "X" => "statutory exclusion",
        _ => "unknown status",
    }
}

/// The three RVUs of a setting and the three GPCIs of a locality.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    /// Hundredths.
    pub work: i64,
    pub pe: i64,
    pub mp: i64,
    /// Thousandths (1000 = 1.000, national).
    pub pw_gpci: i64,
    pub pe_gpci: i64,
    pub mp_gpci: i64,
    /// Ten-thousandths.
    pub cf: i64,
}

/// Amounts in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Amounts {
    pub fee_schedule: i64,
    /// 95% of the fee schedule amount.
    pub non_participating: i64,
    /// 109.25% of the non-participating amount.
    pub limiting_charge: i64,
}

/// Rounds a value in units of 10^-`scale` dollars to cents, half up.
fn to_cents(value: i128, scale: u32) -> i64 {
    let unit = 10i128.pow(scale - 2);
    let rounded = if value >= 0 {
        (value + unit / 2) / unit
    } else {
        (value - unit / 2) / unit
    };
    rounded as i64
}

/// ((work x PW GPCI) + (PE x PE GPCI) + (MP x MP GPCI)) x CF, and the derived amounts.
pub fn amounts(i: Inputs) -> Amounts {
    let adjusted = i128::from(i.work) * i128::from(i.pw_gpci)
        + i128::from(i.pe) * i128::from(i.pe_gpci)
        + i128::from(i.mp) * i128::from(i.mp_gpci);
    // RVU (1e-2) x GPCI (1e-3) x CF (1e-4): dollars at scale 9.
    let exact = adjusted * i128::from(i.cf);
    Amounts {
        fee_schedule: to_cents(exact, 9),
        non_participating: to_cents(exact * 95, 11),
        limiting_charge: to_cents(exact * 95 * 10925, 15),
    }
}

pub fn dollars(cents: i64) -> String {
    crate::tables::format_decimal(cents, 2)
}

/// Payable codes (A, R, T) at every locality, per variant: non-facility and facility amounts
/// in dollars (null in an NA setting), rounded to cents. A million rows for a real release,
/// so they come in frames of about `rows_per_frame` rows, handed to `sink` one at a time.
/// Returns false when the release has no PPRRVU or no GPCI table.
pub fn frames(
    tables: &BTreeMap<TableKind, &Table>,
    rows_per_frame: usize,
    mut sink: impl FnMut(&mut DataFrame) -> PolarsResult<()>,
) -> PolarsResult<bool> {
    let (Some(&rvus), Some(&gpci)) = (tables.get(&TableKind::Pprrvu), tables.get(&TableKind::Gpci))
    else {
        return Ok(false);
    };
    let c = Columns::of(rvus, gpci);
    let payable: Vec<&Record> = rvus
        .rows
        .iter()
        .filter(|r| PAYABLE.contains(&text(r, c.status)))
        .collect();
    let codes_per_frame = (rows_per_frame / gpci.rows.len().max(1)).max(1);
    for part in payable.chunks(codes_per_frame) {
        sink(&mut part_frame(part, gpci, &c)?)?;
    }
    if payable.is_empty() {
        sink(&mut part_frame(&[], gpci, &c)?)?;
    }
    Ok(true)
}

/// Column indexes of the PPRRVU and GPCI tables, looked up once.
struct Columns {
    release: usize,
    variant: usize,
    hcpcs: usize,
    modifier: usize,
    status: usize,
    work: usize,
    nf_pe: usize,
    f_pe: usize,
    mp: usize,
    cf: usize,
    nf_na: usize,
    f_na: usize,
    mac: usize,
    locality: usize,
    pw_gpci: usize,
    pe_gpci: usize,
    mp_gpci: usize,
}

impl Columns {
    fn of(rvus: &Table, gpci: &Table) -> Columns {
        let r = |c: &str| rvus.column_index(c).unwrap_or(0);
        let g = |c: &str| gpci.column_index(c).unwrap_or(0);
        Columns {
            release: r("release_id"),
            variant: r("variant"),
            hcpcs: r("hcpcs"),
            modifier: r("modifier"),
            status: r("status_code"),
            work: r("work_rvu"),
            nf_pe: r("nonfacility_pe_rvu"),
            f_pe: r("facility_pe_rvu"),
            mp: r("mp_rvu"),
            cf: r("conversion_factor"),
            nf_na: r("nonfacility_na"),
            f_na: r("facility_na"),
            mac: g("mac"),
            locality: g("locality"),
            pw_gpci: g("pw_gpci"),
            pe_gpci: g("pe_gpci"),
            mp_gpci: g("mp_gpci"),
        }
    }
}

fn text(r: &Record, i: usize) -> &str {
    r.values[i].as_text().unwrap_or("")
}

fn dec(r: &Record, i: usize) -> i64 {
    match r.values[i] {
        Value::Dec(m) => m,
        _ => 0,
    }
}

fn part_frame(payable: &[&Record], gpci: &Table, c: &Columns) -> PolarsResult<DataFrame> {
    let height = payable.len() * gpci.rows.len();
    let mut texts: [Vec<&str>; 6] = std::array::from_fn(|_| Vec::with_capacity(height));
    let (mut nf, mut f): (Vec<Option<i128>>, Vec<Option<i128>>) =
        (Vec::with_capacity(height), Vec::with_capacity(height));
    for r in payable {
        for g in &gpci.rows {
            let amount = |pe_i: usize, na_i: usize| {
                (r.values[na_i] != Value::Bool(true)).then(|| {
                    let inputs = Inputs {
                        work: dec(r, c.work),
                        pe: dec(r, pe_i),
                        mp: dec(r, c.mp),
                        pw_gpci: dec(g, c.pw_gpci),
                        pe_gpci: dec(g, c.pe_gpci),
                        mp_gpci: dec(g, c.mp_gpci),
                        cf: dec(r, c.cf),
                    };
                    i128::from(amounts(inputs).fee_schedule)
                })
            };
            for (column, value) in texts.iter_mut().zip([
                text(r, c.release),
                text(r, c.variant),
                text(r, c.hcpcs),
                text(r, c.modifier),
                text(g, c.mac),
                text(g, c.locality),
            ]) {
                column.push(value);
            }
            nf.push(amount(c.nf_pe, c.nf_na));
            f.push(amount(c.f_pe, c.f_na));
        }
    }
    let names = [
        "release_id",
        "variant",
        "hcpcs",
        "modifier",
        "mac",
        "locality",
    ];
    let mut columns: Vec<Column> = names
        .iter()
        .zip(texts)
        .map(|(name, values)| {
            let chunked: StringChunked = values.into_iter().map(Some).collect();
            chunked
                .into_series()
                .with_name((*name).into())
                .into_column()
        })
        .collect();
    for (name, values) in [("nonfacility_amount", nf), ("facility_amount", f)] {
        let ints: Int128Chunked = values.into_iter().collect();
        columns.push(
            ints.into_decimal(10, 2)?
                .into_series()
                .with_name(name.into())
                .into_column(),
        );
    }
    DataFrame::new(height, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_amount_is_total_rvus_times_cf() {
        // 99213 RVU25A non-facility: (1.30 + 1.35 + 0.10) x 32.3465 = 88.952875 -> 88.95
        let a = amounts(Inputs {
            work: 130,
            pe: 135,
            mp: 10,
            pw_gpci: 1000,
            pe_gpci: 1000,
            mp_gpci: 1000,
            cf: 323465,
        });
        assert_eq!(a.fee_schedule, 8895);
        // 95% = 84.50523125 -> 84.51; x 1.0925 = 92.3219651... -> 92.32
        assert_eq!(a.non_participating, 8451);
        assert_eq!(a.limiting_charge, 9232);
    }
}
