//! The payloads `#[message]` reads and writes without serde. Any text the reader takes,
//! serde_json reads into the same message; whatever serde reads, the writer writes byte for
//! byte as serde writes it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wskit::{message, Message};

/// Every field type the reader and writer take, an `Option` of each kind, and a renamed key.
#[message("SAMPLE")]
#[derive(Debug, PartialEq)]
struct Sample {
    text: String,
    flag: bool,
    small: u8,
    count: u32,
    big: u64,
    size: usize,
    delta: i16,
    offset: i64,
    ratio: f64,
    scale: f32,
    note: Option<String>,
    seq: Option<u64>,
    gain: Option<f64>,
    on: Option<bool>,
    #[serde(rename = "x-id")]
    renamed: String,
}

/// Fields that may be missing, so that short inputs reach the reader's success path.
#[message("SPARSE")]
#[derive(Debug, PartialEq)]
struct Sparse {
    text: Option<String>,
    count: Option<i32>,
    ratio: Option<f32>,
    flag: Option<bool>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check::<Sample>(text);
    check::<Sparse>(text);
});

fn check<M: Message + PartialEq + std::fmt::Debug>(text: &str) {
    let serde = serde_json::from_str::<M>(text);
    if let Some(read) = M::read_payload(text) {
        match &serde {
            Ok(message) => assert_eq!(&read, message, "read otherwise than serde reads {text:?}"),
            Err(error) => panic!("read {text:?}, which serde refuses: {error}"),
        }
    }
    if let Ok(message) = serde {
        let mut written = String::new();
        assert!(message.write_payload(&mut written));
        assert_eq!(written, serde_json::to_string(&message).unwrap());
    }
}
