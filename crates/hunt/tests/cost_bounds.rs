//! Hostile queries cost at most a bound set by their size: long chains are
//! refused by the parser at the term past the depth limit (no stack
//! overflow, no walk of the rest), a `let` body is planned once however
//! often it is used, an exponentially expanding `let` chain is refused once
//! the expanded plan passes its size limit, and the time limit covers
//! planning. Every bound is asserted on work the parser or the planner
//! counted, never on wall-clock time.

mod common;
use common::*;
use datafusion::prelude::SessionContext;
use netward_hunt::parse::{parse_query_stats, MAX_BINDINGS, MAX_EXPR_DEPTH};
use netward_hunt::{ErrorKind, Hunt, HuntOptions, MAX_PLAN_DEPTH, MAX_PLAN_NODES};
use std::time::Duration;

const T: &str = "datatable(k:long)[1,2,3]";

fn hunt_with(timeout: Option<Duration>) -> Hunt {
    Hunt::new(SessionContext::new(), HuntOptions { now: Some(NOW), timeout, memory_limit: None })
}

/// 1-based column of byte `off` in a one-line ASCII query.
fn col(q: &str, needle: &str) -> usize {
    q.find(needle).unwrap_or_else(|| panic!("{needle} not in query")) + 1
}

/// `k == 0 OP k == 1 OP ...` with `n` terms.
fn chain(n: usize, op: &str) -> String {
    let terms: Vec<String> = (0..n).map(|i| format!("k == {i}")).collect();
    format!("{T} | where {}", terms.join(&format!(" {op} ")))
}

#[tokio::test]
async fn a_chain_of_100000_and_or_terms_is_refused_at_the_term_past_the_limit() {
    for op in ["and", "or"] {
        let q = chain(100_000, op);
        let (r, stats) = parse_query_stats(&q);
        let e = r.unwrap_err().locate(&q);
        // `k == i` is 2 deep; each term adds one: term number 256 (`k == 255`)
        // makes the tree 257 deep.
        assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
        assert!(e.message.contains("too deep") && e.message.contains(&MAX_EXPR_DEPTH.to_string()), "{e}");
        assert_eq!((e.line, e.col), (1, col(&q, &format!("k == {} {op}", MAX_EXPR_DEPTH - 1))), "{e}");
        // The parser stopped there: it read only the first few hundred terms
        // (4 tokens a term), not 100,000, and never recursed deeper than
        // its nesting limit.
        assert!(stats.tokens <= 4 * (MAX_EXPR_DEPTH as usize + 8), "{stats:?}");
        assert!(stats.max_expr_depth <= MAX_EXPR_DEPTH + 1, "{stats:?}");
        // And the engine says the same, without overflowing the test's
        // 2 MiB stack.
        let e2 = hunt_with(None).run(&q).await.unwrap_err();
        assert_eq!((e2.kind, e2.line, e2.col), (ErrorKind::Syntax, e.line, e.col));
    }
}

#[tokio::test]
async fn a_pipeline_of_100000_operators_is_refused_at_the_operator_past_the_limit() {
    let mut q = String::from(T);
    for i in 0..100_000 {
        q.push_str(&format!(" | where k != {i}"));
    }
    let (r, stats) = parse_query_stats(&q);
    let e = r.unwrap_err().locate(&q);
    assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    assert!(e.message.contains("too deep"), "{e}");
    // The datatable is 2 deep (its values), each operator adds one, the pipe
    // node one: operator number 254 (`where k != 253`) makes it 257.
    let at = col(&q, &format!("where k != {} ", MAX_EXPR_DEPTH - 3));
    assert_eq!((e.line, e.col), (1, at), "{e}");
    assert!(stats.tokens <= 6 * (MAX_EXPR_DEPTH as usize + 8), "{stats:?}");
}

#[tokio::test]
async fn a_chain_of_100000_plus_or_member_steps_is_refused() {
    let terms: Vec<&str> = vec!["k"; 100_000];
    let q = format!("{T} | extend x = {}", terms.join(" + "));
    let (r, stats) = parse_query_stats(&q);
    let e = r.unwrap_err();
    assert!(e.message.contains("too deep"), "{}", e.message);
    assert!(stats.tokens <= 3 * (MAX_EXPR_DEPTH as usize + 8), "{stats:?}");
    let q = format!("{T} | extend x = parse_json('{{}}'){}", ".a".repeat(100_000));
    let (r, stats) = parse_query_stats(&q);
    assert!(r.unwrap_err().message.contains("too deep"));
    assert!(stats.tokens <= 3 * (MAX_EXPR_DEPTH as usize + 8), "{stats:?}");
    // A run of unary `+` is a loop, not a recursion.
    let q = format!("{T} | extend x = {}k", "+".repeat(100_000));
    let (r, stats) = parse_query_stats(&q);
    assert!(r.is_ok(), "{:?}", r.err());
    assert!(stats.max_nesting <= 4, "{stats:?}");
}

#[tokio::test]
async fn chains_just_under_the_limit_plan_and_run() {
    // 250 terms / operators: deep, but within every limit, on a 2 MiB test
    // stack (the planner grows its stack; DataFusion plans on its own thread).
    let r = run(&SessionContext::new(), &chain(250, "or")).await;
    assert_eq!(r.num_rows(), 3);
    let r = run(&SessionContext::new(), &chain(250, "and")).await;
    assert_eq!(r.num_rows(), 0);
    let mut q = String::from(T);
    for i in 0..250 {
        q.push_str(&format!(" | where k != {}", i + 10));
    }
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    res.unwrap();
    assert!(cost.plan.plan_depth <= MAX_PLAN_DEPTH, "{:?}", cost.plan);
    let r = run(&SessionContext::new(), &q).await;
    assert_eq!(r.num_rows(), 3);
}

#[tokio::test]
async fn a_let_used_many_times_is_planned_once() {
    let q = format!("let a = {T} | where k > 1; union a, a, a, a, a, a, a, a | count");
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    res.unwrap();
    assert_eq!(cost.plan.let_bodies_planned.get("a"), Some(&1), "{:?}", cost.plan);
    // The body (datatable, pipe, where, its comparison: 5 nodes) was walked
    // once; the plan's size counts it at each of the 8 uses.
    assert!(cost.plan.planned <= 5 + 8 + 4, "{:?}", cost.plan);
    assert!(cost.plan.nodes >= 8 * 5, "{:?}", cost.plan);
    let r = run(&SessionContext::new(), &q).await;
    assert_eq!(rows(&r), [["16"]]);

    // A scalar let, used over one row schema five times.
    let q = format!("let x = 1 + 1; {T} | where k == x or k * 2 == x or k == x + 1 or k > x * 9 or k == x - 5");
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    res.unwrap();
    assert_eq!(cost.plan.let_bodies_planned.get("x"), Some(&1), "{:?}", cost.plan);
    let r = run(&SessionContext::new(), &format!("{q} | sort by k asc")).await;
    assert_eq!(rows(&r), [["1"], ["2"], ["3"]]);
}

#[tokio::test]
async fn a_doubling_let_chain_is_refused_with_the_work_bounded() {
    // a_i = union a_{i-1}, a_{i-1}: a_40 expands to 2^40 copies of a_0.
    // Before, each use planned the body again: 2^40 plannings.
    let mut q = format!("let a0 = {T};");
    for i in 1..=40 {
        q.push_str(&format!(" let a{i} = union a{}, a{};", i - 1, i - 1));
    }
    q.push_str(" a40 | count");
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    let e = res.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(e.message.contains("too large to plan") && e.message.contains(&MAX_PLAN_NODES.to_string()), "{e}");
    assert!(e.line == 1 && e.col > 1, "placed at the reference that crossed the limit: {e}");
    // Each let body was planned at most once; the planner walked a few
    // nodes per let, not an exponential number.
    assert!(cost.plan.let_bodies_planned.values().all(|&n| n == 1), "{:?}", cost.plan.let_bodies_planned);
    assert!(cost.plan.planned <= 4 * 41, "{:?}", cost.plan);
    assert!(cost.plan.nodes > MAX_PLAN_NODES && cost.plan.nodes <= 2 * MAX_PLAN_NODES + 8, "{:?}", cost.plan);

    // The same with scalars: s_i = s_{i-1} + s_{i-1}.
    let mut q = String::from("let s0 = 1;");
    for i in 1..=40 {
        q.push_str(&format!(" let s{i} = s{} + s{};", i - 1, i - 1));
    }
    q.push_str(&format!(" {T} | extend x = s40 + k"));
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    let e = res.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(cost.plan.let_bodies_planned.values().all(|&n| n == 1), "{:?}", cost.plan.let_bodies_planned);
    assert!(cost.plan.planned <= 4 * 41 + 8, "{:?}", cost.plan);
}

#[tokio::test]
async fn doubling_through_functions_is_refused_with_the_work_bounded() {
    // f_i(x) = f_{i-1}(x) + f_{i-1}(x): no cache can help (each call has its
    // own arguments); the size limit stops it.
    let mut q = String::from("let f0 = (x:long) { x };");
    for i in 1..=30 {
        q.push_str(&format!(" let f{i} = (x:long) {{ f{}(x) + f{}(x) }};", i - 1, i - 1));
    }
    q.push_str(&format!(" {T} | extend y = f30(k)"));
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    let e = res.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(cost.plan.planned <= MAX_PLAN_NODES + 1, "{:?}", cost.plan);
}

#[tokio::test]
async fn a_long_chain_of_lets_plans_linearly_and_a_too_deep_plan_is_refused() {
    // 300 lets, each two operators on the one before: planned once each
    // (linear), and the 600-operator plan is deeper than DataFusion gets.
    let mut q = format!("let a0 = {T};");
    for i in 1..=300 {
        q.push_str(&format!(" let a{i} = a{} | where k > 0 | where k < 9;", i - 1));
    }
    q.push_str(" a300 | count");
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    let e = res.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(e.message.contains("too deep"), "{e}");
    assert!(cost.plan.plan_depth > MAX_PLAN_DEPTH, "{:?}", cost.plan.plan_depth);
    assert!(cost.plan.let_bodies_planned.values().all(|&n| n == 1));
    assert!(cost.plan.planned <= 10 * 301, "{:?}", cost.plan.planned);

    // Too many bindings: refused at the `let` past the limit.
    let mut q = String::new();
    for i in 0..=MAX_BINDINGS {
        q.push_str(&format!("let v{i} = {i}; "));
    }
    q.push_str(T);
    let e = parse_query_stats(&q).0.unwrap_err().locate(&q);
    assert_eq!((e.kind, e.col), (ErrorKind::Syntax, col(&q, &format!("let v{MAX_BINDINGS} ="))), "{e}");
}

#[tokio::test]
async fn the_time_limit_covers_planning() {
    let mut q = format!("let a0 = {T};");
    for i in 1..=12 {
        q.push_str(&format!(" let a{i} = union a{}, a{};", i - 1, i - 1));
    }
    q.push_str(" a12 | count");
    // A limit already past when planning starts: the planner stops before
    // planning a single node (before, `plan` ignored the limit and `run`
    // only checked it around execution).
    let h = hunt_with(Some(Duration::ZERO));
    let (res, cost) = h.plan_with_stats(&q).await;
    let e = res.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("while being planned"), "{e}");
    assert_eq!(cost.plan.planned, 0, "{:?}", cost.plan);
    let e = h.run(&q).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("time limit of 0ns while being planned"), "{e}");
    // Without the limit the same query plans (4096 copies, in bounds).
    let (res, cost) = hunt_with(None).plan_with_stats(&q).await;
    res.unwrap();
    assert!(cost.plan.planned <= 4 * 13 + 4, "{:?}", cost.plan);
}
