//! Choosing the delimiter of a file from its header line (SPEC §3.2, `auto`).

/// The delimiter that occurs most often outside quotes in the first line of `text`:
/// comma, semicolon or tab; a comma when none occurs (a one-column file).
///
/// ```
/// use app::import::sniff::sniff_delimiter;
/// assert_eq!(sniff_delimiter("Email;First name;Last name\n"), b';');
/// assert_eq!(sniff_delimiter("Email\tAddress\na@b.c\t1, Main St\n"), b'\t');
/// ```
pub fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in text.bytes() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(entry) = counts.iter_mut().find(|(d, _)| *d == byte) {
                    entry.1 += 1;
                }
            }
            _ => {}
        }
    }
    // On a tie the earlier candidate (comma first) wins.
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(d, n)| if n > best.1 { (d, n) } else { best },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::sniff_delimiter;

    #[test]
    fn picks_the_most_frequent_delimiter_of_the_header_line() {
        assert_eq!(sniff_delimiter("Email,First name\n"), b',');
        assert_eq!(sniff_delimiter("Email;First name;Last name\r\nx;y;z"), b';');
        assert_eq!(sniff_delimiter("Email\tFirst name\n"), b'\t');
        // Delimiters inside quotes, or in data rows, do not count.
        assert_eq!(sniff_delimiter("\"Name, full\";Email\na,b,c,d,e\n"), b';');
        assert_eq!(sniff_delimiter("Email\n"), b',');
        assert_eq!(sniff_delimiter("Email\ra;b;c"), b',');
        // A line break inside quotes does not end the header line.
        assert_eq!(
            sniff_delimiter("\"First\nname\";Email;Phone\na,b,c,d,e\n"),
            b';'
        );
    }
}
