//! The Redis bus decoder: a message on the bus, as another wskit or ws-kit instance
//! published it (`{"topic","type","payload"?,"meta"?}`), becomes the frame local
//! subscribers receive, `{"type","meta"?,"payload"?}`, or is ignored. Nothing panics, and
//! the frame never carries the publisher's exclusion key or an empty `meta`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use wskit::__fuzz::bus_message;

fuzz_target!(|data: &[u8]| {
    let Some(delivery) = bus_message(data) else { return };
    let text = std::str::from_utf8(data).expect("a decoded message is UTF-8");
    // Raw values: a payload passes through unparsed, numbers beyond f64 included.
    let frame: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(&delivery.frame).expect("the frame is a JSON object");
    assert!(
        frame.keys().all(|key| ["type", "meta", "payload"].contains(&key.as_str())),
        "{}",
        delivery.frame
    );
    let ty: String = serde_json::from_str(frame["type"].get()).expect("the type is a string");
    let message: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(text).expect("the bus message is an object");
    assert_eq!(Some(&ty), serde_json::from_str::<String>(message["type"].get()).ok().as_ref());
    assert_eq!(Some(&delivery.topic), serde_json::from_str::<String>(message["topic"].get()).ok().as_ref());
    if let Some(payload) = frame.get("payload") {
        assert_ne!(payload.get(), "null", "a null payload is an absent one");
    }
    if let Some(meta) = frame.get("meta") {
        let meta: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(meta.get()).expect("meta is an object");
        assert!(!meta.is_empty(), "an empty meta is omitted");
        assert!(!meta.contains_key("excludeClientId"), "the exclusion key reached subscribers");
    }
    if delivery.exclude.is_some() {
        // The key may be written with escapes.
        assert!(text.contains("excludeClientId") || text.contains('\\'));
    }
});
