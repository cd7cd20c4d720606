//! Standard formats in and out: the iCalendar feed (RFC 5545) and vCards (RFC 6350).

pub mod calendar;
pub mod vcard;
