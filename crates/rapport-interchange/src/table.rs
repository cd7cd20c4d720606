//! Tables written as files: CSV (UTF-8 with a byte-order mark) and XLSX, row by row. CSV cells
//! that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return)
//! are neutralised with a leading apostrophe; XLSX cells are written as text, never as
//! formulas.

use rapport_core::DomainError;
use serde::{Deserialize, Serialize};

/// The file formats an export can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A cell as a spreadsheet must not run it: text that starts like a formula gets a leading
/// apostrophe. Plain numbers (a negative amount) are left alone.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = cell.parse::<f64>().is_ok() && !cell.starts_with('+');
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Where exported rows go.
pub trait Sink {
    fn row(&mut self, cells: &[String]) -> Result<(), DomainError>;
}

/// CSV in UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly.
pub struct CsvSink {
    w: csv::Writer<Vec<u8>>,
}

impl Default for CsvSink {
    fn default() -> Self {
        CsvSink {
            w: csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]),
        }
    }
}

impl CsvSink {
    /// A sink whose rows may differ in length (rows as a file had them).
    pub fn ragged() -> CsvSink {
        CsvSink {
            w: csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(vec![0xEF, 0xBB, 0xBF]),
        }
    }

    /// The bytes written so far (the writer starts again empty).
    pub fn take(&mut self) -> Result<Vec<u8>, DomainError> {
        let w = std::mem::replace(&mut self.w, csv::Writer::from_writer(Vec::new()));
        w.into_inner().map_err(DomainError::internal)
    }
}

impl Sink for CsvSink {
    fn row(&mut self, cells: &[String]) -> Result<(), DomainError> {
        self.w
            .write_record(cells.iter().map(|c| neutralise(c).into_owned()))
            .map_err(DomainError::internal)
    }
}

/// An XLSX workbook of one sheet, header in bold and frozen, every cell text. Large exports
/// use the writer's constant-memory mode (rows go to a temporary file, not memory).
pub struct XlsxSink {
    book: rust_xlsxwriter::Workbook,
    next_row: u32,
    bold: rust_xlsxwriter::Format,
}

impl XlsxSink {
    pub fn new(sheet_name: &str, large: bool) -> Result<XlsxSink, DomainError> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = if large {
            book.add_worksheet_with_constant_memory()
                .map_err(DomainError::internal)?
        } else {
            book.add_worksheet()
        };
        sheet.set_name(sheet_name).map_err(DomainError::internal)?;
        sheet
            .set_freeze_panes(1, 0)
            .map_err(DomainError::internal)?;
        Ok(XlsxSink {
            book,
            next_row: 0,
            bold: rust_xlsxwriter::Format::new().set_bold(),
        })
    }

    pub fn finish(mut self) -> Result<Vec<u8>, DomainError> {
        self.book.save_to_buffer().map_err(DomainError::internal)
    }
}

impl Sink for XlsxSink {
    fn row(&mut self, cells: &[String]) -> Result<(), DomainError> {
        if self.next_row >= 1_048_576 {
            return Err(DomainError::field(
                "format",
                "too_many",
                "an Excel sheet holds at most 1,048,576 rows; export as CSV",
            ));
        }
        let r = self.next_row;
        let sheet = self
            .book
            .worksheet_from_index(0)
            .map_err(DomainError::internal)?;
        for (c, v) in cells.iter().enumerate() {
            if r == 0 {
                sheet
                    .write_string_with_format(r, c as u16, v, &self.bold)
                    .map_err(DomainError::internal)?;
            } else if !v.is_empty() {
                sheet
                    .write_string(r, c as u16, v)
                    .map_err(DomainError::internal)?;
            }
        }
        self.next_row += 1;
        Ok(())
    }
}
