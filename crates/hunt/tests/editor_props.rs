//! Property tests of the editor's classification (`netward_hunt::editor`):
//! any text gives spans in order, inside the text, on character
//! boundaries, never overlapping, and a first error placed inside the text
//! — never a panic (the portal calls it on every keystroke's text).

use netward_hunt::editor::highlight;
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "DeviceNetworkEvents",
    "DeviceInfo",
    "RemoteUrl",
    "x",
    "|",
    " | ",
    "where",
    "summarize",
    "count()",
    "by",
    "(",
    ")",
    "[",
    "]",
    "'s'",
    "\"t\"",
    "@'v'",
    "h'",
    "'unterminated",
    "\"a\\q\"",
    "```",
    "//c\n",
    "// c",
    "\n",
    "é",
    "𝄞",
    "\u{a0}",
    "#",
    "datetime(2024-01-01T10:00:00Z)",
    "datetime(",
    "time(10:30)",
    "timespan(",
    "1d",
    "1.5zz",
    "0x",
    "99999999999999999999",
    "!has",
    "!",
    "$left.a",
    "project-away",
    "let",
    "=",
    ";",
];

fn check(src: &str) {
    let h = highlight(src);
    let mut at = 0;
    for t in &h.tokens {
        assert!(t.span.start >= at && t.span.start <= t.span.end && t.span.end <= src.len(), "{src:?}: {t:?}");
        assert!(src.is_char_boundary(t.span.start) && src.is_char_boundary(t.span.end), "{src:?}: {t:?}");
        at = t.span.end;
    }
    if let Some(e) = h.error {
        assert!(e.span.start <= e.span.end && e.span.end <= src.len(), "{src:?}: {e:?}");
        assert!(e.error.line >= 1 && e.error.col >= 1, "{src:?}: {e:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn piece_soup_is_classified_in_bounds(p in proptest::collection::vec(proptest::sample::select(PIECES), 0..40)) {
        check(&p.join(" "));
        check(&p.concat());
    }

    #[test]
    fn arbitrary_text_is_classified_in_bounds(src in "\\PC{0,200}") {
        check(&src);
    }
}
