//! KQL semantics, checked against the documented behaviour of Kusto with
//! `datatable` inputs.

mod common;
use common::*;

#[tokio::test]
async fn where_project_extend() {
    let r = q("datatable(a:long, b:string)[1, 'x', 2, 'y', 3, 'z'] | where a >= 2 | extend c = a * 10 | project b, c")
        .await;
    assert_eq!(names(&r), ["b", "c"]);
    assert_eq!(sorted_rows(&r), [["y", "20"], ["z", "30"]]);
}

#[tokio::test]
async fn equality_is_case_sensitive_tilde_is_not() {
    let r = q("datatable(s:string)['aBc', 'abc', 'ABC', 'x'] | where s == 'abc'").await;
    assert_eq!(rows(&r), [["abc"]]);
    let r = q("datatable(s:string)['aBc', 'abc', 'ABC', 'x'] | where s =~ 'abc' | count").await;
    assert_eq!(rows(&r), [["3"]]);
    let r = q("datatable(s:string)['aBc', 'abc', 'ABC', 'x'] | where s !~ 'abc'").await;
    assert_eq!(rows(&r), [["x"]]);
    let r = q("datatable(s:string)['aBc', 'abc', 'ABC', 'x'] | where s != 'abc' | count").await;
    assert_eq!(rows(&r), [["3"]]);
}

#[tokio::test]
async fn string_operators_follow_kusto_examples() {
    // The "example (yields true)" column of Kusto's string operator table.
    let cases = [
        ("\"FabriKam\" contains \"BRik\"", true),
        ("\"Fabrikam\" !contains \"xyz\"", true),
        ("\"FabriKam\" contains_cs \"Kam\"", true),
        ("\"Fabrikam\" !contains_cs \"Kam\"", true),
        ("\"Fabrikam\" endswith \"Kam\"", true),
        ("\"Fabrikam\" !endswith \"brik\"", true),
        ("\"Fabrikam\" endswith_cs \"kam\"", true),
        ("\"Fabrikam\" !endswith_cs \"brik\"", true),
        ("\"North America\" has \"america\"", true),
        ("\"North America\" !has \"amer\"", true),
        ("\"North America\" has_cs \"America\"", true),
        ("\"North America\" !has_cs \"amer\"", true),
        ("\"North America\" hasprefix \"ame\"", true),
        ("\"North America\" hassuffix \"rica\"", true),
        ("\"Fabrikam\" startswith \"fab\"", true),
        ("\"Fabrikam\" !startswith \"kam\"", true),
        ("\"Fabrikam\" startswith_cs \"Fab\"", true),
        ("\"Fabrikam\" !startswith_cs \"fab\"", true),
        ("\"Fabrikam\" matches regex \"b.*k\"", true),
        ("\"abc\" in (\"123\", \"345\", \"abc\")", true),
        ("\"bca\" !in (\"123\", \"345\", \"abc\")", true),
        ("\"Abc\" in~ (\"123\", \"345\", \"abc\")", true),
        ("\"bCa\" !in~ (\"123\", \"345\", \"ABC\")", true),
        ("\"North America\" has_any(\"south\", \"north\")", true),
        ("\"North America\" has_all(\"south\", \"north\")", false),
        ("\"KustoExplorerQueryRun\" has \"Explorer\"", false),
        ("\"KustoExplorerQueryRun\" contains \"Explorer\"", true),
        ("\"www.microsoft.com\" has \"microsoft.com\"", true),
        ("\"microsoftonline.com\" has \"microsoft\"", false),
    ];
    for (expr, want) in cases {
        let r = q(&format!("datatable(x:long)[1] | extend v = {expr} | project v")).await;
        assert_eq!(rows(&r), [[want.to_string()]], "{expr}");
    }
}

#[tokio::test]
async fn sort_is_descending_by_default_with_kusto_null_order() {
    let r = q("datatable(a:long)[2, 3, 1] | sort by a").await;
    assert_eq!(column(&r, "a"), ["3", "2", "1"]);
    let r = q("datatable(a:long)[2, 3, 1] | order by a asc").await;
    assert_eq!(column(&r, "a"), ["1", "2", "3"]);
    // Nulls: last when descending, first when ascending.
    let r = q("datatable(a:long)[2, long(null), 1] | sort by a").await;
    assert_eq!(column(&r, "a"), ["2", "1", "<null>"]);
    let r = q("datatable(a:long)[2, long(null), 1] | sort by a asc").await;
    assert_eq!(column(&r, "a"), ["<null>", "1", "2"]);
    let r = q("datatable(a:long)[2, 3, 1, 5] | top 2 by a").await;
    assert_eq!(column(&r, "a"), ["5", "3"]);
}

#[tokio::test]
async fn summarize_automatic_names() {
    let r = q("datatable(k:string, v:long)['a', 1, 'a', 2, 'b', 3, 'a', 2] \
               | summarize count(), dcount(v), sum(v), avg(v), min(v), max(v), make_set(v), make_list(v), countif(v > 1) by k \
               | order by k asc")
        .await;
    assert_eq!(
        names(&r),
        ["k", "count_", "dcount_v", "sum_v", "avg_v", "min_v", "max_v", "set_v", "list_v", "countif_"]
    );
    assert_eq!(rows(&r)[0], ["a", "3", "2", "5", "1.6666666666666667", "1", "2", "[1,2]", "[1,2,2]", "2"]);
    assert_eq!(rows(&r)[1], ["b", "1", "1", "3", "3.0", "3", "3", "[3]", "[3]", "1"]);
    assert_eq!(kql_types(&r)[7], "dynamic");
}

#[tokio::test]
async fn arg_max_forms() {
    let src = "datatable(k:string, t:long, x:string, y:long)['a', 1, 'p', 10, 'a', 5, 'q', 20, 'b', 2, 'r', 30]";
    let r = q(&format!("{src} | summarize arg_max(t, x) by k | order by k asc")).await;
    assert_eq!(names(&r), ["k", "t", "x"]);
    assert_eq!(rows(&r), [["a", "5", "q"], ["b", "2", "r"]]);
    let r = q(&format!("{src} | summarize arg_max(t, *) by k | order by k asc")).await;
    assert_eq!(names(&r), ["k", "t", "x", "y"]);
    assert_eq!(rows(&r)[0], ["a", "5", "q", "20"]);
    let r = q(&format!("{src} | summarize arg_min(t, *) by k | order by k asc")).await;
    assert_eq!(rows(&r)[0], ["a", "1", "p", "10"]);
    let r = q(&format!("{src} | summarize (Last, X) = arg_max(t, x) by k | order by k asc")).await;
    assert_eq!(names(&r), ["k", "Last", "X"]);
    // A single name renames the maximised column; clashes get a suffix.
    let r = q(&format!("{src} | summarize x = arg_max(t, x) by k | order by k asc")).await;
    assert_eq!(names(&r), ["k", "x", "x1"]);
    assert_eq!(rows(&r)[0], ["a", "5", "q"]);
}

#[tokio::test]
async fn unnamed_expressions_get_column_names() {
    let r = q("datatable(a:string)['x'] | project a, strlen(a), toupper(a)").await;
    assert_eq!(names(&r), ["a", "Column1", "Column2"]);
    let r = q("datatable(d:dynamic)[dynamic({'m': 'GET'})] | project d.m").await;
    assert_eq!(names(&r), ["d_m"]);
    assert_eq!(rows(&r), [["\"GET\""]]);
}
