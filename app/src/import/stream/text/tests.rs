use super::*;

/// The whole-file `decode::inspect` and `decode::decode`: the reference.
mod old {
    pub use crate::import::decode::{TextEncoding, decode, inspect};
}

fn inspect_in_pieces(bytes: &[u8], size: usize) -> Result<TextEncoding, FileError> {
    let mut inspector = Inspector::new();
    for piece in bytes.chunks(size.max(1)) {
        inspector.feed(piece);
    }
    inspector.verdict()
}

/// The old verdict, in this crate's encoding type.
fn inspect_old(bytes: &[u8]) -> Result<TextEncoding, FileError> {
    old::inspect(bytes).map(|e| match e {
        old::TextEncoding::Utf8 => TextEncoding::Utf8,
        old::TextEncoding::Utf8Bom => TextEncoding::Utf8Bom,
        old::TextEncoding::Utf16Le => TextEncoding::Utf16Le,
        old::TextEncoding::Utf16Be => TextEncoding::Utf16Be,
        old::TextEncoding::Windows1252 => TextEncoding::Windows1252,
    })
}

fn assert_same_verdict(bytes: &[u8]) {
    let expected = inspect_old(bytes);
    for size in [1, 2, 3, 5, 64, usize::MAX] {
        assert_eq!(
            inspect_in_pieces(bytes, size),
            expected,
            "{size}: {bytes:?}"
        );
    }
}

use crate::import::stream::test_source::{Pieces, Unsteady};

/// The text of `bytes` read through [`TextReader`] in pieces of `size`, into a buffer of
/// `out` bytes at a time.
fn decode_in_pieces(
    bytes: &[u8],
    encoding: TextEncoding,
    size: usize,
    out: usize,
) -> Result<String, FileError> {
    let mut reader = TextReader::new(Pieces { bytes, size }, encoding);
    let mut text = Vec::new();
    let mut buf = vec![0; out];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) => match crate::import::stream::StreamError::from(e) {
                crate::import::stream::StreamError::File(e) => return Err(e),
                crate::import::stream::StreamError::Source(e) => panic!("{e}"),
            },
        }
    }
    assert_eq!(reader.raw_position(), bytes.len() as u64);
    Ok(String::from_utf8(text).unwrap())
}

/// The verdict and the text of `bytes`, as the old functions give them, checked to be the
/// same with every way of feeding the streaming ones.
fn text(bytes: &[u8]) -> Result<(TextEncoding, String), FileError> {
    assert_same_verdict(bytes);
    let encoding = inspect_old(bytes)?;
    let old = old::decode(
        bytes,
        match encoding {
            TextEncoding::Utf8 => old::TextEncoding::Utf8,
            TextEncoding::Utf8Bom => old::TextEncoding::Utf8Bom,
            TextEncoding::Utf16Le => old::TextEncoding::Utf16Le,
            TextEncoding::Utf16Be => old::TextEncoding::Utf16Be,
            TextEncoding::Windows1252 => old::TextEncoding::Windows1252,
        },
    )
    .map(|t| t.into_owned());
    for size in [1, 2, 3, 7, 4096] {
        for out in [1, 5, 8192] {
            assert_eq!(
                decode_in_pieces(bytes, encoding, size, out),
                old,
                "pieces {size}, out {out}: {bytes:?}"
            );
        }
    }
    Ok((encoding, old?))
}

fn utf16(s: &str, le: bool) -> Vec<u8> {
    let mut out = if le {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in s.encode_utf16() {
        out.extend(if le {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

// --- The tests of decode.rs, with the same inputs, fed whole and piece by piece. ---

#[test]
fn utf8_with_and_without_bom() {
    assert_eq!(
        text(b"Email\na@b.c\n").unwrap(),
        (TextEncoding::Utf8, "Email\na@b.c\n".into())
    );
    assert_eq!(
        text(b"\xEF\xBB\xBFEmail\na@b.c\n").unwrap(),
        (TextEncoding::Utf8Bom, "Email\na@b.c\n".into())
    );
    assert_eq!(
        text("Name\nFrançoise\n".as_bytes()).unwrap().1,
        "Name\nFrançoise\n"
    );
}

#[test]
fn utf16_with_a_bom_in_both_byte_orders() {
    let s = "Email\tFirst name\nann@example.com\tMüller\n";
    assert_eq!(
        text(&utf16(s, true)).unwrap(),
        (TextEncoding::Utf16Le, s.into())
    );
    assert_eq!(
        text(&utf16(s, false)).unwrap(),
        (TextEncoding::Utf16Be, s.into())
    );
    // A lone surrogate is not silently replaced.
    let mut bad = utf16("Email\n", true);
    bad.extend([0x00, 0xD8, 0x41, 0x00]);
    assert_eq!(
        text(&bad),
        Err(FileError::Malformed {
            encoding: "UTF-16 LE"
        })
    );
}

#[test]
fn anything_else_is_windows_1252() {
    // "Müller" and "Françoise" as a Windows spreadsheet exports them.
    let bytes = b"First name\nM\xfcller\nFran\xe7oise\n";
    assert_eq!(
        text(bytes).unwrap(),
        (
            TextEncoding::Windows1252,
            "First name\nMüller\nFrançoise\n".into()
        )
    );
    assert_eq!(text(b"Price\n\x80 5\n").unwrap().1, "Price\n€ 5\n");
}

#[test]
fn empty_files_are_refused() {
    for bytes in [&b""[..], b" \r\n\n", b"\xEF\xBB\xBF", &[0xFF, 0xFE]] {
        assert_same_verdict(bytes);
        assert_eq!(inspect_in_pieces(bytes, 1), Err(FileError::Empty));
    }
}

#[test]
fn binary_files_are_named() {
    let cases: &[(&[u8], &str)] = &[
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook (.xlsx)"),
        (
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0],
            "legacy Excel workbook (.xls)",
        ),
        (b"%PDF-1.7\n", "PDF document"),
        (b"\x7fELF\x02\x01\x01", "Linux executable"),
        (b"Email\nann@example.com\0\n", "NUL bytes"),
    ];
    for (bytes, kind) in cases {
        assert_same_verdict(bytes);
        let err = inspect_in_pieces(bytes, 1).unwrap_err();
        assert!(err.to_string().contains(kind), "{err}");
        assert!(err.to_string().contains("Export the data as CSV"), "{err}");
    }
    let mut pe = vec![0u8; 0x100];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3C] = 0x80;
    pe[0x80..0x84].copy_from_slice(b"PE\0\0");
    assert_same_verdict(&pe);
    assert_eq!(
        inspect_in_pieces(&pe, 1),
        Err(FileError::Binary("a Windows executable"))
    );
    // Text that merely starts with "MZ" is text.
    assert_same_verdict(b"MZ code,Email\nx,a@b.c\n");
    assert_eq!(
        inspect_in_pieces(b"MZ code,Email\nx,a@b.c\n", 1),
        Ok(TextEncoding::Utf8)
    );
}

// --- Beyond decode.rs. ---

#[test]
fn a_windows_executable_is_found_wherever_its_header_points() {
    // The signature inside the first 64 bytes, straddling them, and far after them; the
    // pointer past the end of the file; no NUL bytes elsewhere, so only the signature tells.
    for offset in [0x20usize, 0x3E, 0x40, 0x10_000] {
        let mut pe = vec![b'x'; offset.max(0x40) + 8];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3C..0x40].copy_from_slice(&(offset as u32).to_le_bytes());
        pe[offset..offset + 4].copy_from_slice(b"PE\0\0");
        assert_same_verdict(&pe);
    }
    let mut short = vec![b'x'; 0x50];
    short[..2].copy_from_slice(b"MZ");
    short[0x3C..0x40].copy_from_slice(&0x4Eu32.to_le_bytes());
    short[0x4E..0x50].copy_from_slice(b"PE");
    assert_same_verdict(&short);
    // Without "MZ" first, the same bytes are no program: only their NUL bytes tell.
    let mut no_mz = vec![b'x'; 0x100];
    no_mz[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    no_mz[0x80..0x84].copy_from_slice(b"PE\0\0");
    assert_same_verdict(&no_mz);
    assert_eq!(
        inspect_in_pieces(&no_mz, usize::MAX),
        Err(FileError::Binary("binary data (it contains NUL bytes)"))
    );
}

#[test]
fn random_bytes_get_the_verdict_of_the_whole_file() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let alphabet: &[&[u8]] = &[
        b"a",
        b" ",
        b"\n",
        b"\xEF\xBB\xBF",
        b"\xFF\xFE",
        b"\xFE\xFF",
        b"\xC3",
        b"\xA9",
        "€".as_bytes(),
        b"\xE2\x82",
        b"\0",
        b"MZ",
        b"PK\x03\x04",
        b"\xF0\x9F\x98\x80",
    ];
    for _ in 0..5000 {
        let len = next(12);
        let bytes: Vec<u8> = (0..len)
            .flat_map(|_| alphabet[next(alphabet.len())].iter().copied())
            .collect();
        assert_same_verdict(&bytes);
    }
}

#[test]
fn invalid_utf8_after_a_bom_is_malformed_where_it_is_met() {
    assert_eq!(
        text(b"\xEF\xBB\xBFName\nM\xfcller\n"),
        Err(FileError::Malformed { encoding: "UTF-8" })
    );
    // The text before the bad byte is handed out first.
    let mut reader = TextReader::new(&b"\xEF\xBB\xBFName\nM\xfcller\n"[..], TextEncoding::Utf8Bom);
    let mut buf = [0u8; 64];
    assert_eq!(reader.read(&mut buf).unwrap(), 6);
    assert_eq!(&buf[..6], b"Name\nM");
    let err = reader.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    // A character cut off by the end of the file is malformed too.
    assert_eq!(
        decode_in_pieces(b"Name\n\xC3", TextEncoding::Utf8, 1, 8),
        Err(FileError::Malformed { encoding: "UTF-8" })
    );
    let mut odd = utf16("Name\n", false);
    odd.push(0x41);
    assert_eq!(
        decode_in_pieces(&odd, TextEncoding::Utf16Be, 3, 8),
        Err(FileError::Malformed {
            encoding: "UTF-16 BE"
        })
    );
}

#[test]
fn text_that_fills_more_than_the_buffers_is_decoded_whole() {
    // 100,000 bytes of "é" in Windows-1252 are 200,000 bytes of UTF-8: each read of 64 KiB
    // decodes into more text than the text buffer holds, and what is left of it waits.
    let mut bytes = b"Name\n".to_vec();
    bytes.extend(std::iter::repeat_n(0xE9, 100_000));
    let expected = format!("Name\n{}", "\u{e9}".repeat(100_000));
    for out in [7, 8192, 1 << 20] {
        assert_eq!(
            decode_in_pieces(&bytes, TextEncoding::Windows1252, usize::MAX, out).unwrap(),
            expected,
            "out {out}"
        );
    }
}

#[test]
fn an_interrupted_read_is_tried_again_and_a_failing_source_is_reported() {
    // Read by `read` alone, which std's `read_to_string` is not (it tries again itself).
    fn read_text(mut reader: impl Read) -> Result<String, crate::import::stream::StreamError> {
        let (mut text, mut buf) = (Vec::new(), [0; 16]);
        loop {
            match reader.read(&mut buf)? {
                0 => return Ok(String::from_utf8(text).unwrap()),
                n => text.extend_from_slice(&buf[..n]),
            }
        }
    }
    let failed = |e: crate::import::stream::StreamError| match e {
        crate::import::stream::StreamError::Source(e) => e.to_string(),
        other => panic!("{other}"),
    };
    let bytes = utf16("Email\na@b.c\n", true);
    let source = |fails| Unsteady::new(&bytes, 3, fails);
    let reader = |fails| TextReader::new(source(fails), TextEncoding::Utf16Le);
    assert_eq!(
        Inspector::read_all(source(false)).unwrap(),
        TextEncoding::Utf16Le
    );
    assert_eq!(read_text(reader(false)).unwrap(), "Email\na@b.c\n");
    // A source that fails is reported as such, by both.
    assert_eq!(
        failed(Inspector::read_all(source(true)).unwrap_err()),
        "database gone"
    );
    assert_eq!(
        failed(read_text(reader(true)).unwrap_err()),
        "database gone"
    );
}

#[test]
fn read_all_gives_the_verdict_of_a_source() {
    let bytes = utf16("Email\na@b.c\n", true);
    assert_eq!(
        Inspector::read_all(Pieces {
            bytes: &bytes,
            size: 1
        })
        .unwrap(),
        TextEncoding::Utf16Le
    );
    assert!(matches!(
        Inspector::read_all(&b"%PDF-1.7"[..]),
        Err(crate::import::stream::StreamError::File(FileError::Binary(
            "a PDF document"
        )))
    ));
}
