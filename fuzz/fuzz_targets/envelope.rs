//! The envelope decoder: `Envelope::parse`, the meta parser, and the correlation id salvaged
//! from rejected frames. Any UTF-8 text either decodes into a consistent envelope or is
//! refused with INVALID_ARGUMENT; nothing panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use wskit::__fuzz::{envelope, envelope_fast_path_agrees, salvage_correlation_id};
use wskit::Code;

/// The meta keys the parser takes for itself; every other key is an extra one.
const STANDARD_META: [&str; 5] = ["timestamp", "correlationId", "timeoutMs", "clientId", "receivedAt"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The one-pass scanner and serde_json read the same envelope, where the scanner reads one.
    envelope_fast_path_agrees(text);
    let salvaged = salvage_correlation_id(text);
    let decoded = match envelope(text) {
        Ok(decoded) => decoded,
        Err(error) => {
            assert_eq!(error.code(), &Code::InvalidArgument, "{error}");
            assert!(error.is_protocol_error());
            assert_error_frame(&error);
            return;
        }
    };
    assert!(text.trim_start().starts_with('{'), "accepted a frame that is no object");
    if let Some(payload) = &decoded.payload {
        assert_ne!(payload, "null", "a null payload is an absent one");
        assert_raw_json(payload);
    }
    match &decoded.meta {
        Ok((meta, extra)) => {
            for (key, value) in extra {
                assert!(!STANDARD_META.contains(&key.as_str()), "standard key {key} kept as extra");
                assert_raw_json(value);
            }
            // The salvage pass reads the same key; where both succeed they agree.
            if let Some(salvaged) = &salvaged {
                assert_eq!(meta.correlation_id.as_ref(), Some(salvaged));
            }
        }
        Err(error) => {
            assert_eq!(error.code(), &Code::InvalidArgument);
            let issues = error.details().and_then(|details| details.get("issues")?.as_array());
            let issues = issues.expect("a meta error lists its issues");
            assert!(!issues.is_empty());
            for issue in issues {
                let path = issue["path"].as_str().expect("a path");
                assert!(path == "meta" || path.starts_with("meta."), "issue outside meta: {path}");
            }
            assert_error_frame(error);
        }
    }
});

/// `json` is one JSON value, as a raw slice of the frame must be.
fn assert_raw_json(json: &str) {
    if let Err(error) = serde_json::from_str::<&RawValue>(json) {
        panic!("raw slice {json:?} is not JSON: {error}");
    }
}

/// The error serializes into an error frame's payload.
fn assert_error_frame(error: &wskit::Error) {
    let payload = serde_json::to_value(error).expect("an error serializes");
    assert_eq!(payload["code"], "INVALID_ARGUMENT");
    assert!(payload["message"].is_string());
}
