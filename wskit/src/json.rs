//! JSON text written straight into a `String`, and read from the forms clients send, for
//! the payloads `#[message]` writes and reads without serde: structs whose fields are
//! strings, booleans, numbers, or `Option`s of these.
//!
//! Every reply goes through a payload writer. serde_json's is generic: it escapes the
//! constant keys on every frame, walks strings a byte at a time, and writes into a byte
//! buffer that must be checked to be UTF-8 before it can be a text frame. Here the keys are
//! constants made by the macro, strings are walked eight bytes at a time
//! ([`crate::escape`]), and the text is a `String` from the start. The text is byte for byte
//! what serde_json writes (the tests below, `tests/payload_codec.rs` and the fuzz target
//! `payload` compare the two), so a client cannot tell which wrote a frame.
//!
//! Every message is read the same way. serde's derived reader goes through a visitor per
//! struct and per key; here the payload is walked once by the envelope's [`Scanner`], which
//! takes only the forms clients send (strings without escapes, integers of at most 15
//! digits, each key once, every required field present) and gives up on anything else.
//! serde then reads the payload, giving the same message or the error it deserves: the
//! fast path never decides what is an error.

use crate::envelope::Scanner;
use crate::escape::write_json_str;
use serde_json::ser::{CompactFormatter, Formatter};
use std::io;

/// A value written as JSON text, as serde_json writes it. Implemented for the field types
/// of the payloads `#[message]` writes itself.
pub trait WriteJson {
    /// Appends the value's JSON text to `out`.
    fn write_json(&self, out: &mut String);
}

impl WriteJson for String {
    fn write_json(&self, out: &mut String) {
        write_json_str(out, self);
    }
}

impl WriteJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

/// Appends the number `format` writes with serde_json's own formatter: numbers are then
/// written as serde writes them, however serde_json formats them.
fn push_number(out: &mut String, format: impl FnOnce(&mut io::Cursor<&mut [u8]>) -> io::Result<()>) {
    // The longest number serde_json writes: `-9223372036854775808` is 20 bytes, the
    // shortest form of a float at most 24 (`-2.2250738585072014e-308`).
    let mut buffer = [0u8; 32];
    let mut cursor = io::Cursor::new(&mut buffer[..]);
    format(&mut cursor).expect("a number fits its buffer");
    let length = cursor.position() as usize;
    out.push_str(std::str::from_utf8(&buffer[..length]).expect("numbers are ASCII"));
}

/// Integers; `usize` and `isize` as 64-bit numbers, as serde writes them.
macro_rules! integers {
    ($($ty:ty => $write:ident as $as:ty),*) => {$(
        impl WriteJson for $ty {
            fn write_json(&self, out: &mut String) {
                push_number(out, |cursor| CompactFormatter.$write(cursor, *self as $as));
            }
        }
    )*};
}

integers!(
    u8 => write_u8 as u8, u16 => write_u16 as u16, u32 => write_u32 as u32, u64 => write_u64 as u64,
    usize => write_u64 as u64, i8 => write_i8 as i8, i16 => write_i16 as i16,
    i32 => write_i32 as i32, i64 => write_i64 as i64, isize => write_i64 as i64
);

/// Floats; NaN and the infinities, which JSON cannot hold, as `null`, as serde_json's
/// serializer writes them.
macro_rules! floats {
    ($($ty:ty => $write:ident),*) => {$(
        impl WriteJson for $ty {
            fn write_json(&self, out: &mut String) {
                match self.is_finite() {
                    true => push_number(out, |cursor| CompactFormatter.$write(cursor, *self)),
                    false => out.push_str("null"),
                }
            }
        }
    )*};
}

floats!(f32 => write_f32, f64 => write_f64);

impl<T: WriteJson> WriteJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

/// Appends one member of an object: `key` is the member's name with its quotes and colon
/// (`"name":`), made by the macro; a comma goes before it unless it is the `first`.
pub fn member<T: WriteJson>(out: &mut String, first: &mut bool, key: &str, value: &T) {
    if !std::mem::take(first) {
        out.push(',');
    }
    out.push_str(key);
    value.write_json(out);
}

/// A value read from JSON text as serde_json reads it, for the field types of the payloads
/// `#[message]` reads itself: only in the forms read here without doubt (strings without
/// escapes, integers of at most 15 digits, ..). `None` for any other text; the caller then
/// has serde read the payload, which gives the value or the error it deserves.
pub trait ReadJson: Sized {
    /// The value that starts at `scanner`, if it is in a form read here.
    fn read_json(scanner: &mut Scanner<'_>) -> Option<Self>;
}

impl ReadJson for String {
    fn read_json(scanner: &mut Scanner<'_>) -> Option<Self> {
        scanner.string().map(str::to_owned)
    }
}

impl ReadJson for bool {
    fn read_json(scanner: &mut Scanner<'_>) -> Option<Self> {
        match scanner.peek()? {
            b't' => scanner.literal(b"true").map(|()| true),
            _ => scanner.literal(b"false").map(|()| false),
        }
    }
}

/// Integers, in range for their type.
macro_rules! read_integers {
    ($($ty:ty),*) => {$(
        impl ReadJson for $ty {
            fn read_json(scanner: &mut Scanner<'_>) -> Option<Self> {
                <$ty>::try_from(scanner.signed_integer()?).ok()
            }
        }
    )*};
}

read_integers!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// Floats: the number is read by serde_json itself, as it would read it in the payload.
macro_rules! read_floats {
    ($($ty:ty),*) => {$(
        impl ReadJson for $ty {
            fn read_json(scanner: &mut Scanner<'_>) -> Option<Self> {
                serde_json::from_str(scanner.number()?).ok()
            }
        }
    )*};
}

read_floats!(f32, f64);

impl<T: ReadJson> ReadJson for Option<T> {
    fn read_json(scanner: &mut Scanner<'_>) -> Option<Self> {
        match scanner.peek()? {
            b'n' => scanner.literal(b"null").map(|()| None),
            _ => T::read_json(scanner).map(Some),
        }
    }
}

/// Reads the JSON object `json`, whose keys are among `keys`, calling `member` with the
/// index of each key in `keys`, its value next for `member` to read; `None` if the text
/// is not an object in the forms read here, has another key, or `member` gives up on a
/// key or its value. `keys` hold no quote, backslash or control character.
pub fn read_object<'a, const N: usize>(
    json: &'a str,
    keys: [&str; N],
    member: impl FnMut(&mut Scanner<'a>, usize) -> Option<()>,
) -> Option<()> {
    let mut scanner = Scanner::new(json);
    scanner.skip_ws();
    scanner.object(keys, member)?;
    scanner.end()
}

#[cfg(test)]
mod tests {
    use super::{member, WriteJson};
    use serde::Serialize;

    fn written<T: WriteJson>(value: &T) -> String {
        let mut out = String::new();
        value.write_json(&mut out);
        out
    }

    fn agrees<T: WriteJson + Serialize + std::fmt::Debug>(value: &T) {
        assert_eq!(written(value), serde_json::to_string(value).unwrap(), "{value:?}");
    }

    #[test]
    fn scalars_are_written_as_serde_json_writes_them() {
        for text in ["", "hello world", "quo\"te \\ \n\t\u{1}\u{1f}", "é ✓ \u{7f} 😀"] {
            agrees(&text.to_owned());
        }
        agrees(&true);
        agrees(&false);
        agrees(&0u8);
        agrees(&u64::MAX);
        agrees(&i64::MIN);
        agrees(&-1i8);
        agrees(&usize::MAX);
        for float in
            [0.0, -0.0, 1.5, -2.25e-300, 1e300, f64::MAX, f64::MIN_POSITIVE, 0.1 + 0.2, 1e21, 123456789.0]
        {
            agrees(&float);
            agrees(&(float as f32));
        }
        for not_finite in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            agrees(&not_finite);
            agrees(&(not_finite as f32));
        }
        agrees(&Some(3u32));
        agrees(&None::<String>);
    }

    #[test]
    fn members_are_separated_by_commas() {
        let (mut out, mut first) = (String::from("{"), true);
        member(&mut out, &mut first, r#""a":"#, &1u8);
        member(&mut out, &mut first, r#""b":"#, &String::from("x"));
        out.push('}');
        assert_eq!(out, r#"{"a":1,"b":"x"}"#);
    }
}
