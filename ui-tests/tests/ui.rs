//! Compile-pass and compile-fail cases of the wskit macros, one mistake per fail case.
//!
//! Regenerate the expected errors with `TRYBUILD=overwrite cargo test -p wskit-ui-tests`.
//!
//! Two checks fail only when code is generated, not under `cargo check`: a type handled
//! by two merged routers (`merge_duplicate_type`) and a type string shared inside a generic
//! router (`generic_router_duplicate_type`). trybuild builds the fail cases, rather than
//! checking them, when the same `TestCases` also has pass cases: keep both in one.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
