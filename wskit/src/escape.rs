//! Where JSON string text stops being plain: the first quote, backslash or control
//! character, found eight bytes at a time.
//!
//! Reading a frame's envelope and writing a reply's type and correlation id are mostly
//! walks over string text; a byte-at-a-time walk costs several instructions per byte,
//! while one word of eight bytes tested at once costs about as much as one byte. The
//! word test is the classic "has a zero byte" bit trick: it may also flag bytes after a
//! real hit (a borrow runs upward), never before one, so the lowest flagged byte is the
//! first special byte.
//!
//! Written here because the crates that search bytes quickly (`memchr`) look for up to
//! three given bytes, not for a range such as the control characters; serde_json has the
//! same test inside, but does not export it.

/// Eight copies of `byte`.
const fn lanes(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

const HIGH_BITS: u64 = lanes(0x80);
const ONES: u64 = lanes(0x01);

/// The bytes of `word` (one per lane) that are zero, as their high bits; lanes above the
/// first zero one may be flagged too.
const fn zero_lanes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH_BITS
}

/// The lanes of `word` holding a byte that a JSON string cannot hold as it is.
const fn special_lanes(word: u64) -> u64 {
    let below_space = word.wrapping_sub(lanes(0x20)) & !word & HIGH_BITS;
    zero_lanes(word ^ lanes(b'"')) | zero_lanes(word ^ lanes(b'\\')) | below_space
}

/// Whether a JSON string holds `byte` only escaped (or, a quote, ends there).
const fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The length of the longest start of `bytes` without a quote, a backslash or a control
/// character: text a JSON string holds as it is.
pub(crate) fn plain_len(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("chunks of eight bytes"));
        let special = special_lanes(word);
        if special != 0 {
            return at + (special.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = words.remainder();
    if rest.is_empty() || bytes.len() < 8 {
        return at + rest.iter().position(|&byte| is_special(byte)).unwrap_or(rest.len());
    }
    // The last eight bytes as one more word, its lanes before `rest` already found plain:
    // they hold no hit, so they flag nothing (a false flag only ever follows a hit).
    let word = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().expect("eight bytes"));
    let special = special_lanes(word) >> ((8 - rest.len()) * 8);
    at + ((special.trailing_zeros() / 8) as usize).min(rest.len())
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it: `\"`, `\\`, the
/// short escapes of backspace, form feed, newline, carriage return and tab, `\u00XX`
/// (lowercase hex) for the other control characters, everything else as it is.
pub(crate) fn write_json_str(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    loop {
        let plain = plain_len(rest.as_bytes());
        out.push_str(&rest[..plain]);
        // The special bytes are ASCII: the next character is one byte long.
        let Some(special) = rest.as_bytes().get(plain) else { break };
        match special {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(control >> 4)]));
                out.push(char::from(HEX[usize::from(control & 0xf)]));
            }
        }
        rest = &rest[plain + 1..];
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::{is_special, plain_len, write_json_str};

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0..=0x7fu8).map(char::from).collect();
        for text in
            ["PLAIN_TYPE", "quo\"te", "back\\slash", "tab\there", "\u{1}", "é ✓ \u{7f}", "", &every_ascii]
        {
            let mut out = String::from("x");
            write_json_str(&mut out, text);
            assert_eq!(out[1..], serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    /// The byte-at-a-time answer the word test must agree with.
    fn slow(bytes: &[u8]) -> usize {
        bytes.iter().position(|&byte| is_special(byte)).unwrap_or(bytes.len())
    }

    #[test]
    fn finds_the_first_special_byte_at_every_position() {
        let specials = [b'"', b'\\', 0x00, 0x1f, b'\n'];
        // Plain bytes next to the special ones in value: a borrow or a near miss must not
        // be taken for a hit.
        let fillers = [b'a', b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xc3, 0xff];
        for len in 0..40 {
            for &filler in &fillers {
                let plain = vec![filler; len];
                assert_eq!(plain_len(&plain), len);
                for at in 0..len {
                    for &special in &specials {
                        let mut bytes = plain.clone();
                        bytes[at] = special;
                        // A second special byte later must not move the answer.
                        if at + 3 < len {
                            bytes[at + 3] = b'"';
                        }
                        assert_eq!(plain_len(&bytes), at, "{bytes:?}");
                        assert_eq!(plain_len(&bytes), slow(&bytes));
                    }
                }
            }
        }
    }

    #[test]
    fn agrees_with_the_slow_walk_on_every_byte_pair() {
        for first in 0..=255u8 {
            for second in [0u8, 0x1f, 0x20, b'"', b'\\', b'a', 0x7f, 0x80, 0xff] {
                let bytes = [b'x', b'y', first, second, b'z', 0x21, 0x22, 0x5c, b'w'];
                assert_eq!(plain_len(&bytes), slow(&bytes), "{bytes:?}");
                assert_eq!(plain_len(&bytes[2..]), slow(&bytes[2..]), "{bytes:?}");
            }
        }
    }
}
