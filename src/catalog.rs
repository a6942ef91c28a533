//! Release identities: `RVU25A` is CY2025's January release, `RVU24AR` a correction of
//! RVU24A. An id is told from a file's edition title, and hinted by file or folder names.

use std::fmt;
use std::str::FromStr;

/// A release id: two-digit year, quarter letter, and whether it is a correction (`R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseId {
    /// Four-digit calendar year.
    pub year: u16,
    /// 'A' (January), 'B' (April), 'C' (July) or 'D' (October).
    pub quarter: char,
    pub correction: bool,
}

impl ReleaseId {
    pub fn new(year: u16, quarter: char, correction: bool) -> Self {
        ReleaseId {
            year,
            quarter,
            correction,
        }
    }

    /// The same release as far as year and quarter go (RVU24A and RVU24AR).
    pub fn same_quarter(&self, other: &ReleaseId) -> bool {
        self.year == other.year && self.quarter == other.quarter
    }

    /// Finds `RVUyyQ[R]` anywhere in a name, case-insensitively (`rvu25a-updated-01_10_2025.zip`).
    pub fn find_in(name: &str) -> Option<ReleaseId> {
        let upper = name.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        upper.match_indices("RVU").find_map(|(i, _)| {
            let rest = &bytes[i + 3..];
            if rest.len() < 3 || !rest[0].is_ascii_digit() || !rest[1].is_ascii_digit() {
                return None;
            }
            let quarter = rest[2] as char;
            if !('A'..='D').contains(&quarter) {
                return None;
            }
            // "RVU25AR" is a correction, but "RVU25A-..." or "RVU25A.zip" is not.
            let correction = rest.get(3) == Some(&b'R')
                && !rest.get(4).is_some_and(|b| b.is_ascii_alphanumeric());
            if rest.get(3).is_some_and(|b| b.is_ascii_alphanumeric()) && !correction {
                return None;
            }
            let year = 2000 + u16::from(rest[0] - b'0') * 10 + u16::from(rest[1] - b'0');
            Some(ReleaseId::new(year, quarter, correction))
        })
    }

    /// Reads an edition title such as "2025 National Physician Fee Schedule Relative Value
    /// File January Release" (the month gives the quarter).
    pub fn from_edition_title(title: &str) -> Option<ReleaseId> {
        let upper = title.to_ascii_uppercase();
        if !upper.contains("RELATIVE VALUE FILE") {
            return None;
        }
        let year = upper
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 4)?
            .parse()
            .ok()?;
        let quarter = [
            ("JANUARY", 'A'),
            ("APRIL", 'B'),
            ("JULY", 'C'),
            ("OCTOBER", 'D'),
        ]
        .iter()
        .find(|(month, _)| upper.contains(month))?
        .1;
        Some(ReleaseId::new(year, quarter, false))
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RVU{:02}{}{}",
            self.year % 100,
            self.quarter,
            if self.correction { "R" } else { "" }
        )
    }
}

impl FromStr for ReleaseId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        match ReleaseId::find_in(trimmed) {
            Some(id) if id.to_string().eq_ignore_ascii_case(trimmed) => Ok(id),
            _ => Err(format!(
                "'{s}' is not a release id (expected RVUyyQ, like RVU25A, or RVU24AR)"
            )),
        }
    }
}

impl serde::Serialize for ReleaseId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ReleaseId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The date a release took effect (`YYYY-MM-DD`): from the release facts when known (RVU24AR:
/// 2024-03-09), else the first day of its quarter (A: 1 Jan, B: 1 Apr, C: 1 Jul, D: 1 Oct).
pub fn effective_from(id: ReleaseId) -> String {
    if let Some(fact) = release_facts().iter().find(|f| f.release_id == id) {
        return fact.effective_from.clone();
    }
    let month = match id.quarter {
        'A' => 1,
        'B' => 4,
        'C' => 7,
        _ => 10,
    };
    format!("{:04}-{month:02}-01", id.year)
}

/// A known fact about a release variant: its conversion factor and the date it took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFact {
    pub release_id: ReleaseId,
    pub variant: String,
    /// In units of 0.0001 (32.3465 is 323465).
    pub conversion_factor: i64,
    pub effective_from: String,
    pub source: String,
}

/// The known release facts, from `data/release_facts.csv` (compiled in; one file to edit).
pub fn release_facts() -> &'static [ReleaseFact] {
    static FACTS: std::sync::LazyLock<Vec<ReleaseFact>> = std::sync::LazyLock::new(|| {
        parse_facts(include_str!("../data/release_facts.csv"))
            .unwrap_or_else(|e| panic!("data/release_facts.csv is invalid: {e}"))
    });
    &FACTS
}

/// The known conversion factor (units of 0.0001) of a release variant.
pub fn known_conversion_factor(id: ReleaseId, variant: &str) -> Option<i64> {
    release_facts()
        .iter()
        .find(|f| f.release_id == id && f.variant == variant)
        .map(|f| f.conversion_factor)
}

fn parse_facts(text: &str) -> Result<Vec<ReleaseFact>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.map_err(|e| e.to_string())?;
            let line = i + 2;
            let field = |n: usize| record.get(n).unwrap_or("").trim().to_string();
            Ok(ReleaseFact {
                release_id: field(0).parse().map_err(|e| format!("line {line}: {e}"))?,
                variant: field(1),
                conversion_factor: crate::tables::parse_decimal(&field(2), 4)
                    .map_err(|e| format!("line {line}: {e}"))?,
                effective_from: field(3),
                source: field(4),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn effective_dates() {
        let id = |s: &str| s.parse::<ReleaseId>().unwrap();
        assert_eq!(effective_from(id("RVU24AR")), "2024-03-09");
        assert_eq!(effective_from(id("RVU24B")), "2024-04-01");
        assert_eq!(effective_from(id("RVU99C")), "2099-07-01");
    }

    #[test]
    fn the_facts_file_parses() {
        let facts = release_facts();
        assert!(facts.len() >= 19);
        let id = |s: &str| s.parse::<ReleaseId>().unwrap();
        assert_eq!(
            known_conversion_factor(id("RVU25A"), "standard"),
            Some(323465)
        );
        assert_eq!(known_conversion_factor(id("RVU26A"), "qpp"), Some(335675));
        assert_eq!(
            known_conversion_factor(id("RVU24AR"), "standard"),
            Some(332875)
        );
        assert_eq!(known_conversion_factor(id("RVU99A"), "standard"), None);
    }

    use super::*;

    #[test]
    fn ids_parse_and_print() {
        assert_eq!("RVU25A".parse::<ReleaseId>().unwrap().to_string(), "RVU25A");
        assert_eq!(
            "rvu24ar".parse::<ReleaseId>().unwrap().to_string(),
            "RVU24AR"
        );
        assert!("RVU25E".parse::<ReleaseId>().is_err());
        assert!("RVU25".parse::<ReleaseId>().is_err());
    }

    #[test]
    fn ids_are_found_in_names() {
        assert_eq!(
            ReleaseId::find_in("rvu25a-updated-01_10_2025.zip"),
            Some(ReleaseId::new(2025, 'A', false))
        );
        assert_eq!(
            ReleaseId::find_in("path/RVU24AR"),
            Some(ReleaseId::new(2024, 'A', true))
        );
        assert_eq!(ReleaseId::find_in("2024.zip"), None);
        assert_eq!(
            ReleaseId::find_in("rvu25d-0"),
            Some(ReleaseId::new(2025, 'D', false))
        );
    }

    #[test]
    fn titles_give_year_and_quarter() {
        assert_eq!(
            ReleaseId::from_edition_title(
                "2025 National Physician Fee Schedule Relative Value File January Release"
            ),
            Some(ReleaseId::new(2025, 'A', false))
        );
        assert_eq!(
            ReleaseId::from_edition_title("ADDENDUM E. FINAL CY 2025 GPCIs"),
            None
        );
    }
}
