//! Property tests of the parser: any input gives a query or an error with a
//! position inside the text — never a panic.

use netward_hunt::parse::parse_query;
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "DeviceNetworkEvents",
    "T",
    "x",
    "|",
    "where",
    "project",
    "extend",
    "summarize",
    "by",
    "count()",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "let",
    "=",
    "==",
    "!=",
    "=~",
    "!~",
    "has",
    "!has",
    "contains",
    "in",
    "!in",
    "in~",
    "~",
    "!",
    "and",
    "or",
    "not",
    "1",
    "-2",
    "3.5",
    "1d",
    "5m",
    "'s'",
    "\"t\"",
    "@'v'",
    "datetime(2024-01-01)",
    "dynamic([1,'a'])",
    "datatable(a:long)",
    "join",
    "kind=inner",
    "on",
    "$left.a",
    "$right.b",
    "top-nested",
    "of",
    "top",
    "sort",
    "asc",
    "desc",
    "nulls",
    "first",
    "between",
    "..",
    ".",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    ">=",
    "bin(Timestamp, 1h)",
    "arg_max",
    "invoke",
    "render",
    "union",
    "take",
    "//c\n",
    "\n",
    "é",
    "'unterminated",
    "```",
    "0x1F",
    "1e309",
    "99999999999999999999",
];

fn check(src: &str) {
    if let Err(e) = parse_query(src) {
        assert!(e.span.start <= src.len(), "{e:?}");
        let located = e.locate(src);
        assert!(located.line >= 1 && located.col >= 1);
        assert!(located.line <= src.lines().count().max(1) + 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn token_soup_never_panics(toks in proptest::collection::vec(proptest::sample::select(TOKENS), 0..40)) {
        let src = toks.join(" ");
        check(&src);
        let tight = toks.concat();
        check(&tight);
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        check(&src);
    }

    #[test]
    fn prefixes_of_a_real_query_never_panic(cut in 0usize..400) {
        let q = "let n = 10; let T = (DeviceNetworkEvents | where Timestamp > ago(1d) and RemoteUrl has_any (dynamic(['a','b']))); \
                 T | summarize c = count(), (t, d) = arg_max(Timestamp, DeviceName) by bin(Timestamp, 5m) \
                 | join kind=leftouter (DeviceInfo | distinct DeviceId) on $left.d == $right.DeviceId | top 10 by c desc nulls last";
        let mut end = cut.min(q.len());
        while !q.is_char_boundary(end) { end -= 1; }
        check(&q[..end]);
    }
}
