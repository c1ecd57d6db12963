//! The fast path of [`Envelope::parse`](super::Envelope::parse): one pass over the bytes
//! of a frame in the shape clients send, `{"type":"…","meta":{…},"payload":{…}}`.
//!
//! It validates the whole frame as JSON, as serde_json would, but only takes frames it is
//! sure of: every key one of `type`, `meta`, `payload`, at most once each, `type` a string
//! without escapes, no `\u` escapes anywhere and no nesting deeper than [`MAX_DEPTH`].
//! Anything else returns `None` and goes through serde_json, which gives the same envelope
//! or the error the frame deserves. The fuzz target `envelope` checks that both agree.
//!
//! A `meta` that holds only the standard keys, in the forms clients send, is read here too
//! ([`Scanner::standard_meta`]), so that it is not walked a second time. So are the
//! payloads of the messages `#[message]` reads without serde ([`crate::json`]).

use super::{Envelope, Meta};
use crate::escape::plain_len;
use crate::json::ReadJson;
use crate::limits::Limits;
use std::borrow::Cow;

/// Nesting the scanner follows; deeper frames go through serde_json.
const MAX_DEPTH: usize = 64;

/// The envelope of `text`, if it is a frame the fast path is sure of, with its `meta`
/// read too if the fast path is sure of that ([`Scanner::standard_meta`]).
pub(super) fn scan(text: &str) -> Option<Envelope<'_>> {
    let mut scanner = Scanner::new(text);
    let (mut ty, mut meta, mut payload, mut standard) = (None, None, None, None);
    scanner.skip_ws();
    scanner.object(["type", "meta", "payload"], |scanner, key| {
        let start = scanner.at;
        match key {
            0 if ty.is_none() => ty = Some(scanner.string()?),
            1 if meta.is_none() => {
                let mut reader = *scanner;
                standard = reader.standard_meta();
                if standard.is_some() {
                    scanner.at = reader.at;
                    meta = Some(scanner.text.get(start..scanner.at));
                } else {
                    meta = Some(scanner.value(start, 0)?);
                }
            }
            2 if payload.is_none() => payload = Some(scanner.value(start, 0)?),
            _ => return None,
        }
        Some(())
    })?;
    scanner.end()?;
    Some(Envelope {
        ty: Cow::Borrowed(ty?),
        meta: meta.flatten(),
        payload: payload.flatten(),
        standard_meta: standard,
    })
}

/// The standard keys of the `meta` object `raw`, as [`Scanner::standard_meta`] reads them.
#[cfg(any(test, fuzzing))]
fn meta(raw: &str) -> Option<Meta> {
    let mut scanner = Scanner::new(raw);
    scanner.skip_ws();
    let meta = scanner.standard_meta()?;
    scanner.end()?;
    Some(meta)
}

/// Digits of the integers [`Scanner::standard_meta`] reads: below 2^53, so that an `f64`
/// holds them exactly, as serde_json reads them.
const MAX_DIGITS: usize = 15;

/// A walk over JSON text that takes only the forms it is sure of, and gives up (`None`)
/// on anything else, for serde_json to read.
#[derive(Clone, Copy)]
pub struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    /// A walk from the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner { text, bytes: text.as_bytes(), at: 0 }
    }

    /// The value that starts here, read as serde_json reads it, if it is in a form `T`
    /// reads ([`ReadJson`]).
    pub fn read<T: ReadJson>(&mut self) -> Option<T> {
        T::read_json(self)
    }

    /// Walks the object that starts here, whose keys are among `keys`: calls `field` with
    /// the index of each key in `keys`, once its value is next for `field` to read. Gives
    /// up on any other key, and on a key written with escapes.
    ///
    /// Keys are compared with `keys` where they stand, not read as strings first: inlined,
    /// each comparison is with a constant of known length, a few instructions.
    #[inline(always)]
    pub(crate) fn object<const N: usize>(
        &mut self,
        keys: [&str; N],
        mut field: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.key(&keys)?;
            self.skip_ws();
            self.eat(b':')?;
            self.skip_ws();
            field(self, key)?;
            self.skip_ws();
            match self.next()? {
                b',' => self.skip_ws(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The index in `keys` of the key string that starts here. The keys hold no quote,
    /// backslash or control character, so a key that matches one byte for byte, closing
    /// quote included, is that key as serde_json reads it.
    #[inline(always)]
    fn key(&mut self, keys: &[&str]) -> Option<usize> {
        self.eat(b'"')?;
        let rest = &self.bytes[self.at..];
        let index = keys
            .iter()
            .position(|key| rest.get(key.len()) == Some(&b'"') && rest.starts_with(key.as_bytes()))?;
        self.at += keys[index].len() + 1;
        Some(index)
    }

    /// Only whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.skip_ws();
        (self.at == self.bytes.len()).then_some(())
    }

    /// The `meta` object that starts here, if it holds only standard keys in forms the
    /// fast path is sure of: each key at most once, `correlationId` a string without
    /// escapes within [`Limits::MAX_CORRELATION_ID_BYTES`], `timestamp` an integer and
    /// `timeoutMs` a non-negative one, of at most [`MAX_DIGITS`] digits, or `null`.
    /// Anything else (extra keys among them) is left to serde_json.
    fn standard_meta(&mut self) -> Option<Meta> {
        let mut meta = Meta::default();
        let mut seen = [false; 3];
        self.object(["correlationId", "timestamp", "timeoutMs"], |scanner, slot| {
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            if scanner.literal(b"null").is_some() {
                return Some(());
            }
            match slot {
                0 => {
                    let id = scanner.string()?;
                    if id.len() > Limits::MAX_CORRELATION_ID_BYTES {
                        return None;
                    }
                    meta.correlation_id = Some(id.to_owned());
                }
                1 => {
                    let negative = scanner.peek() == Some(b'-');
                    scanner.at += usize::from(negative);
                    let magnitude = scanner.integer()? as f64;
                    meta.timestamp = Some(if negative { -magnitude } else { magnitude });
                }
                _ => meta.timeout_ms = Some(scanner.integer()?),
            }
            Some(())
        })?;
        Some(meta)
    }

    /// An unsigned JSON integer (`0` or no leading zero) of at most [`MAX_DIGITS`] digits.
    /// What follows is for the caller to check: a fraction or exponent is no separator.
    pub(crate) fn integer(&mut self) -> Option<u64> {
        let start = self.at;
        self.digits();
        let digits = &self.bytes[start..self.at];
        if digits.is_empty() || digits.len() > MAX_DIGITS || (digits[0] == b'0' && digits.len() > 1) {
            return None;
        }
        Some(digits.iter().fold(0, |value, &digit| value * 10 + u64::from(digit - b'0')))
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    pub(crate) fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string without escapes, borrowed.
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let length = plain_len(&self.bytes[start..]);
        self.at = start + length;
        self.eat(b'"')?;
        // Between two ASCII quotes: on character boundaries, so `get` finds it whole.
        self.text.get(start..start + length)
    }

    /// A string with the escapes JSON allows but `\u`.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.at += plain_len(&self.bytes[self.at..]);
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    _ => return None,
                },
                byte if byte < 0x20 => return None,
                _ => {}
            }
        }
    }

    /// The value starting at `start` (the current position) as a raw slice; `Some(None)`
    /// for `null`, which serde reads as an absent value.
    fn value(&mut self, start: usize, depth: usize) -> Option<Option<&'a str>> {
        self.skip_value(depth)?;
        // A JSON value starts and ends with ASCII: on character boundaries.
        let raw = self.text.get(start..self.at)?;
        Some((raw != "null").then_some(raw))
    }

    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.skip_container(b'}', depth, true),
            b'[' => self.skip_container(b']', depth, false),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// An object (`keyed`) or an array, whose opening bracket is next.
    fn skip_container(&mut self, close: u8, depth: usize, keyed: bool) -> Option<()> {
        self.at += 1;
        self.skip_ws();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            if keyed {
                self.skip_string()?;
                self.skip_ws();
                self.eat(b':')?;
                self.skip_ws();
            }
            self.skip_value(depth + 1)?;
            self.skip_ws();
            match self.next()? {
                b',' => self.skip_ws(),
                byte if byte == close => return Some(()),
                _ => return None,
            }
        }
    }

    pub(crate) fn literal(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.at + literal.len();
        (self.bytes.get(self.at..end)? == literal).then(|| self.at = end)
    }

    /// An integer as [`integer`](Self::integer) reads it, with a minus or without; not
    /// `-0`, which serde_json reads as a float.
    pub(crate) fn signed_integer(&mut self) -> Option<i64> {
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        // At most 15 digits: within an `i64`.
        let magnitude = self.integer()? as i64;
        match negative {
            true if magnitude == 0 => None,
            true => Some(-magnitude),
            false => Some(magnitude),
        }
    }

    /// The number that starts here, as written.
    pub(crate) fn number(&mut self) -> Option<&'a str> {
        let start = self.at;
        self.skip_number()?;
        // A number is ASCII: on character boundaries.
        self.text.get(start..self.at)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.one_or_more_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.one_or_more_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn one_or_more_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

/// Whether the fast path takes `text`; panics if it takes a frame serde_json refuses, or
/// reads one differently, its meta included. For the unit tests and the `envelope` fuzz
/// target.
#[cfg(any(test, fuzzing))]
pub(crate) fn fast_path_agrees(text: &str) -> bool {
    let slow = serde_json::from_str::<super::WireEnvelope<'_>>(text)
        .ok()
        .filter(|_| text.trim_start().starts_with('{'));
    match (scan(text), slow) {
        (None, _) => false,
        (Some(fast), Some(slow)) => {
            assert_eq!(fast.standard_meta, fast.meta.and_then(meta), "{text}");
            assert_eq!(fast.ty, slow.ty, "{text}");
            assert_eq!(fast.meta, slow.meta.map(|raw| raw.get()), "{text}");
            assert_eq!(fast.payload, slow.payload.map(|raw| raw.get()), "{text}");
            if let Some(fast_meta) = fast.meta.and_then(meta) {
                let slow_meta = serde_json::from_str::<super::ParsedMeta<'_>>(fast.meta.unwrap_or_default());
                let slow_meta = slow_meta.unwrap_or_else(|error| {
                    panic!("the fast path took meta serde_json refuses ({error}): {text}")
                });
                assert!(slow_meta.extra.is_empty(), "{text}");
                assert_eq!(fast_meta, slow_meta.meta, "{text}");
                assert_eq!(
                    fast_meta.timestamp.map(f64::to_bits),
                    slow_meta.meta.timestamp.map(f64::to_bits),
                    "{text}"
                );
            }
            true
        }
        (Some(_), None) => panic!("the fast path took a frame serde_json refuses: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{fast_path_agrees as agrees, meta};

    #[test]
    fn takes_the_frames_clients_send() {
        for text in [
            r#"{"type":"ECHO","payload":{"text":"hello world"}}"#,
            r#"{"type":"GET","meta":{"timestamp":1730450000000,"correlationId":"c-1"},"payload":{"id":"1"}}"#,
            r#" { "payload" : [1, -2.5e+3, 0, true, false, null, "a\"b\\n"] , "type" : "T" } "#,
            r#"{"type":"PING"}"#,
            r#"{"type":"PING","meta":null,"payload":null}"#,
            r#"{"type":"é✓","meta":{},"payload":{"nested":{"deep":[[{}]]}}}"#,
            r#"{"payload":{},"meta":{"timeoutMs":1,"correlationId":"c"},"type":"LAST"}"#,
        ] {
            assert!(agrees(text), "declined {text}");
        }
    }

    #[test]
    fn declines_what_needs_serde_json() {
        for text in [
            r#"{"ty\u0070e":"PING"}"#,
            r#"{"type":"PI\"NG"}"#,
            r#"{"type":"PING","payload":"\u00e9"}"#,
            r#"{"type":"PING","type":"PONG"}"#,
            r#"{"type":"PING","extra":1}"#,
            r#"{"types":"PING"}"#,
            r#"{"typ":"PING"}"#,
            r#"{"type":"PING","meta\"":{}}"#,
            r#"{"type":"PING","meta\u0000":{}}"#,
            r#"{"meta":{}}"#,
            r#"{"type":1}"#,
            r#"["PING",null,null]"#,
            r#"{"type":"PING"} x"#,
            r#"{"type":"PING","payload":01}"#,
            r#"{"type":"PING","payload":1.}"#,
            r#"{"type":"PING","payload":[1,]}"#,
            r#"{"type":"PING","payload":{"a":1,}}"#,
            r#"{"type":"PING","payload":tru}"#,
            r#"{"type":"PING","payload":"a	b"}"#,
            r#"{"type":"PING",}"#,
            r#"{}"#,
            "",
        ] {
            assert!(!agrees(text), "took {text}");
        }
        let deep = format!(r#"{{"type":"T","payload":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        assert!(!agrees(&deep));
    }

    #[test]
    fn reads_the_meta_clients_send_and_agrees_with_serde_json() {
        for raw in [
            r#"{}"#,
            r#"{"correlationId":"4f1c2a9e"}"#,
            r#" { "timestamp" : 1730450000000 , "correlationId" : "c-1", "timeoutMs": 5000 } "#,
            r#"{"timestamp":-0,"timeoutMs":0,"correlationId":null}"#,
            r#"{"timestamp":-12,"timeoutMs":null}"#,
            r#"{"correlationId":"é✓"}"#,
        ] {
            assert!(meta(raw).is_some(), "declined {raw}");
            assert!(agrees(&format!(r#"{{"type":"T","meta":{raw}}}"#)), "{raw}");
        }
        let read = meta(r#"{"timestamp":-7,"correlationId":"id","timeoutMs":250}"#).unwrap();
        assert_eq!(read.timestamp, Some(-7.0));
        assert_eq!(read.correlation_id.as_deref(), Some("id"));
        assert_eq!(read.timeout_ms, Some(250));
    }

    #[test]
    fn leaves_other_meta_to_serde_json() {
        let long_id = format!(r#"{{"correlationId":"{}"}}"#, "x".repeat(129));
        for raw in [
            r#"{"correlationId":"a\"b"}"#,
            r#"{"correlationId":1}"#,
            r#"{"correlationId":"a","correlationId":"b"}"#,
            r#"{"timestamp":1.5}"#,
            r#"{"timestamp":1e3}"#,
            r#"{"timestamp":1234567890123456}"#,
            r#"{"timestamp":01}"#,
            r#"{"timeoutMs":-1}"#,
            r#"{"timeoutMs":"5"}"#,
            r#"{"clientId":"x"}"#,
            r#"{"correlationIds":"x"}"#,
            r#"{"timestam":1}"#,
            r#"{"custom":true}"#,
            r#"{"timestamp":1,}"#,
            r#"[]"#,
            &long_id,
        ] {
            assert!(meta(raw).is_none(), "took {raw}");
            // Where the envelope is taken, the meta check of the agreement passes too.
            agrees(&format!(r#"{{"type":"T","meta":{raw}}}"#));
        }
    }
}
