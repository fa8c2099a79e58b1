//! Any text: the KQL parser returns a query or an error placed inside the
//! text, and never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if let Err(e) = netward_hunt::parse::parse_query(src) {
        assert!(e.span.start <= src.len());
        let l = e.locate(src);
        assert!(l.line >= 1 && l.col >= 1);
    }
});
