//! Any bytes fed to a reader (or a table parser behind it) give Ok or a clear Err, never a
//! panic.

use proptest::prelude::*;
use rvu_pipeline::read::{self, fixed_width};
use rvu_pipeline::stages::extract::{Limits, extract_zip};
use rvu_pipeline::tables::{ParseContext, TableKind};

fn ctx() -> ParseContext {
    ParseContext {
        release_id: "RVU25A".into(),
        year: 2025,
        variant: "standard".into(),
    }
}

/// Bytes that look a little like CMS csv: separators, quotes, line ends, digits, Ctrl-Z.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b','),
            Just(b'"'),
            Just(b'\r'),
            Just(b'\n'),
            Just(0x1a),
            Just(b'.'),
            b'0'..=b'9',
            b'A'..=b'Z',
            any::<u8>(),
        ],
        0..600,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csv_reader_and_every_table_parser(bytes in csvish()) {
        if let Ok(grid) = read::csv::read("fuzz.csv", &bytes) {
            for kind in TableKind::ALL {
                let _ = kind.parse(&grid, &ctx());
            }
        }
    }

    #[test]
    fn csv_with_a_real_header_then_noise(noise in csvish()) {
        let mut bytes = b"HCPCS,MOD,PROCSTAT,CARRIER,LOCALITY,FACILITY PRICE,NON-FACILTY PRICE\r\n".to_vec();
        bytes.extend_from_slice(&noise);
        let grid = read::csv::read("fuzz.csv", &bytes).unwrap();
        let _ = TableKind::Oppscap.parse(&grid, &ctx());
    }

    #[test]
    fn fixed_width_reader_and_parsers(bytes in prop::collection::vec(any::<u8>(), 0..800)) {
        for kind in TableKind::ALL {
            if let Some(layout) = kind.txt_layout(2025) {
                let grid = fixed_width::read("fuzz.txt", &bytes, &layout).unwrap();
                let _ = kind.parse(&grid, &ctx());
            }
        }
    }

    #[test]
    fn xlsx_reader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut with_magic = b"PK\x03\x04".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = read::xlsx::read("fuzz.xlsx", &bytes, |_| true);
        let _ = read::xlsx::read("fuzz.xlsx", &with_magic, |_| true);
    }

    #[test]
    fn zip_extraction(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = extract_zip("fuzz.zip", &bytes, &Limits::default());
    }
}
