//! Any bytes uploaded as an import file (CSV in any encoding, XLSX, vCard) give rows or a
//! clear error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in ["upload.csv", "upload.xlsx"] {
        if let Ok(p) = rapport_interchange::import_file::read(name, data, None) {
            assert!(!p.rows.is_empty());
        }
    }
});
