use super::*;

fn q(src: &str) -> Query {
    parse_query(src).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

#[test]
fn parses_lets_pipes_and_operators() {
    let query =
        q("let n = 10;\nT | where a == 1 and b has 'x' | summarize c = count() by bin(Timestamp, 5m) | top 3 by c");
    assert_eq!(query.lets.len(), 1);
    let ExprKind::Pipe { ops, .. } = &query.body.kind else { panic!() };
    assert_eq!(ops.len(), 3);
    assert!(matches!(ops[2].kind, OpKind::Top { .. }));
}

#[test]
fn negated_and_case_insensitive_operators() {
    let query = q("T | where a !in~ ('x') and b !has 'y' and c !contains_cs 'z' and d in~ (1)");
    let ExprKind::Pipe { ops, .. } = &query.body.kind else { panic!() };
    let OpKind::Where(e) = &ops[0].kind else { panic!() };
    let s = format!("{e:?}");
    assert!(s.contains("neg: true, ci: true"), "{s}");
    assert!(s.contains("Str { op: Has, cs: false, neg: true }"), "{s}");
    assert!(s.contains("Str { op: Contains, cs: true, neg: true }"), "{s}");
    assert!(s.contains("neg: false, ci: true"), "{s}");
}

#[test]
fn literals() {
    let query = q("print_it(datetime(2024-01-02 03:04:05), dynamic(['a', 1, {\"k\": null}]), 'a' \"b\", 1d, -2)");
    let ExprKind::Call { args, .. } = &query.body.kind else { panic!() };
    assert_eq!(args[0].kind, ExprKind::Lit(Lit::DateTime(1_704_164_645_000_000_000)));
    assert_eq!(args[1].kind, ExprKind::Lit(Lit::Dynamic(serde_json::json!(["a", 1, {"k": null}]))));
    assert_eq!(args[2].kind, ExprKind::Lit(Lit::Str("ab".into())));
    assert_eq!(args[3].kind, ExprKind::Lit(Lit::Timespan(86_400_000_000_000)));
    assert_eq!(args[4].kind, ExprKind::Lit(Lit::Long(-2)));
}

#[test]
fn functions_and_tuples() {
    let query = q(
        "let f = (T:(a:string), n:long = 3) { T | take n };\nX | invoke f() | summarize (t, v) = arg_max(ts, v) by k",
    );
    let LetValue::Function(f) = &query.lets[0].value else { panic!() };
    assert_eq!(f.params.len(), 2);
    assert!(f.params[1].default.is_some());
    let ExprKind::Pipe { ops, .. } = &query.body.kind else { panic!() };
    let OpKind::Summarize { aggs, .. } = &ops[1].kind else { panic!() };
    assert_eq!(aggs[0].names.len(), 2);
}

#[test]
fn errors_have_positions() {
    let e = parse_query("T\n| where a ==").unwrap_err().locate("T\n| where a ==");
    assert_eq!((e.line, e.col), (2, 13));
    let src = "T | fork (take 1)";
    let e = parse_query(src).unwrap_err().locate(src);
    assert!(e.message.contains("`fork`") && e.message.contains("several result tables"), "{e}");
    assert_eq!((e.line, e.col), (1, 5));
    let src = "let x = externaldata(a:string) [@'http://x'];\nx";
    let e = parse_query(src).unwrap_err().locate(src);
    assert!(e.message.contains("externaldata"), "{e}");
    assert_eq!((e.line, e.col), (1, 9));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!("T | where {}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_query(&src).is_err());
    let src = format!("T | where {}1", "-".repeat(10_000));
    assert!(parse_query(&src).is_err());
}

/// Every corpus query parses, except the ones that use `externaldata`.
#[test]
fn corpus_parses() {
    for (title, text) in crate::corpus::queries() {
        match parse_query(&text) {
            Ok(_) => assert!(!text.contains("externaldata"), "{title}"),
            Err(e) => assert!(e.message.contains("externaldata"), "{title}: {}", e.locate(&text)),
        }
    }
}
