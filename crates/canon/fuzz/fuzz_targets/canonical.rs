//! Any bytes: no panic, and every canonical form is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netward_canon::{canonical_destination, canonical_host, canonical_url, canonical_url_bytes};

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = canonical_url_bytes(data) {
        assert_eq!(canonical_url(&u.to_string()).ok(), Some(u));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(h) = canonical_host(s) {
            assert_eq!(canonical_host(&h.to_string()).ok(), Some(h));
        }
        if let Ok(d) = canonical_destination(s) {
            assert_eq!(canonical_destination(&d.to_string()).ok(), Some(d));
        }
    }
});
