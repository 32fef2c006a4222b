//! Recognising what a file is and turning its bytes into text (SPEC §3.2): UTF-8 with or
//! without BOM, UTF-16 LE/BE with BOM, and Windows-1252 for anything that is not valid
//! UTF-8. Binary files (archives, spreadsheets, PDFs, executables) are refused by name.

use super::FileError;
use std::borrow::Cow;

/// The encoding a file was read with; the job log names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl TextEncoding {
    /// Every encoding, for looking one up by its label.
    pub const ALL: [TextEncoding; 5] = [
        TextEncoding::Utf8,
        TextEncoding::Utf8Bom,
        TextEncoding::Utf16Le,
        TextEncoding::Utf16Be,
        TextEncoding::Windows1252,
    ];

    /// The encoding named `label` (as stored with a job).
    pub fn from_label(label: &str) -> Option<TextEncoding> {
        TextEncoding::ALL.into_iter().find(|e| e.label() == label)
    }

    /// The name shown to the operator.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Utf16Le => "UTF-16 LE",
            TextEncoding::Utf16Be => "UTF-16 BE",
            TextEncoding::Windows1252 => "Windows-1252",
        }
    }
}

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];

/// The kind of file whose first bytes are `head`, when they are a known signature.
pub(crate) fn signature_kind(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
        (b"PK\x05\x06", "a ZIP archive"),
        (b"PK\x07\x08", "a ZIP archive"),
        (
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
            "a legacy Excel workbook (.xls)",
        ),
        (b"%PDF-", "a PDF document"),
        (b"\x7fELF", "a Linux executable (ELF)"),
    ];
    SIGNATURES
        .iter()
        .find(|(sig, _)| head.starts_with(sig))
        .map(|(_, kind)| *kind)
}

/// What a file that is not text looks like, from its first bytes.
fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    if let Some(kind) = signature_kind(bytes) {
        return Some(kind);
    }
    if is_windows_executable(bytes) {
        return Some("a Windows executable");
    }
    bytes
        .contains(&0)
        .then_some("binary data (it contains NUL bytes)")
}

/// `MZ` followed, where the DOS header points, by the `PE\0\0` signature; a text file that
/// merely starts with "MZ" is not mistaken for a program.
fn is_windows_executable(bytes: &[u8]) -> bool {
    if !bytes.starts_with(b"MZ") || bytes.len() < 0x40 {
        return false;
    }
    let offset = u32::from_le_bytes([bytes[0x3C], bytes[0x3D], bytes[0x3E], bytes[0x3F]]) as usize;
    bytes.get(offset..offset + 4) == Some(b"PE\0\0")
}

/// Recognises the encoding of a file, refusing empty and binary files.
///
/// ```
/// use app::import::decode::{inspect, TextEncoding};
/// assert_eq!(inspect(b"Email\nann@example.com\n"), Ok(TextEncoding::Utf8));
/// assert_eq!(inspect(b"Name\nM\xfcller\n"), Ok(TextEncoding::Windows1252));
/// ```
pub fn inspect(bytes: &[u8]) -> Result<TextEncoding, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if let Some(rest) = bytes.strip_prefix(UTF16LE_BOM) {
        return if rest.is_empty() {
            Err(FileError::Empty)
        } else {
            Ok(TextEncoding::Utf16Le)
        };
    }
    if let Some(rest) = bytes.strip_prefix(UTF16BE_BOM) {
        return if rest.is_empty() {
            Err(FileError::Empty)
        } else {
            Ok(TextEncoding::Utf16Be)
        };
    }
    if let Some(kind) = binary_kind(bytes) {
        return Err(FileError::Binary(kind));
    }
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        if rest.iter().all(u8::is_ascii_whitespace) {
            return Err(FileError::Empty);
        }
        return match std::str::from_utf8(rest) {
            Ok(_) => Ok(TextEncoding::Utf8Bom),
            Err(_) => Err(FileError::Malformed { encoding: "UTF-8" }),
        };
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(_) => TextEncoding::Utf8,
        Err(_) => TextEncoding::Windows1252,
    })
}

fn decode_utf16<'a>(
    rest: &'a [u8],
    encoding: &'static encoding_rs::Encoding,
    label: &'static str,
) -> Result<Cow<'a, str>, FileError> {
    match encoding.decode_without_bom_handling(rest) {
        (_, true) => Err(FileError::Malformed { encoding: label }),
        (text, false) => Ok(text),
    }
}

/// The text of a file in the encoding [`inspect`] found, without its byte-order mark.
/// UTF-8 is borrowed as is; other encodings are converted once.
pub fn decode(bytes: &[u8], encoding: TextEncoding) -> Result<Cow<'_, str>, FileError> {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|_| FileError::Malformed { encoding: "UTF-8" }),
        TextEncoding::Utf8Bom => std::str::from_utf8(&bytes[UTF8_BOM.len().min(bytes.len())..])
            .map(Cow::Borrowed)
            .map_err(|_| FileError::Malformed { encoding: "UTF-8" }),
        TextEncoding::Utf16Le => decode_utf16(&bytes[2..], encoding_rs::UTF_16LE, "UTF-16 LE"),
        TextEncoding::Utf16Be => decode_utf16(&bytes[2..], encoding_rs::UTF_16BE, "UTF-16 BE"),
        TextEncoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> Result<(TextEncoding, String), FileError> {
        let enc = inspect(bytes)?;
        Ok((enc, decode(bytes, enc)?.into_owned()))
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
        assert_eq!(inspect(b""), Err(FileError::Empty));
        assert_eq!(inspect(b" \r\n\n"), Err(FileError::Empty));
        assert_eq!(inspect(b"\xEF\xBB\xBF"), Err(FileError::Empty));
        assert_eq!(inspect(&[0xFF, 0xFE]), Err(FileError::Empty));
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
            let err = inspect(bytes).unwrap_err();
            assert!(err.to_string().contains(kind), "{err}");
            assert!(err.to_string().contains("Export the data as CSV"), "{err}");
        }
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3C] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(inspect(&pe), Err(FileError::Binary("a Windows executable")));
        // Text that merely starts with "MZ" is text.
        assert_eq!(inspect(b"MZ code,Email\nx,a@b.c\n"), Ok(TextEncoding::Utf8));
        // The shortest program: its DOS header alone, the signature inside it.
        let mut short = vec![b'x'; 0x40];
        short[..2].copy_from_slice(b"MZ");
        short[0x3C..0x40].copy_from_slice(&0x20u32.to_le_bytes());
        short[0x20..0x24].copy_from_slice(b"PE\0\0");
        assert_eq!(
            inspect(&short),
            Err(FileError::Binary("a Windows executable"))
        );
    }

    #[test]
    fn each_encoding_is_found_again_by_the_label_stored_with_a_job() {
        let labels = TextEncoding::ALL.map(TextEncoding::label);
        assert_eq!(
            labels,
            [
                "UTF-8",
                "UTF-8 with BOM",
                "UTF-16 LE",
                "UTF-16 BE",
                "Windows-1252"
            ]
        );
        for encoding in TextEncoding::ALL {
            assert_eq!(TextEncoding::from_label(encoding.label()), Some(encoding));
        }
        assert_eq!(TextEncoding::from_label("ISO-8859-1"), None);
    }
}
