use super::*;
use crate::import::FileError;

/// The whole-text parser this reader replaced: the reference for every outcome below the cap.
#[path = "whole_text_parser.rs"]
#[allow(dead_code, clippy::all)]
mod old;

use crate::import::stream::test_source::{Pieces, Unsteady};

type Outcome = (Result<Vec<String>, String>, Vec<Result<Row, RowError>>);

fn read_with(text: &[u8], delimiter: u8, size: usize, cap: usize) -> Outcome {
    let mut reader = RecordReader::with_cap(Pieces { bytes: text, size }, delimiter, cap);
    let header = reader.header().map_err(|e| e.to_string());
    let rows = if header.is_ok() {
        reader.by_ref().collect()
    } else {
        Vec::new()
    };
    assert!(reader.finish().is_ok());
    (header, rows)
}

/// The outcome of reading `text` in pieces of every size from 1 to 7 bytes, of 4096 and
/// whole, which must all be the same.
fn read_in_pieces(text: &[u8], delimiter: u8, cap: usize) -> Outcome {
    let whole = read_with(text, delimiter, usize::MAX, cap);
    for size in (1..=7).chain([4096]) {
        assert_eq!(
            read_with(text, delimiter, size, cap),
            whole,
            "pieces of {size} bytes: {:?}",
            String::from_utf8_lossy(text)
        );
    }
    whole
}

/// What the old `Parser` gives, in this crate's types.
fn read_old(text: &str, delimiter: u8) -> Outcome {
    let mut parser = old::Parser::new(text, delimiter);
    let header = parser.header().map_err(|e| e.to_string());
    let rows = if header.is_ok() {
        parser
            .map(|r| match r {
                Ok(row) => Ok(Row {
                    line: row.line,
                    fields: row.fields,
                }),
                Err(e) => Err(RowError {
                    line: e.line,
                    column: e.column,
                    value: e.value,
                    message: e.message,
                }),
            })
            .collect()
    } else {
        Vec::new()
    };
    (header, rows)
}

// --- The tests of parse.rs, with the same inputs and expectations. ---

fn parse(text: &str, delimiter: u8) -> (Vec<String>, Vec<Result<Row, RowError>>) {
    let (header, rows) = read_in_pieces(text.as_bytes(), delimiter, MAX_SPAN_BYTES);
    (header.unwrap(), rows)
}

fn lines(rows: &[Result<Row, RowError>]) -> Vec<(u64, bool)> {
    rows.iter()
        .map(|r| match r {
            Ok(row) => (row.line, true),
            Err(e) => (e.line, false),
        })
        .collect()
}

#[test]
fn lf_crlf_cr_and_mixed_line_endings() {
    for text in [
        "a,b\n1,2\n3,4\n",
        "a,b\r\n1,2\r\n3,4\r\n",
        "a,b\r1,2\r3,4\r",
        "a,b\r\n1,2\r3,4\n",
    ] {
        let (header, rows) = parse(text, b',');
        assert_eq!(header, ["a", "b"], "{text:?}");
        assert_eq!(lines(&rows), [(2, true), (3, true)], "{text:?}");
    }
}

#[test]
fn blank_lines_are_skipped_and_line_numbers_stay_true() {
    let (_, rows) = parse("\n\na,b\n\n1,2\n,\n\r\n3,4", b',');
    assert_eq!(lines(&rows), [(5, true), (8, true)]);
}

#[test]
fn quoted_fields_hold_delimiters_quotes_and_line_breaks() {
    let text =
        "name,note\n\"Lee, Ann\",\"said \"\"hi\"\"\"\n\"O'Brien\",\"two\nlines\"\nlast,row\n";
    let (_, rows) = parse(text, b',');
    let rows: Vec<Row> = rows.into_iter().map(Result::unwrap).collect();
    assert_eq!(rows[0].fields, ["Lee, Ann", "said \"hi\""]);
    assert_eq!(rows[1].fields, ["O'Brien", "two\nlines"]);
    assert_eq!(
        (rows[1].line, rows[2].line),
        (3, 5),
        "the quoted line break counts"
    );
}

#[test]
fn ragged_rows_are_errors_and_reading_goes_on() {
    let (_, rows) = parse("a;b;c\n1;2;3\n1;2\n1;2;3;4\n5;6;7\n", b';');
    assert_eq!(lines(&rows), [(2, true), (3, false), (4, false), (5, true)]);
    let Err(e) = &rows[1] else { unreachable!() };
    assert_eq!(
        e.message,
        "This row has 2 fields but the header has 3. A value that contains the delimiter must be quoted."
    );
}

#[test]
fn an_unclosed_quote_is_reported_and_the_rows_after_it_are_read() {
    let (_, rows) = parse("a,b\n1,2\n3,\"open\n4,5\n6,7\n", b',');
    assert_eq!(lines(&rows), [(2, true), (3, false), (4, true), (5, true)]);
    let Err(e) = &rows[1] else { unreachable!() };
    assert!(e.message.contains("never closed"), "{}", e.message);
    assert_eq!(e.message, UNCLOSED);
    // A quote inside an unquoted value is a character, not an opening quote.
    let (_, rows) = parse("name,city\nAl \"Ace\" Smith,Oslo\n", b',');
    assert_eq!(
        rows[0].as_ref().unwrap().fields,
        ["Al \"Ace\" Smith", "Oslo"]
    );
}

#[test]
fn an_over_long_field_is_an_error_naming_its_column() {
    let long = "x".repeat(1_000_000);
    let text = format!("Email,Address\na@b.c,{long}\nd@e.f,short\n");
    let (_, rows) = parse(&text, b',');
    let Err(e) = &rows[0] else {
        panic!("expected an error")
    };
    assert_eq!(e.column.as_deref(), Some("Address"));
    assert_eq!(
        e.message,
        "The value is 1000000 characters long; the limit is 1000."
    );
    assert!(e.value.as_ref().unwrap().ends_with('…'));
    assert_eq!(rows[1].as_ref().unwrap().fields, ["d@e.f", "short"]);
    let ok = format!("Email,Address\na@b.c,{}\n", "y".repeat(1000));
    assert!(parse(&ok, b',').1[0].is_ok(), "exactly the limit is fine");
    assert_eq!(
        read_old(&text, b','),
        read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES)
    );
}

#[test]
fn tab_separated_values_may_contain_commas() {
    let (header, rows) = parse("Email\tAddress\na@b.c\t1, Main Street\n", b'\t');
    assert_eq!(header, ["Email", "Address"]);
    assert_eq!(
        rows[0].as_ref().unwrap().fields,
        ["a@b.c", "1, Main Street"]
    );
}

#[test]
fn a_file_of_blank_lines_has_no_header() {
    let mut reader = RecordReader::new(&b"\n\r\n"[..], b',');
    assert!(matches!(
        reader.header(),
        Err(StreamError::File(FileError::Empty))
    ));
}

// --- Beyond parse.rs. ---

#[test]
fn characters_and_crlf_split_between_pieces_are_put_together() {
    let text = "Name,Note\r\nFrançoise,\"€ 5\r\n😀\"\r\n\"Ünal\",naïve\r\n\u{3000},\u{a0}\r\nend,x";
    let (header, rows) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(header.clone().unwrap(), ["Name", "Note"]);
    assert_eq!(
        rows,
        [
            Ok::<_, RowError>(Row {
                line: 2,
                fields: vec!["Françoise".into(), "€ 5\r\n😀".into()]
            }),
            Ok(Row {
                line: 4,
                fields: vec!["Ünal".into(), "naïve".into()]
            }),
            // A line of Unicode spaces is blank, as `str::trim` sees it.
            Ok(Row {
                line: 6,
                fields: vec!["end".into(), "x".into()]
            }),
        ]
    );
    assert_eq!(read_old(text, b','), (header, rows));
}

#[test]
fn an_over_long_value_is_counted_in_characters_across_pieces() {
    let long = "é".repeat(3000);
    let text = format!("A,B,C\n1,\"{long}\",{long}\n");
    let (_, rows) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    let Err(e) = &rows[0] else {
        panic!("expected an error")
    };
    assert_eq!(e.column.as_deref(), Some("B"));
    assert_eq!(
        e.value.as_deref(),
        Some(format!("{}…", "é".repeat(80)).as_str())
    );
    assert_eq!(
        read_old(&text, b','),
        read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES)
    );
    // A very long value of only (multi-byte) spaces makes a blank line, skipped.
    let text = format!(
        "A\n{}\n\"{}\"\nx\n",
        "\u{3000}".repeat(5000),
        " \u{a0}".repeat(3000)
    );
    let (_, rows) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(lines(&rows), [(4, true)]);
    assert_eq!(
        read_old(&text, b','),
        read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES)
    );
}

#[test]
fn extra_fields_are_counted_without_being_kept() {
    let text = format!("a,b\n1,2{}\n{}\n3,4\n", ",x".repeat(5000), ",".repeat(5000));
    let (_, rows) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(lines(&rows), [(2, false), (4, true)]);
    assert!(
        rows[0]
            .as_ref()
            .unwrap_err()
            .message
            .starts_with("This row has 5002 fields")
    );
    assert_eq!(
        read_old(&text, b','),
        (Ok(vec!["a".into(), "b".into()]), rows)
    );
    // Of the wide row, only the header's two fields are kept in memory.
    let mut reader = RecordReader::new(text.as_bytes(), b',');
    reader.header().unwrap();
    assert!(matches!(
        reader.read_into(&mut Row::default()),
        Ok(Next::Invalid(_))
    ));
    let fields = &reader.fields;
    assert_eq!(
        (&fields.bytes[..], &fields.ends[..], fields.count),
        (&b"12"[..], &[1, 2][..], 5002)
    );
}

#[test]
fn a_bom_left_in_the_text_is_skipped_at_the_very_start_only() {
    for text in ["\u{feff}a,b\n1,2\n", "\n\u{feff}a,b\n\u{feff}1,2\n"] {
        let outcome = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
        assert_eq!(outcome, read_old(text, b','), "{text:?}");
    }
}

#[test]
fn the_header_line_is_refused_when_too_wide_or_too_long() {
    // As many names as the limit are read.
    let text = format!("h{}\n1\n", ",h".repeat(MAX_COLUMNS - 1));
    let (header, _) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(header.unwrap().len(), MAX_COLUMNS);
    let text = format!("{}\n1\n", ",h".repeat(MAX_COLUMNS));
    let (header, _) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(
        header.unwrap_err(),
        "The header line (line 1) cannot be read: It has 1001 fields; the limit is 1000."
    );
    let text = format!("Email,{}\n1,2\n", "n".repeat(1001));
    let (header, _) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(
        header.unwrap_err(),
        "The header line (line 1) cannot be read: The value is 1001 characters long; the limit is 1000."
    );
    let (header, _) = read_in_pieces(b"\n\"a,b\n", b',', MAX_SPAN_BYTES);
    assert_eq!(
        header.unwrap_err(),
        format!("The header line (line 2) cannot be read: {UNCLOSED}")
    );
}

#[test]
fn a_record_of_the_widest_longest_values_fits_under_the_reader_s_own_cap() {
    // What MAX_SPAN_BYTES promises: 250 values of the longest length allowed, each over two
    // lines and of 4-byte characters (about a million bytes in all), are one record.
    let half = "\u{1D11E}".repeat(MAX_FIELD_CHARS / 2);
    let value = format!("{}\n{half}", &half[4..]);
    assert_eq!(value.chars().count(), MAX_FIELD_CHARS);
    let header: Vec<String> = (1..=250).map(|i| format!("c{i}")).collect();
    let record = vec![format!("\"{value}\""); 250].join(",");
    assert!(record.len() > 990_000 && record.len() < MAX_SPAN_BYTES);
    let text = format!("{}\n{record}\n{}\n", header.join(","), ["x"; 250].join(","));
    let mut reader = RecordReader::new(text.as_bytes(), b',');
    assert_eq!(reader.header().unwrap(), header);
    let rows: Vec<_> = reader.by_ref().collect();
    assert_eq!(
        rows,
        [
            Ok(Row {
                line: 2,
                fields: vec![value; 250]
            }),
            // One line break in each of the record's values: it ends on line 252.
            Ok(Row {
                line: 253,
                fields: vec!["x".to_owned(); 250]
            })
        ]
    );
}

#[test]
fn read_into_reuses_the_row_and_reports_progress() {
    let text = "a,b\n1,2\n\n3,4\n";
    let mut reader = RecordReader::new(text.as_bytes(), b',');
    reader.header().unwrap();
    assert_eq!((reader.line(), reader.offset()), (1, 4));
    let mut row = Row::default();
    assert_eq!(reader.read_into(&mut row).unwrap(), Next::Row);
    let first = row.fields[0].as_ptr();
    assert_eq!(reader.read_into(&mut row).unwrap(), Next::Row);
    assert_eq!(
        row,
        Row {
            line: 4,
            fields: vec!["3".into(), "4".into()]
        }
    );
    assert_eq!(row.fields[0].as_ptr(), first, "the string was reused");
    assert_eq!(reader.line(), 4);
    assert_eq!(reader.read_into(&mut row).unwrap(), Next::End);
}

#[test]
fn an_interrupted_read_is_tried_again_and_a_failing_source_is_reported() {
    let mut reader = RecordReader::new(Unsteady::new(b"a\n1\n2\n", 1, false), b',');
    assert_eq!(reader.header().unwrap(), ["a"]);
    let rows: Vec<_> = reader.by_ref().collect();
    assert_eq!(lines(&rows), [(2, true), (3, true)]);
    assert!(reader.finish().is_ok());
    // A source that fails stops the rows, and its error is reported.
    let mut reader = RecordReader::new(Unsteady::new(b"a\n1\n2", 1, true), b',');
    reader.header().unwrap();
    let rows: Vec<_> = reader.by_ref().collect();
    assert_eq!(lines(&rows), [(2, true)]);
    let err = reader.finish().unwrap_err();
    assert!(matches!(err, StreamError::Source(_)));
    assert_eq!(err.to_string(), "The file could not be read: database gone");
}

#[test]
fn text_that_is_not_utf8_is_an_error_of_the_source() {
    let mut reader = RecordReader::new(&b"a,b\n1,\xff\n"[..], b',');
    reader.header().unwrap();
    let mut row = Row::default();
    assert!(matches!(
        reader.read_into(&mut row),
        Err(StreamError::Source(_))
    ));
    assert_eq!(reader.read_into(&mut row).unwrap(), Next::End);
}

#[test]
fn a_line_of_whitespace_and_bytes_that_are_not_utf8_is_not_blank() {
    // Such a line is not skipped as blank: it is read, and its bytes are reported. That
    // holds for a whole character that is not UTF-8 and for one cut short by the delimiter.
    for line in [&b" \xff,"[..], b"\t,\xe2\x80", b"\xe2\x80, "] {
        let text = [&b"a,b\n"[..], line, b"\n1,2\n"].concat();
        let mut reader = RecordReader::new(&text[..], b',');
        reader.header().unwrap();
        let mut row = Row::default();
        assert!(
            matches!(reader.read_into(&mut row), Err(StreamError::Source(_))),
            "{line:?}"
        );
    }
    // In a value longer than what is kept of it, the line is read too, and the value is
    // reported as too long (each byte that does not continue a character counted as one).
    let long = " ".repeat(4 * MAX_FIELD_CHARS + 10);
    for (start, end, chars) in [
        (&b""[..], &b"\xff,"[..], 4011),
        (b"", b"\xe2\x80,", 4011),
        (b"", b"\xff\xff\xff\xff\xff,", 4015),
        // In the part that is kept.
        (b"\xff", b",", 4011),
    ] {
        let text = [b"a,b\n", start, long.as_bytes(), end, b"\n1,2\n"].concat();
        let mut reader = RecordReader::new(&text[..], b',');
        reader.header().unwrap();
        let mut row = Row::default();
        match reader.read_into(&mut row) {
            Ok(Next::Invalid(e)) => assert_eq!((e.line, e.message), (2, too_long(chars))),
            other => panic!("{end:?}: {other:?}"),
        }
    }
    // Whitespace alone is blank however long, even when what is kept of it ends inside a
    // character (U+3000, an ideographic space, is three bytes).
    let text = format!(
        "a,b\n{}{},\n1,2\n",
        " ".repeat(4 * MAX_FIELD_CHARS - 1),
        "\u{3000}".repeat(10)
    );
    let (_, rows) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(lines(&rows), [(3, true)]);
}

// --- The bound on records that run on, against a slow model of the documented rule. ---

/// Line breaks before `pos`; CRLF counts once.
fn line_at(text: &[u8], pos: usize) -> u64 {
    let mut line = 1;
    for i in 0..pos {
        if text[i] == b'\n' || (text[i] == b'\r' && text.get(i + 1) != Some(&b'\n')) {
            line += 1;
        }
    }
    line
}

enum ModelRecord {
    Fields(u64, Vec<String>),
    Unclosed(u64),
}

/// The documented behaviour computed the plain way, from the whole text: csv_core's rules
/// record by record; a record still open at the end, or `cap` bytes past its first line
/// break (with a byte left to read), is reported at its line and reading starts again at
/// that line break. Slow (quadratic), and simple enough to trust.
fn model(text: &[u8], delimiter: u8, cap: usize) -> Outcome {
    #[derive(PartialEq)]
    enum S {
        Field,
        Plain,
        Quoted,
        Quote,
    }
    let mut records = Vec::new();
    let mut p = if text.starts_with(UTF8_BOM) { 3 } else { 0 };
    'records: loop {
        while p < text.len() && (text[p] == b'\r' || text[p] == b'\n') {
            p += 1;
        }
        if p == text.len() {
            break;
        }
        let start = p;
        let mut fields: Vec<Vec<u8>> = vec![Vec::new()];
        let mut s = S::Field;
        let mut first_break = None;
        let mut q = start;
        loop {
            let cut = match first_break {
                Some(fb) if q - fb == cap && q < text.len() => true,
                _ => q == text.len() && s == S::Quoted,
            };
            if cut {
                records.push(ModelRecord::Unclosed(line_at(text, start)));
                match first_break {
                    Some(fb) => {
                        p = fb;
                        continue 'records;
                    }
                    None => break 'records,
                }
            }
            if q == text.len() {
                records.push(ModelRecord::Fields(line_at(text, start), strings(fields)));
                break 'records;
            }
            let b = text[q];
            q += 1;
            let field = fields.last_mut().unwrap();
            let is_break = b == b'\r' || b == b'\n';
            match s {
                S::Field | S::Plain | S::Quote if b == delimiter => {
                    fields.push(Vec::new());
                    s = S::Field;
                }
                S::Field | S::Plain | S::Quote if is_break => {
                    records.push(ModelRecord::Fields(line_at(text, start), strings(fields)));
                    p = q;
                    continue 'records;
                }
                S::Field if b == b'"' => s = S::Quoted,
                S::Quote if b == b'"' => {
                    field.push(b);
                    s = S::Quoted;
                }
                S::Field | S::Plain | S::Quote => {
                    field.push(b);
                    s = S::Plain;
                }
                S::Quoted if b == b'"' => s = S::Quote,
                S::Quoted => {
                    field.push(b);
                    if is_break && first_break.is_none() {
                        first_break = Some(q - 1);
                    }
                }
            }
        }
    }
    fn strings(fields: Vec<Vec<u8>>) -> Vec<String> {
        fields
            .into_iter()
            .map(|f| String::from_utf8(f).unwrap())
            .collect()
    }
    let blank = |fields: &[String]| fields.iter().all(|f| f.trim().is_empty());
    let mut records = records.into_iter();
    let header = loop {
        match records.next() {
            None => return (Err(FileError::Empty.to_string()), Vec::new()),
            Some(ModelRecord::Unclosed(line)) => {
                return (Err(header_error(line, UNCLOSED).to_string()), Vec::new());
            }
            Some(ModelRecord::Fields(_, fields)) if blank(&fields) => {}
            // Unlike `Parser`, a header line with an over-long name is refused.
            Some(ModelRecord::Fields(line, fields)) => {
                if let Some(f) = fields.iter().find(|f| f.chars().count() > MAX_FIELD_CHARS) {
                    let message = too_long(f.chars().count() as u64);
                    return (Err(header_error(line, &message).to_string()), Vec::new());
                }
                break fields;
            }
        }
    };
    let rows = records
        .filter_map(|record| match record {
            ModelRecord::Unclosed(line) => Some(Err(RowError {
                line,
                column: None,
                value: None,
                message: UNCLOSED.into(),
            })),
            ModelRecord::Fields(_, fields) if blank(&fields) => None,
            ModelRecord::Fields(line, fields) => Some(if fields.len() != header.len() {
                Err(RowError {
                    line,
                    column: None,
                    value: None,
                    message: format!(
                        "This row has {} fields but the header has {}. A value that contains the delimiter must be quoted.",
                        fields.len(),
                        header.len()
                    ),
                })
            } else if let Some((i, f)) =
                fields.iter().enumerate().find(|(_, f)| f.chars().count() > MAX_FIELD_CHARS)
            {
                Err(RowError {
                    line,
                    column: Some(header[i].trim().to_owned()),
                    value: Some(excerpt(f)),
                    message: too_long(f.chars().count() as u64),
                })
            } else {
                Ok(Row { line, fields })
            }),
        })
        .collect();
    (Ok(header), rows)
}

/// xorshift64*: the same pseudo-random texts on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    fn text(&mut self, alphabet: &[&str], max_len: usize) -> String {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

#[test]
fn random_small_files_read_as_the_old_parser_reads_them() {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let alphabet = ["a", ",", "\"", "\n", "\r", " ", "é"];
    for _ in 0..4000 {
        let text = random.text(&alphabet, 30);
        let old = read_old(&text, b',');
        assert_eq!(
            read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES),
            old,
            "{text:?}"
        );
        assert_eq!(
            model(text.as_bytes(), b',', usize::MAX),
            old,
            "model: {text:?}"
        );
    }
}

#[test]
fn random_files_with_records_cut_at_small_caps_read_as_the_model_says() {
    let mut random = Random(0x2545_F491_4F6C_DD1D);
    let alphabets: [&[&str]; 4] = [
        &["a", ",", "\"", "\n", "\r"],
        &["a", "\",\"", "\"", "\n", "a\n"],
        &["\"", "\n", "\r\n", ",", "x"],
        // Quotes that close and open at delimiters: records joined, then ended by the text.
        &["\"", "\n", ",", "b", "\",", ",\""],
    ];
    for round in 0..4000 {
        let text = random.text(alphabets[round % 4], 60);
        let cap = 1 + random.below(12);
        let expected = model(text.as_bytes(), b',', cap);
        assert_eq!(
            read_in_pieces(text.as_bytes(), b',', cap),
            expected,
            "cap {cap}: {text:?}"
        );
    }
}

#[test]
fn a_record_running_past_the_cap_is_cut_and_reading_resumes_on_its_next_line() {
    // The quote at line 2 closes on line 5, 3 line breaks later: with a cap of 8 bytes the
    // record is cut and lines 3 to 5 are read on their own.
    let text = "a,b\n1,\"x\n3,3\n4,4\n5\"\n6,6\n";
    let (_, rows) = read_in_pieces(text.as_bytes(), b',', 8);
    assert_eq!(
        lines(&rows),
        [(2, false), (3, true), (4, true), (5, false), (6, true)]
    );
    assert_eq!(rows[0].as_ref().unwrap_err().message, UNCLOSED);
    // Without the cap, that is one row, as the old parser reads it.
    let (_, rows) = read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES);
    assert_eq!(lines(&rows), [(2, true), (6, true)]);
    assert_eq!(read_old(text, b',').1, rows);
}

#[test]
fn lines_that_each_close_a_quote_and_open_another_are_cut_one_by_one() {
    // Every line ends inside quotes whichever line one starts reading from: `Parser` reads
    // the rest of the file once per line. Cut at the cap, each line is an error, as there.
    let text = format!("h\n{}", "a\",\"\n".repeat(50));
    for cap in [1, 4, 10, 37] {
        let outcome = read_in_pieces(text.as_bytes(), b',', cap);
        assert_eq!(outcome, model(text.as_bytes(), b',', cap), "cap {cap}");
        assert_eq!(outcome.1.len(), 50);
        assert!(
            outcome
                .1
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.message == UNCLOSED))
        );
    }
    assert_eq!(
        read_in_pieces(text.as_bytes(), b',', MAX_SPAN_BYTES),
        read_old(&text, b',')
    );
}

#[test]
fn random_files_with_long_values_and_cut_records_read_as_the_model_says() {
    // Values over the length limit in records that are cut, read again and joined.
    let mut random = Random(0x853C_49E6_748F_EA9B);
    let long = "z".repeat(700);
    let wide = "é".repeat(400);
    let alphabet = [
        "\"",
        "\n",
        ",",
        "\r\n",
        "a",
        long.as_str(),
        wide.as_str(),
        " ",
    ];
    let (mut long_errors, mut unclosed) = (0, 0);
    for round in 0..1000 {
        let text = format!("h1,h2\n{}", random.text(&alphabet, 20));
        let cap = [1, 5, 800, 1500, 4000, MAX_SPAN_BYTES][round % 6];
        let expected = model(text.as_bytes(), b',', cap);
        assert_eq!(
            read_in_pieces(text.as_bytes(), b',', cap),
            expected,
            "cap {cap}: {text:?}"
        );
        for e in expected.1.iter().filter_map(|r| r.as_ref().err()) {
            long_errors += usize::from(e.message.contains("characters long"));
            unclosed += usize::from(e.message == UNCLOSED);
        }
    }
    // The texts do reach both cases.
    assert!(
        long_errors > 50 && unclosed > 50,
        "{long_errors} {unclosed}"
    );
}

#[test]
fn reading_again_keeps_memory_within_a_few_times_the_cap() {
    // Every line is cut and read again: what is kept of the text stays within about three
    // times the cap however long the file, as the module's comment says.
    let text = format!("h\n{}", "a\",\"\n".repeat(2000));
    for cap in [4, 37, 200] {
        for size in [1, 7, 4096, usize::MAX] {
            let source = Pieces {
                bytes: text.as_bytes(),
                size,
            };
            let mut reader = RecordReader::with_cap(source, b',', cap);
            reader.header().unwrap();
            let (mut rows, mut most) = (0, 0);
            while reader.read_into(&mut Row::default()).unwrap() != Next::End {
                rows += 1;
                most = most.max(reader.spill.bytes.len() + reader.replay.len());
            }
            assert_eq!(rows, 2000);
            assert!(
                most <= 3 * cap,
                "cap {cap}, pieces of {size} bytes: {most} kept"
            );
        }
    }
}
