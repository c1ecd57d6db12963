//! Compile-pass and compile-fail cases of the wskit macros (see tests/).
