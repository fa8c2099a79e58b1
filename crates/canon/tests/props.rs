//! Property tests: canonical forms are fixed points, nothing panics, and the
//! linear unescaper agrees with the naive "decode until nothing changes".

use netward_canon::escape::{unescape_fully, unescape_once};
use netward_canon::{canonical_destination, canonical_host, canonical_url, canonical_url_bytes, Destination};
use proptest::prelude::*;

/// Strings rich in the characters canonicalisation cares about.
fn urlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("%".to_string()),
        Just("%25".to_string()),
        Just("%2e".to_string()),
        Just("%2F".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("/".to_string()),
        Just("//".to_string()),
        Just(":".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just("@".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("http://".to_string()),
        Just("0x".to_string()),
        Just("ü".to_string()),
        Just("Ü".to_string()),
        Just("。".to_string()),
        Just("％".to_string()),
        Just("xn--".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        "[a-zA-Z0-9]{1,6}",
        "[0-9a-fA-F]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

fn naive_unescape(mut s: Vec<u8>) -> Vec<u8> {
    loop {
        let t = unescape_once(&s);
        if t == s {
            return s;
        }
        s = t;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn url_is_idempotent(s in urlish()) {
        if let Ok(u) = canonical_url(&s) {
            let again = canonical_url(&u.to_string());
            prop_assert_eq!(again.as_ref().ok(), Some(&u), "{} -> {}", s, u);
        }
    }

    #[test]
    fn host_is_idempotent(s in urlish()) {
        if let Ok(h) = canonical_host(&s) {
            let again = canonical_host(&h.to_string());
            prop_assert_eq!(again.as_ref().ok(), Some(&h), "{} -> {}", s, h);
        }
    }

    #[test]
    fn destination_is_idempotent(s in urlish()) {
        if let Ok(d) = canonical_destination(&s) {
            let again = canonical_destination(&d.to_string());
            prop_assert_eq!(again.as_ref().ok(), Some(&d), "{} -> {}", s, d);
        }
    }

    /// A plain host gives the same host whether it stands alone or in a URL.
    /// (Escaped delimiters such as `%2F` are excluded: a URL is decoded as a
    /// whole before it is split, so they legitimately differ.)
    #[test]
    fn host_agrees_with_url_host(
        s in prop::collection::vec(prop_oneof!["[a-zA-Z0-9.üÜ。-]{1,4}", "%[46][1-9A-F]"], 1..6).prop_map(|v| v.concat())
    ) {
        let alone = canonical_host(&s).map(|h| h.host);
        let in_url = canonical_url(&format!("http://{s}/")).map(|u| u.host);
        prop_assert_eq!(alone.ok(), in_url.ok());
    }

    #[test]
    fn never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = canonical_url_bytes(&b);
        if let Ok(s) = std::str::from_utf8(&b) {
            let _ = canonical_host(s);
            let _ = canonical_destination(s);
        }
    }

    #[test]
    fn linear_unescape_matches_naive(s in "[%0-9a-fA-FxX]{0,24}") {
        prop_assert_eq!(unescape_fully(s.as_bytes()), naive_unescape(s.as_bytes().to_vec()));
    }

    /// Domain-kind URL destinations canonicalise their host like a bare host.
    #[test]
    fn destination_host_kind_consistent(s in urlish()) {
        if let Ok(Destination::Url(u)) = canonical_destination(&s) {
            let h = canonical_host(&u.host.to_string()).map(|h| h.host);
            prop_assert_eq!(h.ok(), Some(u.host.clone()), "{}", s);
        }
    }
}
