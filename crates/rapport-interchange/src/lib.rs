//! File formats in and out, with no database and no business rule: reading an uploaded file
//! into rows of text ([`import_file`]: CSV in UTF-8, UTF-16 or GB18030, XLSX, vCard), vCards
//! ([`vcard`]), calendars ([`icalendar`]) and tables written as CSV or XLSX ([`table`]). The
//! services decide what the rows and documents mean.

pub mod icalendar;
pub mod import_file;
pub mod table;
pub mod vcard;
