//! Compile-pass and compile-fail cases of the wskit macros, one mistake per fail case.
//!
//! Regenerate the expected errors with `TRYBUILD=overwrite cargo test -p wskit-ui-tests`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
