//! Joins, unions, lets and functions, dynamic values, time.

mod common;
use common::*;

const L: &str = "datatable(k:string, a:long)['x', 1, 'x', 2, 'y', 3, 'z', 4]";
const R: &str = "datatable(k:string, b:long)['x', 10, 'y', 20, 'y', 21, 'w', 30]";

async fn join(kind: &str) -> common::Rows {
    let kind = if kind.is_empty() { String::new() } else { format!("kind={kind} ") };
    let r = q(&format!("let L = {L}; let R = {R}; L | join {kind}R on k")).await;
    (names(&r), sorted_rows(&r))
}

#[tokio::test]
async fn join_kinds() {
    // innerunique is the default: one left row per key (x has two: only
    // one survives), then inner.
    let (n, rows) = join("").await;
    assert_eq!(n, ["k", "a", "k1", "b"]);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r[0] == "x").count(), 1);
    assert_eq!(rows.iter().filter(|r| r[0] == "y").count(), 2);
    let (_, rows) = join("innerunique").await;
    assert_eq!(rows.len(), 3);
    let (_, rows) = join("inner").await;
    assert_eq!(rows, [["x", "1", "x", "10"], ["x", "2", "x", "10"], ["y", "3", "y", "20"], ["y", "3", "y", "21"]]);
    let (_, rows) = join("leftouter").await;
    assert_eq!(rows.len(), 5);
    assert!(rows.contains(&vec!["z".into(), "4".into(), "<null>".into(), "<null>".into()]));
    let (_, rows) = join("rightouter").await;
    assert_eq!(rows.len(), 5);
    assert!(rows.contains(&vec!["<null>".into(), "<null>".into(), "w".into(), "30".into()]));
    let (_, rows) = join("fullouter").await;
    assert_eq!(rows.len(), 6);
    let (n, rows) = join("leftanti").await;
    assert_eq!((n, rows), (vec!["k".to_string(), "a".into()], vec![vec!["z".to_string(), "4".into()]]));
    let (n, rows) = join("rightanti").await;
    assert_eq!((n, rows), (vec!["k".to_string(), "b".into()], vec![vec!["w".to_string(), "30".into()]]));
    let (_, rows) = join("leftsemi").await;
    assert_eq!(rows, [["x", "1"], ["x", "2"], ["y", "3"]]);
    let (_, rows) = join("rightsemi").await;
    assert_eq!(rows, [["x", "10"], ["y", "20"], ["y", "21"]]);
}

#[tokio::test]
async fn join_on_left_right_columns_and_lookup() {
    let r = q(&format!(
        "let R = {R} | project-rename key = k; {L} | join kind=inner R on $left.k == $right.key | project a, b"
    ))
    .await;
    assert_eq!(sorted_rows(&r), [["1", "10"], ["2", "10"], ["3", "20"], ["3", "21"]]);
    // lookup does not repeat the right key; default leftouter.
    let r = q(&format!("let R = {R} | summarize b = max(b) by k; {L} | lookup R on k")).await;
    assert_eq!(names(&r), ["k", "a", "b"]);
    assert_eq!(sorted_rows(&r), [["x", "1", "10"], ["x", "2", "10"], ["y", "3", "21"], ["z", "4", "<null>"]]);
}

#[tokio::test]
async fn union_by_name_fills_missing_columns() {
    let r = q("union (datatable(a:long, s:string)[1, 'p']), (datatable(a:long, t:long)[2, 7]) | order by a asc").await;
    assert_eq!(names(&r), ["a", "s", "t"]);
    assert_eq!(rows(&r), [["1", "p", "<null>"], ["2", "", "7"]]);
    let r = q("datatable(a:long)[1] | union (datatable(a:long)[2]) | count").await;
    assert_eq!(rows(&r), [["2"]]);
}

#[tokio::test]
async fn lets_functions_materialize_invoke() {
    let r = q("let n = 2; let T = materialize(datatable(a:long)[1, 2, 3]); T | where a >= n | count").await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("let f = (x:long) { x * 2 }; datatable(a:long)[1, 2] | extend b = f(a) | order by a asc").await;
    assert_eq!(column(&r, "b"), ["2", "4"]);
    let r =
        q("let big = (T:(a:long), lim:long) { T | where a > lim }; datatable(a:long)[1, 5, 9] | invoke big(4) | count")
            .await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("let big = (T:(a:long)) { T | where a > 4 }; big(datatable(a:long)[1, 5, 9]) | count").await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("let ids = datatable(a:long)[1, 3]; datatable(a:long)[1, 2, 3] | where a !in (ids)").await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("let ids = datatable(s:string)['AA']; datatable(s:string)['aa', 'b'] | where s in~ (ids)").await;
    assert_eq!(rows(&r), [["aa"]]);
    let r = q("let l = dynamic(['a', 'b']); datatable(s:string)['a', 'c', 'b'] | where s in (l) | count").await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("let l = pack_array('x.com', 'y.org'); datatable(s:string)['x.com', 'z'] | where s in (l)").await;
    assert_eq!(rows(&r), [["x.com"]]);
}

#[tokio::test]
async fn dynamic_access_and_conversion() {
    let r = q(r#"datatable(d:dynamic)[dynamic({"method": "GET", "n": 5, "arr": [1, "two", {"k": "v"}]})]
        | project m = tostring(d.method), m2 = d["method"], n = toint(d.n) + 1, a0 = d.arr[0], last = tostring(d.arr[-1].k),
                  missing = isempty(d.nope), len = array_length(d.arr), eq = d.method == "GET""#)
        .await;
    assert_eq!(rows(&r), [["GET", "\"GET\"", "6", "1", "v", "true", "3", "true"]]);
    assert_eq!(kql_types(&r), ["string", "dynamic", "long", "dynamic", "string", "bool", "long", "bool"]);
    let r = q(r#"datatable(s:string)['{"ja3": "abc"}', 'not json']
        | extend j = parse_json(s) | extend v = tostring(j.ja3), t = tostring(j) | project v, t"#)
    .await;
    assert_eq!(rows(&r), [["abc", "{\"ja3\":\"abc\"}"], ["", "not json"]]);
    let r = q("datatable(s:string)['a.b.c.d'] | extend p = split(s, '.') | project x = tostring(p[-2]), y = strcat(p[0], '-', p[-1]), n = array_length(p)").await;
    assert_eq!(rows(&r), [["c", "a-d", "4"]]);
    let r = q("datatable(s:string)['GET /x.exe HTTP'] | project m = tostring(split(s, ' /', 0)[0])").await;
    assert_eq!(rows(&r), [["GET"]]);
    let r = q("datatable(h:string, c:long)['a', 1] | project p = pack(h, c), a = pack_array(h, c, 1.5)").await;
    assert_eq!(rows(&r), [["{\"a\":1}", "[\"a\",1,1.5]"]]);
    let r = q("datatable(u:string)['https://x.example:8443/p?q=1'] | project h = tostring(parse_url(u).Host), p = parse_url(u).Port, d = parse_url(u).domain").await;
    assert_eq!(rows(&r), [["x.example", "\"8443\"", "<null>"]]);
}

#[tokio::test]
async fn time_now_ago_bin_between() {
    // NOW = 2024-03-07T12:00:00Z
    let r = q("datatable(t:datetime)[datetime(2024-03-07 11:30), datetime(2024-03-06 11:30), datetime(2024-03-01)] | where t > ago(1d)").await;
    assert_eq!(rows(&r), [["2024-03-07T11:30:00Z"]]);
    let r = q("datatable(t:datetime)[datetime(2024-03-07 11:30), datetime(2024-03-06 11:30), datetime(2024-03-01)] \
               | where t between (datetime(2024-03-01) .. datetime(2024-03-06 11:30)) | count")
    .await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("datatable(t:datetime)[datetime(2024-03-07 10:07:31), datetime(2024-03-07 10:09:59), datetime(2024-03-07 10:10:00)] \
               | summarize c = count() by bin(t, 5m) | order by t asc").await;
    assert_eq!(names(&r), ["t", "c"]);
    assert_eq!(rows(&r), [["2024-03-07T10:05:00Z", "2"], ["2024-03-07T10:10:00Z", "1"]]);
    let r = q("datatable(t:datetime)[datetime(2024-03-07 12:00)] | project w = bin(t, 7d), d = startofday(t), s = startofweek(t), n = now(), a = ago(1h) + 30m").await;
    assert_eq!(
        rows(&r),
        [[
            "2024-03-04T00:00:00Z",
            "2024-03-07T00:00:00Z",
            "2024-03-03T00:00:00Z",
            "2024-03-07T12:00:00Z",
            "2024-03-07T11:30:00Z"
        ]]
    );
    let r = q("datatable(a:datetime, b:datetime)[datetime(2024-01-01), datetime(2024-01-02 06:00)] | project d = tostring(b - a), ok = b < a + 1d").await;
    assert_eq!(rows(&r), [["1.06:00:00", "false"]]);
}

#[tokio::test]
async fn top_nested_and_distinct_and_count() {
    let r = q("datatable(d:string, dev:string)['a', '1', 'a', '2', 'b', '1', 'c', '1', 'c', '2', 'c', '3'] \
               | top-nested 2 of d by dcount(dev) asc")
    .await;
    assert_eq!(names(&r), ["d", "aggregated_d"]);
    assert_eq!(rows(&r), [["b", "1"], ["a", "2"]]);
    let r = q("datatable(a:long, b:long)[1, 1, 1, 1, 2, 1] | distinct a, b | count").await;
    assert_eq!(rows(&r), [["2"]]);
    let r = q("datatable(a:long)[1, 2, 3] | take 2 | count").await;
    assert_eq!(rows(&r), [["2"]]);
}

#[tokio::test]
async fn project_family_and_render() {
    let r = q("datatable(a:long, b:long, c:long)[1, 2, 3] | project-away b | project-rename z = a | project-reorder c")
        .await;
    assert_eq!(names(&r), ["c", "z"]);
    let r = q("datatable(aa:long, ab:long, c:long)[1, 2, 3] | project-away a*").await;
    assert_eq!(names(&r), ["c"]);
    let r = q("datatable(a:long)[1] | render timechart with (title='x')").await;
    let h = r.render.unwrap();
    assert_eq!((h.kind.as_str(), h.props), ("timechart", vec![("title".to_string(), "x".to_string())]));
}

#[tokio::test]
async fn functions_on_strings() {
    let r = q(r#"datatable(s:string)[@'c:\users\bob\x.exe']
        | project a = substring(s, 3, 5), b = indexof(s, '\\', 3), c = strlen(s), d = extract(@'\\(\w+)\.exe', 1, s),
                  e = countof('aaaa', 'aa'), f = countof('a1b22', @'\d', 'regex'), g = iff(s has 'bob', 'y', 'n'),
                  h = case(strlen(s) > 100, 'long', strlen(s) > 5, 'mid', 'short'), i = tolower('ABC'), j = coalesce('', 'z'),
                  k = ipv4_is_private('10.1.2.3'), l = ipv4_is_private('8.8.8.8'), m = string_size('é')"#)
        .await;
    assert_eq!(rows(&r), [["users", "8", "18", "x", "3", "3", "y", "mid", "abc", "z", "true", "false", "2"]]);
}

#[tokio::test]
async fn errors_name_the_problem_and_place() {
    let e = q_err("DeviceFileEvents | take 1").await;
    assert_eq!(e.message, "table `DeviceFileEvents` is not collected by netward");
    assert_eq!((e.line, e.col), (1, 1));
    let e = q_err("datatable(a:long)[1]\n| invoke FileProfile()").await;
    assert!(e.message.contains("FileProfile"), "{e}");
    assert_eq!((e.line, e.col), (2, 10));
    let e = q_err("datatable(a:long)[1] | where nope == 1").await;
    assert_eq!(e.to_string(), "unknown column or variable `nope` (1:30)");
    let e = q_err("datatable(a:long)[1] | where a has").await;
    assert_eq!(e.kind, netward_hunt::ErrorKind::Syntax);
    let e = q_err("datatable(a:long)[1] | summarize tdigest(a)").await;
    assert!(e.message.contains("tdigest"), "{e}");
    assert_eq!((e.line, e.col), (1, 34));
}

#[tokio::test]
async fn top_nested_with_levels() {
    // Kusto's doc shape: top 2 states by total, then the top source per state.
    let src = "datatable(state:string, src:string, dmg:long)[
        'TX', 'a', 10, 'TX', 'b', 5, 'TX', 'b', 7,
        'CA', 'a', 30, 'CA', 'c', 1,
        'NY', 'a', 1]
      | top-nested 2 of state by sum(dmg), top-nested 1 of src by sum(dmg)";
    let r = q(src).await;
    assert_eq!(names(&r), ["state", "aggregated_state", "src", "aggregated_src"]);
    assert_eq!(sorted_rows(&r), [["CA", "31", "a", "30"], ["TX", "22", "b", "12"]]);
    // Ascending and without a count at the second level.
    let r = q(&src.replace("top-nested 1 of src by sum(dmg)", "top-nested of src by n = count() asc")).await;
    assert_eq!(names(&r), ["state", "aggregated_state", "src", "n"]);
    assert_eq!(
        sorted_rows(&r),
        [["CA", "31", "a", "1"], ["CA", "31", "c", "1"], ["TX", "22", "a", "1"], ["TX", "22", "b", "2"]]
    );
}

#[tokio::test]
async fn percentiles_keep_the_type_and_plugins_refuse_with_a_place() {
    // Two percentiles of one datetime column are two columns of datetimes.
    let r =
        q("datatable(t:datetime)[datetime(2020-01-01), datetime(2020-01-02)] | summarize percentiles(t, 0, 100)").await;
    assert_eq!(names(&r), ["percentile_t_0", "percentile_t_100"]);
    assert_eq!(kql_types(&r), ["datetime", "datetime"]);
    let e = q_err("print d = dynamic([1]) | evaluate bag_unpack(d)").await;
    assert!(e.message.contains("nothing to unpack"), "{e}");
    assert_eq!((e.line, e.col), (1, 35));
    let e = q_err("print s = parse_command_line('a b', 'linux')").await;
    assert!(e.message.contains("windows"), "{e}");
    assert_eq!((e.line, e.col), (1, 37));
    let e = q_err("range x from 1 to 3 step 1 | make-series count() on x from 1 to 1000000000 step 1").await;
    assert!(e.message.contains("at most 100000"), "{e}");
}

#[tokio::test]
async fn too_many_probes_are_refused_at_the_one_too_many() {
    // Each `toscalar` is computed before the rest: 17 of them are one too many.
    let lets: String = (0..17).map(|i| format!("let v{i} = toscalar(print {i});\n")).collect();
    let sum: Vec<String> = (0..17).map(|i| format!("v{i}")).collect();
    let src = format!("{lets}print s = {}", sum.join(" + "));
    let e = q_err(&src).await;
    assert!(e.message.contains("more than 16 parts"), "{e}");
    assert!(e.line > 0, "{e}");
    let ok = format!("{}print s = {}", &lets[..lets.find("let v16").unwrap()], sum[..16].join(" + "));
    assert_eq!(rows(&q(&ok).await), [["120"]]);
}
