//! Any text given to the vCard reader, and every card it accepts turned into a contact
//! document, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cards) = rapport_interchange::vcard::parse(text) {
            for c in &cards {
                let _ = rapport_interchange::vcard::card_to_doc(c);
            }
        }
    }
});
