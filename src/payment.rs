//! Medicare physician fee schedule payment arithmetic, exact: RVUs (0.01) x GPCIs (0.001) x
//! conversion factor (0.0001), rounded half up to cents only at the end.

use serde::Serialize;

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
