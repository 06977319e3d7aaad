//! Turns the file as people have it into records. It tells the encoding (UTF-8 with or without
//! a BOM, UTF-16 as Excel's "Unicode text" writes it, Windows-1252 as Excel's plain "CSV" does
//! in Western locales) and the delimiter (comma, semicolon, tab, or Excel's `sep=` line),
//! hashes every byte on the way (a changed file is a new run), and keeps bounds so that a
//! hostile or broken file cannot cost memory: no line longer than [`MAX_LINE_BYTES`], no binary.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;
use sha2::{Digest, Sha256};

/// The longest line (a record, with quoted line breaks) a file may have.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// How much of the file is looked at to tell its encoding and delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// Why the file could not be read as a table.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "the file is not text (it holds binary data near byte {offset}): save the sheet as \
         CSV UTF-8 (comma delimited) or Unicode text"
    )]
    Binary { offset: usize },
    #[error(
        "line {line} is longer than {} KiB: no cell of this table is that long (is it the \
         right file?)",
        MAX_LINE_BYTES / 1024
    )]
    LineTooLong { line: u64 },
    #[error("line {line}: {detail}")]
    Unreadable { line: u64, detail: String },
    #[error("the file could not be read: {0}")]
    Io(#[from] io::Error),
}

/// What was found out about the file before its records were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub encoding: &'static Encoding,
    pub delimiter: u8,
}

/// The records of a file, each with the line it starts on, and the file's hash once read.
pub struct Table<R: Read> {
    reader: csv::Reader<LineGuard<DecodedReader<Hashing<R>>>>,
    pub format: Format,
    record: csv::StringRecord,
    hash: Rc<RefCell<(Sha256, u64)>>,
    /// The line breaks the reader has passed on that no record was read past yet, and how
    /// many were.
    newlines: Rc<RefCell<VecDeque<u64>>>,
    lines_before: u64,
    /// Whether the first record is Excel's `sep=` line.
    skip_first: bool,
}

type DecodedReader<R> =
    encoding_rs_io::DecodeReaderBytes<io::Chain<io::Cursor<Vec<u8>>, R>, Vec<u8>>;

impl<R: Read> Table<R> {
    /// Looks at the start of `source` to tell its encoding and delimiter, and gets ready to
    /// read its records.
    ///
    /// # Errors
    ///
    /// [`InputError::Empty`], [`InputError::Binary`], or the source's own error.
    pub fn open(source: R) -> Result<Table<R>, InputError> {
        let hash = Rc::new(RefCell::new((Sha256::new(), 0)));
        let mut hashing = Hashing {
            inner: source,
            hash: hash.clone(),
        };
        let mut start = Vec::with_capacity(SNIFF_BYTES);
        (&mut hashing)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut start)?;
        let encoding = sniff_encoding(&start)?;
        let (text, _) = encoding.decode_with_bom_removal(&start);
        if text.trim().is_empty() {
            return Err(InputError::Empty);
        }
        let first_line = text.lines().next().unwrap_or_default();
        let (delimiter, skip_sep_line) = sniff_delimiter(first_line);
        let decoded = DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_override(true)
            .strip_bom(true)
            .build(io::Cursor::new(start).chain(hashing));
        let newlines = Rc::new(RefCell::new(VecDeque::new()));
        let guarded = LineGuard {
            inner: decoded,
            line: 1,
            since_newline: 0,
            emitted: 0,
            newlines: newlines.clone(),
            pending_cr: false,
            quoted: false,
            at_field_start: true,
            just_closed: false,
            delimiter,
        };
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(16 * 1024)
            .from_reader(guarded);
        Ok(Table {
            reader,
            format: Format {
                encoding,
                delimiter,
            },
            record: csv::StringRecord::new(),
            hash,
            newlines,
            lines_before: 0,
            skip_first: skip_sep_line,
        })
    }

    /// Reads the next record and the line it starts on; `None` at the end.
    ///
    /// # Errors
    ///
    /// When a line is too long, the data is binary, or the read fails; the error names the line.
    pub fn next_record(&mut self) -> Result<Option<(u64, &csv::StringRecord)>, InputError> {
        if std::mem::take(&mut self.skip_first) {
            self.reader
                .read_record(&mut self.record)
                .map_err(describe_csv_error)?;
            self.line_of_record();
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self.line_of_record();
                if let Some(field) = self
                    .record
                    .iter()
                    .position(|field| field.contains('\u{fffd}'))
                {
                    return Err(InputError::Unreadable {
                        line,
                        detail: format!(
                            "column {} is not {} text (the file's start was): save the whole \
                             sheet as CSV UTF-8",
                            column_letter(field),
                            self.format.encoding.name()
                        ),
                    });
                }
                if let Some(field) = self
                    .record
                    .iter()
                    .position(|field| field.chars().any(is_binary))
                {
                    return Err(InputError::Unreadable {
                        line,
                        detail: format!(
                            "column {} holds control characters: the file is not a text table",
                            column_letter(field)
                        ),
                    });
                }
                Ok(Some((line, &self.record)))
            }
            Err(error) => Err(describe_csv_error(error)),
        }
    }

    /// The line the record just read starts on: one more than the line breaks before its first
    /// byte, the blank lines the reader skipped before it included.
    fn line_of_record(&mut self) -> u64 {
        let start = self.record.position().map_or(0, csv::Position::byte);
        let mut newlines = self.newlines.borrow_mut();
        while newlines.front().is_some_and(|at| *at < start) {
            newlines.pop_front();
            self.lines_before += 1;
        }
        let mut next = start;
        while newlines.front() == Some(&next) {
            newlines.pop_front();
            self.lines_before += 1;
            next += 1;
        }
        self.lines_before + 1
    }

    /// Returns the SHA-256 of every byte of the file, once all of it has been read, and its
    /// size.
    pub fn finish(self) -> (String, u64) {
        drop(self.reader);
        let (hasher, bytes) = self.hash.replace((Sha256::new(), 0));
        let digest = hasher.finalize();
        let hex = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        (hex, bytes)
    }
}

fn describe_csv_error(error: csv::Error) -> InputError {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(error) => match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TooLong>())
        {
            Some(TooLong(line)) => InputError::LineTooLong { line: *line },
            None => InputError::Io(error),
        },
        csv::ErrorKind::Utf8 { err, .. } => InputError::Unreadable {
            line,
            detail: format!("not text in field {}: {err}", err.field() + 1),
        },
        other => InputError::Unreadable {
            line,
            detail: format!("{other:?}"),
        },
    }
}

/// Whether `character` is a control character other than tab and line breaks (which CSV may
/// quote).
fn is_binary(character: char) -> bool {
    character.is_control() && !matches!(character, '\t' | '\r' | '\n')
}

/// Excel's name for the column at `index` (0 → A, 26 → AA).
pub fn column_letter(index: usize) -> String {
    let mut index = index + 1;
    let mut letters = Vec::new();
    while index > 0 {
        let rest = (index - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rest).unwrap_or(0)));
        index = (index - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// Tells the encoding from a BOM, from where the zero bytes fall (UTF-16 without a BOM), or
/// from whether the bytes are UTF-8; zero bytes in anything else are binary.
fn sniff_encoding(start: &[u8]) -> Result<&'static Encoding, InputError> {
    if start.is_empty() {
        return Err(InputError::Empty);
    }
    if let Some((encoding, _)) = Encoding::for_bom(start) {
        return Ok(encoding);
    }
    let sample = &start[..start.len().min(4096)];
    let zeros_at = |parity: usize| {
        sample
            .iter()
            .enumerate()
            .filter(|(index, byte)| index % 2 == parity && **byte == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    let half = sample.len() / 2;
    if odd * 3 > half && even * 10 < half.max(1) {
        return Ok(UTF_16LE);
    }
    if even * 3 > half && odd * 10 < half.max(1) {
        return Ok(UTF_16BE);
    }
    if let Some(offset) = start.iter().position(|byte| *byte == 0) {
        return Err(InputError::Binary { offset });
    }
    match std::str::from_utf8(start) {
        Ok(_) => Ok(UTF_8),
        // The sniffed bytes end in the middle of a character, which is still UTF-8.
        Err(error) if error.error_len().is_none() => Ok(UTF_8),
        Err(_) => Ok(WINDOWS_1252),
    }
}

/// Tells the delimiter from the header line: Excel's `sep=` line when there is one (and then
/// it is skipped), else whichever of semicolon, tab and comma occurs most outside quotes.
fn sniff_delimiter(first_line: &str) -> (u8, bool) {
    let line = first_line.trim_end_matches('\r');
    if let Some(separator) = line.strip_prefix("sep=")
        && let [delimiter] = separator.as_bytes()
    {
        return (*delimiter, true);
    }
    let mut counts = [(b';', 0usize), (b'\t', 0), (b',', 0)];
    let mut quoted = false;
    for byte in line.bytes() {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(count) = counts.iter_mut().find(|(d, _)| *d == byte) {
            count.1 += 1;
        }
    }
    let best = counts
        .iter()
        .max_by_key(|(delimiter, count)| (*count, *delimiter == b','))
        .map_or(
            b',',
            |(delimiter, count)| if *count == 0 { b',' } else { *delimiter },
        );
    (best, false)
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hash: Rc<RefCell<(Sha256, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        let mut hash = self.hash.borrow_mut();
        hash.0.update(&buffer[..read]);
        hash.1 += read as u64;
        Ok(read)
    }
}

/// The error a [`LineGuard`] gives, with the line.
#[derive(Debug)]
struct TooLong(u64);

impl std::fmt::Display for TooLong {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "line {} is too long", self.0)
    }
}

impl std::error::Error for TooLong {}

/// Turns `\r\n` and a lone `\r` into `\n` (so that every record's line is told right) and
/// fails the read once a record (a line, or lines inside quotes) grows past [`MAX_LINE_BYTES`],
/// so that no record is held whole in memory however long it is.
struct LineGuard<R> {
    inner: R,
    line: u64,
    since_newline: usize,
    /// How many bytes were passed on, and where the line breaks among them are that no record
    /// has been read past yet.
    emitted: u64,
    newlines: Rc<RefCell<VecDeque<u64>>>,
    /// A `\r` that ended the last read, not yet known to start a `\r\n`.
    pending_cr: bool,
    /// Whether the bytes passed on so far leave a quoted cell open; whether the next byte starts
    /// a cell; whether the last byte closed a quoted cell (a `"` right after reopens it).
    quoted: bool,
    at_field_start: bool,
    just_closed: bool,
    delimiter: u8,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.len() < 2 {
            // A buffer this small cannot hold a pending \r and a byte, so bytes are passed on
            // unchanged.
            return self.inner.read(buffer);
        }
        loop {
            let offset = usize::from(self.pending_cr);
            let read = self.inner.read(&mut buffer[offset..])?;
            if read == 0 {
                if std::mem::take(&mut self.pending_cr) {
                    buffer[0] = b'\r';
                    return Ok(1);
                }
                return Ok(0);
            }
            if std::mem::take(&mut self.pending_cr) {
                buffer[0] = b'\r';
            }
            let end = offset + read;
            let mut written = 0;
            let mut index = 0;
            while index < end {
                let mut byte = buffer[index];
                index += 1;
                if byte == b'\r' {
                    if index == end {
                        self.pending_cr = true;
                        continue;
                    }
                    if buffer[index] == b'\n' {
                        continue;
                    }
                    // Excel for Mac's "CSV (Macintosh)" ends lines with CR alone.
                    byte = b'\n';
                }
                // Quotes are read as CSV reads them: one opens a cell only at its start, `""`
                // inside is a quote, and one in the middle of an unquoted cell is just a
                // character.
                if self.quoted {
                    if byte == b'"' {
                        self.quoted = false;
                        self.just_closed = true;
                    }
                } else if byte == b'"' && (self.at_field_start || self.just_closed) {
                    self.quoted = true;
                    self.just_closed = false;
                } else {
                    self.just_closed = false;
                }
                self.at_field_start = !self.quoted && (byte == self.delimiter || byte == b'\n');
                if byte == b'\n' {
                    self.line += 1;
                    self.newlines
                        .borrow_mut()
                        .push_back(self.emitted + written as u64);
                }
                // A record ends only at a line break outside quotes: a quoted cell with line
                // breaks counts whole against the bound.
                if byte == b'\n' && !self.quoted {
                    self.since_newline = 0;
                } else {
                    self.since_newline += 1;
                    if self.since_newline > MAX_LINE_BYTES {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            TooLong(self.line),
                        ));
                    }
                }
                buffer[written] = byte;
                written += 1;
            }
            if written > 0 {
                self.emitted += written as u64;
                return Ok(written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Vec<(u64, Vec<String>)>;

    fn records(bytes: &[u8]) -> Result<(Format, Rows), InputError> {
        let mut table = Table::open(bytes)?;
        let mut rows = Vec::new();
        while let Some((line, record)) = table.next_record()? {
            rows.push((line, record.iter().map(str::to_owned).collect()));
        }
        Ok((table.format, rows))
    }

    #[test]
    fn excels_encodings_and_delimiters_are_told_apart() {
        let plain = "UPN;Mobile\r\nadele@contoso.com;+49 170 1234567\r\n";
        let (format, rows) = records(plain.as_bytes()).expect("read");
        assert_eq!(format.delimiter, b';');
        assert_eq!(
            rows[1],
            (
                2,
                vec!["adele@contoso.com".into(), "+49 170 1234567".into()]
            )
        );

        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(b"UPN,Mobile\nb@c.d,+1 425 555 0100\n");
        let (format, rows) = records(&bom).expect("read");
        assert_eq!((format.encoding, format.delimiter), (UTF_8, b','));
        assert_eq!(
            rows[0],
            (1, vec!["UPN".into(), "Mobile".into()]),
            "the BOM is not a name"
        );

        let unicode_text = "UPN\tMobile\r\nbjörn@contoso.com\t+46 70 123 45 67\r\n";
        let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
        utf16.extend(unicode_text.encode_utf16().flat_map(u16::to_le_bytes));
        let (format, rows) = records(&utf16).expect("read");
        assert_eq!((format.encoding, format.delimiter), (UTF_16LE, b'\t'));
        assert_eq!(rows[1].1[0], "björn@contoso.com");

        let no_bom: Vec<u8> = unicode_text
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(records(&no_bom).expect("read").0.encoding, UTF_16LE);

        let ansi = b"UPN;Name\nj@c.d;J\xfcrgen\n";
        let (format, rows) = records(ansi).expect("read");
        assert_eq!(format.encoding, WINDOWS_1252);
        assert_eq!(rows[1].1[1], "Jürgen");

        let (format, rows) =
            records(b"sep=;\r\nUPN;Mobile\r\n\r\nx@y.z;+49 170 1234567\r\n").expect("read");
        assert_eq!(rows[1].0, 4, "a blank line counts");
        assert_eq!(format.delimiter, b';');
        assert_eq!(rows[0].1, ["UPN", "Mobile"]);
        assert_eq!(rows[0].0, 2, "lines are counted as the file has them");
    }

    #[test]
    fn an_empty_binary_or_overlong_file_is_a_clear_error() {
        assert!(matches!(records(b""), Err(InputError::Empty)));
        assert!(matches!(records(b" \r\n\r\n"), Err(InputError::Empty)));
        let binary = [
            0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00,
        ];
        assert!(
            matches!(records(&binary), Err(InputError::Binary { .. })),
            "an .xlsx"
        );
        let mut long = b"UPN,Mobile\na@b.c,\"".to_vec();
        long.extend(std::iter::repeat_n(b'1', 10 * 1024 * 1024));
        assert!(matches!(
            records(&long),
            Err(InputError::LineTooLong { line: 2 })
        ));
        assert!(matches!(
            records(b"UPN,Mobile\na@b.c,\x07\x08\n"),
            Err(InputError::Unreadable { line: 2, .. })
        ));
    }

    #[test]
    fn the_hash_covers_every_byte() {
        let text = b"UPN,Mobile\na@b.c,+49 170 1234567\n";
        let mut table = Table::open(&text[..]).expect("read");
        while table.next_record().expect("a record").is_some() {}
        let (hash, size) = table.finish();
        assert_eq!(size, text.len() as u64);
        assert_eq!(hash.len(), 64);
        let mut other = Table::open(&b"UPN,Mobile\na@b.c,+49 170 1234568\n"[..]).expect("read");
        while other.next_record().expect("a record").is_some() {}
        assert_ne!(other.finish().0, hash);
    }
}
