//! Untrusted archives: path traversal, zip bombs, empty and corrupt zips.

use std::io::{Cursor, Write};

use rvu_pipeline::stages::extract::{Limits, extract_zip};

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in members {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn member_paths_that_escape_are_refused() {
    for name in [
        "../PPRRVU25_JAN.csv",
        "a/../../GPCI2025.csv",
        "/etc/PPRRVU25_JAN.csv",
    ] {
        let bytes = zip_of(&[(name, b"HCPCS\r\n")]);
        let err = extract_zip("evil.zip", &bytes, &Limits::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("evil.zip") && message.contains("unsafe path"),
            "{message}"
        );
    }
}

#[test]
fn an_empty_zip_is_an_error_naming_it() {
    let err = extract_zip("empty.zip", &zip_of(&[]), &Limits::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("empty.zip: no CMS table members"),
        "{err}"
    );
}

#[test]
fn a_corrupt_zip_is_an_error_naming_it() {
    let err = extract_zip("junk.zip", b"PK\x03\x04 junk", &Limits::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("junk.zip: not a readable zip"),
        "{err}"
    );
}

#[test]
fn members_over_the_limit_are_refused() {
    let zeros = vec![0u8; 3 << 20];
    let bytes = zip_of(&[("PPRRVU25_JAN.csv", &zeros)]);
    let limits = Limits {
        max_member_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = extract_zip("big.zip", &bytes, &limits).unwrap_err();
    assert!(err.to_string().contains("byte limit"), "{err}");
}

/// A deflate stream that inflates to `blocks` MiB of zeros: one independently compressed,
/// byte-aligned block repeated, then an empty final block. Cheap to build, huge to inflate.
fn deflate_bomb(blocks: usize) -> Vec<u8> {
    let mut compressor = flate2::Compress::new(flate2::Compression::best(), false);
    let input = vec![0u8; 1 << 20];
    let mut block = Vec::with_capacity(64 << 10);
    compressor
        .compress_vec(&input, &mut block, flate2::FlushCompress::Sync)
        .unwrap();
    assert_eq!(
        compressor.total_in(),
        1 << 20,
        "one call compresses the whole MiB"
    );
    let mut stream = Vec::with_capacity(block.len() * blocks + 2);
    for _ in 0..blocks {
        stream.extend_from_slice(&block);
    }
    stream.extend_from_slice(&[0x03, 0x00]); // final, fixed-Huffman, end-of-block
    stream
}

/// A one-member zip written by hand, so its headers can lie about the inflated size.
fn zip_with_lying_header(name: &str, deflated: &[u8], claimed_size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let compressed = deflated.len() as u32;
    let local = |out: &mut Vec<u8>| {
        out.extend_from_slice(&0x04034b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]); // version, flags, deflate, time, date
        out.extend_from_slice(&0u32.to_le_bytes()); // crc (a lie too)
        out.extend_from_slice(&compressed.to_le_bytes());
        out.extend_from_slice(&claimed_size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    };
    local(&mut out);
    out.extend_from_slice(deflated);
    let central_start = out.len() as u32;
    out.extend_from_slice(&0x02014b50u32.to_le_bytes());
    out.extend_from_slice(&[20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&compressed.to_le_bytes());
    out.extend_from_slice(&claimed_size.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name.as_bytes());
    let central_size = out.len() as u32 - central_start;
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn a_4_gib_bomb_claiming_1_kib_is_refused_quickly() {
    let bomb = zip_with_lying_header("PPRRVU25_JAN.csv", &deflate_bomb(4096), 1024);
    assert!(
        bomb.len() < 8 << 20,
        "the bomb itself is small: {} bytes",
        bomb.len()
    );
    // Inflating stops at the claimed size (zip's own check) or the 64 MiB member limit,
    // whichever comes first: far short of 4 GiB.
    let err = extract_zip("bomb.zip", &bomb, &Limits::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("bomb.zip: member 'PPRRVU25_JAN.csv'"),
        "{message}"
    );
    assert!(message.contains("larger than its declared") || message.contains("byte limit"));
}

#[test]
fn a_member_claiming_4_gib_is_refused_before_inflating() {
    let bomb = zip_with_lying_header("PPRRVU25_JAN.csv", &deflate_bomb(1), u32::MAX);
    let err = extract_zip("bomb.zip", &bomb, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("claims 4294967295 bytes"), "{err}");
}

/// An xlsx is a zip too, read by calamine, which has no limits of its own: a workbook whose
/// sheet inflates to 300 MiB (and says so) is refused before calamine sees it.
#[test]
fn an_xlsx_that_inflates_past_the_limit_is_refused_before_parsing() {
    let workbook = zip_with_lying_header("xl/worksheets/sheet1.xml", &deflate_bomb(300), 300 << 20);
    assert!(workbook.len() < 1 << 20, "{} bytes", workbook.len());
    let err = rvu_pipeline::read::xlsx::read("PPRRVU25_JAN.xlsx", &workbook, |_| true).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("PPRRVU25_JAN.xlsx"), "{message}");
    assert!(message.contains("zip bomb"), "{message}");
}
