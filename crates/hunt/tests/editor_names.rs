//! The editor's name lists (`netward_hunt::editor`) against the engine:
//! every operator offered parses as an operator, every function offered is
//! one the planner implements (not refused as unknown or unsupported).

use datafusion::prelude::SessionContext;
use netward_hunt::editor::{FUNCTIONS, OPERATORS};
use netward_hunt::parse::parse_query;
use netward_hunt::{Hunt, HuntOptions};

#[test]
fn every_operator_offered_parses_as_one() {
    for op in OPERATORS {
        if let Err(e) = parse_query(&format!("DeviceInfo | {op}")) {
            assert!(!e.message.contains("unknown operator") && !e.message.contains("not supported"), "{op}: {e:?}");
        }
    }
    // And the check can tell: a made-up operator is refused by name.
    let e = parse_query("DeviceInfo | frobnicate").unwrap_err();
    assert!(e.message.contains("unknown operator"), "{e:?}");
}

#[tokio::test]
async fn every_function_offered_is_planned() {
    let h = Hunt::new(SessionContext::new(), HuntOptions::default());
    // Called with no arguments the planner names a wrong arity, a missing
    // argument or the `summarize` rule for a function it has, and
    // "is not supported" for one it has not.
    let refused = |f: &str, e: &Option<String>| {
        e.as_deref().is_some_and(|m| {
            m.contains(&format!("function `{f}` is not supported")) || m.contains(&format!("`{f}` is not supported"))
        })
    };
    for f in FUNCTIONS.iter().chain(["frobnicate"].iter()) {
        let scalar = h.plan(&format!("print x = {f}()")).await.err().map(|e| e.message);
        let agg = h.plan(&format!("range i from 1 to 2 step 1 | summarize x = {f}()")).await.err().map(|e| e.message);
        let known = !refused(f, &scalar) || !refused(f, &agg);
        assert_eq!(known, *f != "frobnicate", "{f}: {scalar:?} / {agg:?}");
    }
}
