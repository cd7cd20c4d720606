//! Reading an uploaded file into rows of text cells: CSV in UTF-8 (with or without a BOM),
//! UTF-16 with a BOM, or GB18030/GBK as Excel in China writes it (detected); XLSX (first or
//! chosen sheet); vCard (one row per card). Anything else gets a clear error.

use rapport_core::DomainError;
use std::borrow::Cow;
use std::io::Cursor;

/// At most this many rows in one file.
pub const MAX_ROWS: usize = 2_000_000;
/// At most this many columns in a row.
pub const MAX_COLUMNS: usize = 200;
/// A cell longer than this is cut (and the row will fail validation on a shorter field).
const MAX_CELL: usize = 20_000;

/// A file's rows and how it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// utf-8, utf-16, gb18030, xlsx or vcard
    pub encoding: &'static str,
    pub rows: Vec<Vec<String>>,
}

/// An opened file whose rows are read one at a time ([`Opened::rows`]): a CSV file is parsed
/// as it is read, so storing a large file never holds all of its rows in memory.
pub struct Opened<'a> {
    /// utf-8, utf-16, gb18030, xlsx or vcard
    pub encoding: &'static str,
    content: Content<'a>,
}

enum Content<'a> {
    /// CSV text: borrowed from the upload when it is UTF-8 already.
    Csv(Cow<'a, str>),
    /// Rows already read (XLSX, vCard).
    Rows(Vec<Vec<String>>),
}

/// The rows of an [`Opened`] file, blank rows left out, limits enforced.
pub struct Rows<'r> {
    inner: RowsInner<'r>,
    count: usize,
}

enum RowsInner<'r> {
    Csv(csv::StringRecordsIntoIter<&'r [u8]>),
    Rows(std::slice::Iter<'r, Vec<String>>),
}

impl Iterator for Rows<'_> {
    type Item = Result<Vec<String>, DomainError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let row: Vec<String> = match &mut self.inner {
                RowsInner::Csv(records) => match records.next()? {
                    Ok(rec) => rec.iter().map(cell).collect(),
                    Err(e) => return Some(Err(bad(format!("row {}: {e}", self.count + 1)))),
                },
                RowsInner::Rows(rows) => rows.next()?.clone(),
            };
            if row.iter().all(String::is_empty) {
                continue;
            }
            if row.len() > MAX_COLUMNS {
                return Some(Err(bad(format!(
                    "row {} has more than {MAX_COLUMNS} columns",
                    self.count + 1
                ))));
            }
            if self.count >= MAX_ROWS {
                return Some(Err(bad(format!("a file may hold at most {MAX_ROWS} rows"))));
            }
            self.count += 1;
            return Some(Ok(row));
        }
    }
}

impl Opened<'_> {
    pub fn rows(&self) -> Rows<'_> {
        let inner = match &self.content {
            Content::Csv(text) => RowsInner::Csv(
                csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(delimiter(text))
                    .from_reader(text.as_bytes())
                    .into_records(),
            ),
            Content::Rows(rows) => RowsInner::Rows(rows.iter()),
        };
        Rows { inner, count: 0 }
    }
}

fn bad(msg: impl Into<String>) -> DomainError {
    DomainError::field("file", "invalid_file", msg)
}

/// Decode text: BOMs first, then UTF-8 if it is valid, else GB18030 (a superset of GBK).
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), DomainError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest)
            .map(|s| (Cow::Borrowed(s), "utf-8"))
            .map_err(|_| bad("the file starts as UTF-8 but is not valid UTF-8"));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, _, errors) = enc.decode(bytes);
        if errors {
            return Err(bad("the file is not valid UTF-16 text"));
        }
        return Ok((Cow::Owned(text.into_owned()), "utf-16"));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), "utf-8"),
        Err(_) => {
            let (text, _, errors) = encoding_rs::GB18030.decode(bytes);
            if errors {
                return Err(bad(
                    "the file is neither UTF-8 nor GBK/GB18030 text; save it as CSV (UTF-8)",
                ));
            }
            (Cow::Owned(text.into_owned()), "gb18030")
        }
    };
    // Text files do not hold NUL or many other control characters: binary junk does.
    let controls = text
        .0
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .take(5)
        .count();
    if controls > 0 {
        return Err(bad("the file is not a text file (CSV, XLSX or vCard)"));
    }
    Ok(text)
}

/// The delimiter the first line uses most: comma, semicolon or tab.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let count = |c: char| first.matches(c).count();
    let (comma, semi, tab) = (count(','), count(';'), count('\t'));
    if tab > comma && tab >= semi {
        b'\t'
    } else if semi > comma {
        b';'
    } else {
        b','
    }
}

fn cell(s: &str) -> String {
    let t = s.trim();
    if t.chars().count() > MAX_CELL {
        t.chars().take(MAX_CELL).collect()
    } else {
        t.to_string()
    }
}

fn xlsx_rows(bytes: &[u8], sheet: Option<usize>) -> Result<Vec<Vec<String>>, DomainError> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("the workbook cannot be read: {e}")))?;
    let names = book.sheet_names();
    let name = names
        .get(sheet.unwrap_or(0))
        .cloned()
        .ok_or_else(|| bad(format!("the workbook has {} sheets", names.len())))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| bad(format!("sheet {name} cannot be read: {e}")))?;
    let mut rows = Vec::new();
    for r in range.rows() {
        let row: Vec<String> = r
            .iter()
            .map(|c| match c {
                Data::Empty => String::new(),
                Data::String(s) => cell(s),
                Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                Data::Float(f) => f.to_string(),
                Data::Int(i) => i.to_string(),
                Data::Bool(b) => b.to_string(),
                Data::DateTime(d) => d
                    .as_datetime()
                    .map(|t| {
                        if t.time() == chrono::NaiveTime::MIN {
                            t.format("%Y-%m-%d").to_string()
                        } else {
                            t.format("%Y-%m-%dT%H:%M:%S").to_string()
                        }
                    })
                    .unwrap_or_default(),
                Data::DateTimeIso(s) | Data::DurationIso(s) => cell(s),
                Data::Error(_) => String::new(),
            })
            .collect();
        rows.push(row);
    }
    Ok(rows)
}

/// vCards as rows: a header row of contact field names, then one row per card.
fn vcard_rows(text: &str) -> Result<Vec<Vec<String>>, DomainError> {
    let cards = crate::vcard::parse(text)?;
    let docs: Vec<_> = cards
        .iter()
        .map(|c| crate::vcard::card_to_doc(c).0)
        .collect();
    let mut header: Vec<String> = Vec::new();
    for d in &docs {
        for k in d.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
    }
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut rows = vec![header.clone()];
    for d in &docs {
        let row = header
            .iter()
            .map(|h| d.get(h).map(show).unwrap_or_default())
            .collect();
        rows.push(row);
    }
    Ok(rows)
}

/// Open an uploaded file by its content (and name, for XLSX): its encoding is detected and
/// its text checked; rows are read by [`Opened::rows`].
pub fn open<'a>(
    file_name: &str,
    bytes: &'a [u8],
    sheet: Option<usize>,
) -> Result<Opened<'a>, DomainError> {
    if bytes.is_empty() {
        return Err(bad("the file is empty"));
    }
    let lower = file_name.to_lowercase();
    if bytes.starts_with(b"PK\x03\x04") || lower.ends_with(".xlsx") {
        return Ok(Opened {
            encoding: "xlsx",
            content: Content::Rows(xlsx_rows(bytes, sheet)?),
        });
    }
    let (text, encoding) = decode(bytes)?;
    let head = text.trim_start();
    if head
        .get(..11)
        .is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCARD"))
    {
        return Ok(Opened {
            encoding: "vcard",
            content: Content::Rows(vcard_rows(&text)?),
        });
    }
    Ok(Opened {
        encoding,
        content: Content::Csv(text),
    })
}

/// The error for a file without a single row.
pub fn no_rows(encoding: &str) -> DomainError {
    bad(if encoding == "xlsx" {
        "the sheet has no rows"
    } else {
        "the file has no rows"
    })
}

/// Read an uploaded file whole (small files and tests; uploads stream through [`open`]).
pub fn read(file_name: &str, bytes: &[u8], sheet: Option<usize>) -> Result<Parsed, DomainError> {
    let opened = open(file_name, bytes, sheet)?;
    let rows = opened.rows().collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        return Err(no_rows(opened.encoding));
    }
    Ok(Parsed {
        encoding: opened.encoding,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_detected() {
        let text = "姓名,手机\n张三,13800138000\n";
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        let p = read("a.csv", &gbk, None).unwrap();
        assert_eq!(p.encoding, "gb18030");
        assert_eq!(p.rows[1], ["张三", "13800138000"]);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        let p = read("a.csv", &bom, None).unwrap();
        assert_eq!((p.encoding, p.rows[0][0].as_str()), ("utf-8", "姓名"));
        // Multi-byte text right where a vCard's first line would be checked.
        assert!(read("a.csv", "客户名称客户名称\n".as_bytes(), None).is_ok());
    }

    #[test]
    fn quoted_newlines_ragged_rows_and_semicolons() {
        let p = read(
            "a.csv",
            b"name;note\n\"Acme\";\"two\nlines\"\n\nBeta\n",
            None,
        )
        .unwrap();
        assert_eq!(p.rows.len(), 3);
        assert_eq!(p.rows[1][1], "two\nlines");
        assert_eq!(p.rows[2], ["Beta"]);
    }

    #[test]
    fn junk_and_empty_files_are_refused_clearly() {
        assert!(read("a.csv", b"", None).is_err());
        assert!(read("a.csv", b"\n\n  \n", None).is_err());
        let junk: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert!(read("a.csv", &junk, None).is_err());
        assert!(read("a.xlsx", b"PK\x03\x04not a zip", None).is_err());
    }
}
