//! The envelope of a frame: `{"type", "meta", "payload"}`.
//!
//! Inbound, [`Envelope::parse`] borrows the type and leaves `meta` and `payload` as raw JSON
//! slices, so the payload is not copied before it is deserialized straight into the message
//! struct by [`Inbound::decode`]. Outbound, [`encode`] serializes a frame in one pass.

mod scan;

#[cfg(fuzzing)]
pub(crate) use scan::fast_path_agrees;
pub use scan::Scanner;

use crate::error::Error;
use crate::limits::{clip, Limits};
use crate::message::{DeclaredMeta, Message};
use crate::protocol::{self, OutFrame, OutMeta};
use crate::validate::{Issues, Path, Validate};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A frame's envelope with `meta` and `payload` still raw: slices of the frame that
/// hold one valid JSON value each (`null` counts as absent).
pub(crate) struct Envelope<'a> {
    pub(crate) ty: Cow<'a, str>,
    pub(crate) meta: Option<&'a str>,
    pub(crate) payload: Option<&'a str>,
    /// `meta`, read already by the fast path if it holds only standard keys.
    standard_meta: Option<Meta>,
}

/// The envelope as serde_json reads it, for frames the fast path (`scan`) declines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow)]
    meta: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    /// Parses a frame's text. Fails with INVALID_ARGUMENT for anything but a JSON object
    /// with a string `type` and no keys besides `type`, `meta` and `payload`.
    pub(crate) fn parse(text: &'a str) -> Result<Self, Error> {
        if let Some(envelope) = scan::scan(text) {
            return Ok(envelope);
        }
        let envelope: WireEnvelope<'a> = serde_json::from_str(text).map_err(|error| {
            let reason = match error.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    format!("the frame is not valid JSON: {error}")
                }
                // serde quotes what it did not expect, e.g. an unknown root key.
                _ => format!("the frame is not a valid envelope: {}", clip(&error.to_string())),
            };
            Error::invalid_argument(reason).protocol()
        })?;
        // serde reads a struct from an array of its fields too; a frame is one JSON object.
        if !text.trim_start().starts_with('{') {
            return Err(Error::invalid_argument("the frame is not a JSON object").protocol());
        }
        Ok(Envelope {
            ty: envelope.ty,
            meta: envelope.meta.map(RawValue::get),
            payload: envelope.payload.map(RawValue::get),
            standard_meta: None,
        })
    }

    /// Parses `meta` into its standard keys and the extra keys a message may declare.
    ///
    /// Fails with INVALID_ARGUMENT and `details.issues` (e.g. at `meta.correlationId`) when
    /// `meta` is not an object or a standard key has the wrong type.
    pub(crate) fn meta(&mut self) -> Result<(Meta, Vec<ExtraMeta<'a>>), Error> {
        if let Some(meta) = self.standard_meta.take() {
            return Ok((meta, Vec::new()));
        }
        let Some(raw) = self.meta else { return Ok((Meta::default(), Vec::new())) };
        if let Ok(parsed) = serde_json::from_str::<ParsedMeta<'a>>(raw) {
            return Ok((parsed.meta, parsed.extra));
        }
        // Parse again, now tracking the path: the slower pass only runs on bad input.
        let mut deserializer = serde_json::Deserializer::from_str(raw);
        let mut issues = Issues::default();
        if let Err(error) = serde_path_to_error::deserialize::<_, ParsedMeta<'a>>(&mut deserializer) {
            push_decode_error(error, Path::root("meta"), &mut issues);
        }
        Err(validation_error(issues))
    }
}

/// The correlation id of a frame that failed to decode, if it has a readable one: the
/// error then goes out as `RPC_ERROR` with that id, so that the client's pending request
/// fails at once instead of at its timeout. Only runs on input already rejected.
pub(crate) fn salvage_correlation_id(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Loose {
        meta: Option<LooseMeta>,
    }
    #[derive(Deserialize)]
    struct LooseMeta {
        #[serde(rename = "correlationId")]
        correlation_id: Option<CorrelationId>,
    }
    let loose: Loose = serde_json::from_str(text).ok()?;
    loose.meta?.correlation_id.map(|id| id.0)
}

/// A `meta.correlationId` of at most [`Limits::MAX_CORRELATION_ID_BYTES`]: a longer one
/// fails to decode before it is copied.
struct CorrelationId(String);

impl<'de> Deserialize<'de> for CorrelationId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = CorrelationId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, id: &str) -> Result<CorrelationId, E> {
                let max = Limits::MAX_CORRELATION_ID_BYTES;
                if id.len() > max {
                    return Err(E::custom(format_args!(
                        "must be at most {max} bytes long (a UUID is 36); this one has {}",
                        id.len()
                    )));
                }
                Ok(CorrelationId(id.to_owned()))
            }
        }

        deserializer.deserialize_str(IdVisitor)
    }
}

/// The standard `meta` keys of an inbound frame.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Meta {
    /// `meta.timestamp`: the sender's clock in milliseconds, informational only.
    pub timestamp: Option<f64>,
    /// `meta.correlationId`: the id replies and errors echo.
    pub correlation_id: Option<String>,
    /// `meta.timeoutMs`: the deadline the client asks for, in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// A `meta` key outside the standard ones, kept raw until the message type is known.
pub(crate) type ExtraMeta<'a> = (Cow<'a, str>, &'a RawValue);

struct ParsedMeta<'a> {
    meta: Meta,
    extra: Vec<ExtraMeta<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ParsedMeta<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetaVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for MetaVisitor<'a> {
            type Value = ParsedMeta<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a meta object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut meta = Meta::default();
                let mut extra = Vec::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match &*key {
                        "timestamp" => meta.timestamp = map.next_value()?,
                        "correlationId" => {
                            meta.correlation_id = map.next_value::<Option<CorrelationId>>()?.map(|id| id.0);
                        }
                        "timeoutMs" => meta.timeout_ms = map.next_value()?,
                        // Reserved for the server: stripped, never shown to handlers.
                        "clientId" | "receivedAt" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ if extra.len() == Limits::MAX_EXTRA_META_KEYS => {
                            return Err(de::Error::custom(format_args!(
                                "holds more than {} keys besides timestamp, correlationId and timeoutMs",
                                Limits::MAX_EXTRA_META_KEYS
                            )));
                        }
                        _ => extra.push((key, map.next_value::<&'de RawValue>()?)),
                    }
                }
                Ok(ParsedMeta { meta, extra })
            }
        }

        deserializer.deserialize_map(MetaVisitor(std::marker::PhantomData))
    }
}

/// A key of `meta`, borrowed from the frame unless it has escapes: serde's own `Cow`
/// always copies, which would cost an allocation per key of every frame.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

/// A routed inbound frame, handed to [`Router::dispatch`](crate::Router::dispatch), which
/// decodes it into the message type of the matching handler.
pub struct Inbound<'a> {
    ty: &'a str,
    payload: Option<&'a str>,
    extra_meta: &'a [ExtraMeta<'a>],
}

impl<'a> Inbound<'a> {
    pub(crate) fn new(ty: &'a str, payload: Option<&'a str>, extra_meta: &'a [ExtraMeta<'a>]) -> Self {
        Inbound { ty, payload, extra_meta }
    }

    /// The frame's type string.
    pub fn message_type(&self) -> &'a str {
        self.ty
    }

    /// Decodes and validates the payload as `M`, and the extra meta keys as `M::Meta`.
    ///
    /// Fails with INVALID_ARGUMENT, listing every problem under `details.issues`.
    pub fn decode<M: Message>(&self) -> Result<(M, M::Meta), Error> {
        let mut issues = Issues::default();
        let payload_at = Path::root("payload");
        let message = match (M::HAS_PAYLOAD, self.payload) {
            // Message structs are read from objects only (`object.rs`); this says so in
            // words a client understands rather than serde's "invalid type".
            (true, Some(raw)) if !raw.starts_with('{') => {
                issues.push(payload_at, "must be an object");
                None
            }
            (true, Some(raw)) => match M::read_payload(raw) {
                Some(message) => {
                    message.validate(payload_at, &mut issues);
                    Some(message)
                }
                None => deserialize::<M>(raw, payload_at, &mut issues),
            },
            (true, None) => {
                issues.push(payload_at, "is required by this message type");
                None
            }
            (false, None) => deserialize::<M>("null", payload_at, &mut issues),
            (false, Some(_)) => {
                issues.push(payload_at, "must be absent: this message type carries no payload");
                None
            }
        };
        let meta = self.decode_meta::<M::Meta>(&mut issues);
        match (message, meta) {
            (Some(message), Some(meta)) if issues.is_empty() => Ok((message, meta)),
            _ => Err(validation_error(issues)),
        }
    }

    fn decode_meta<T: DeclaredMeta>(&self, issues: &mut Issues) -> Option<T> {
        let at = Path::root("meta");
        if self.extra_meta.is_empty() {
            // Most messages declare no meta: nothing to decode for them.
            return T::without_keys().or_else(|| deserialize("{}", at, issues));
        }
        // Declared meta keys are rare and few: gather them into one object to decode.
        let mut object = String::from("{");
        for (i, (key, value)) in self.extra_meta.iter().enumerate() {
            if i > 0 {
                object.push(',');
            }
            object.push_str(&serde_json::to_string(key).expect("strings serialize"));
            object.push(':');
            object.push_str(value.get());
        }
        object.push('}');
        deserialize(&object, at, issues)
    }

    /// The error for a type no handler of the router takes.
    pub fn unknown_type(&self) -> Error {
        unknown_type(self.ty)
    }
}

pub(crate) fn unknown_type(ty: &str) -> Error {
    let ty = clip(ty);
    Error::unimplemented(format!("unknown message type `{ty}`"))
        .with_detail("type", ty.into_owned())
        .protocol()
}

/// Deserializes and validates `json` as `T`, reporting problems at `at`.
fn deserialize<T: de::DeserializeOwned + Validate>(
    json: &str,
    at: Path<'_>,
    issues: &mut Issues,
) -> Option<T> {
    match serde_json::from_str::<T>(json) {
        Ok(value) => {
            value.validate(at, issues);
            Some(value)
        }
        Err(_) => {
            // Decode again, now tracking the path: the slower pass only runs on bad input.
            let mut deserializer = serde_json::Deserializer::from_str(json);
            if let Err(error) = serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
                push_decode_error(error, at, issues);
            }
            None
        }
    }
}

/// Reports a deserialization error at the path it happened, below `at`.
fn push_decode_error(
    error: serde_path_to_error::Error<serde_json::Error>,
    at: Path<'_>,
    issues: &mut Issues,
) {
    let mut path = at.to_string();
    for segment in error.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                path.push('.');
                path.push_str(key);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let message = error.into_inner().to_string();
    let message = strip_position(&message);
    // serde reports a missing field (and some unknown ones) at its parent: name the field.
    let field = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    if let Some(field) = field.filter(|field| !path.ends_with(&format!(".{field}"))) {
        path.push('.');
        path.push_str(field);
    }
    // Both may quote the client: map keys in the path, values and keys in the message.
    issues.push_at(clip(&path).into_owned(), clip(message).into_owned());
}

/// serde_json appends ` at line 1 column 17` to its errors; the path says it better.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

/// INVALID_ARGUMENT with `details.issues`, and `details.omittedIssues` when there were
/// more than [`Limits::MAX_ISSUES`].
pub(crate) fn validation_error(issues: Issues) -> Error {
    let omitted = issues.omitted();
    let summary = match (issues.as_slice(), omitted) {
        ([only], 0) => format!("{}: {}", only.path, only.message),
        (kept, _) => format!("{} validation issues", kept.len() + omitted),
    };
    let error = Error::invalid_argument(summary)
        .with_detail("issues", serde_json::to_value(issues.as_slice()).expect("issues serialize"));
    match omitted {
        0 => error.protocol(),
        _ => error.with_detail("omittedIssues", omitted).protocol(),
    }
}

/// Serializes `message` as a frame, replying to `correlation_id` if given.
pub(crate) fn encode<M: Message>(message: &M, correlation_id: Option<&str>) -> Result<String, Error> {
    let meta = OutMeta { correlation_id, ..OutMeta::default() };
    protocol::message_to_json(message, meta).map_err(|error| {
        tracing::error!(message_type = M::TYPE, %error, "failed to serialize an outbound message");
        Error::internal()
    })
}

pub(crate) fn encode_raw<P: Serialize + ?Sized>(
    ty: &str,
    payload: Option<&P>,
    correlation_id: Option<&str>,
) -> serde_json::Result<String> {
    // The server's meta holds only the correlation id it answers (PROTOCOL.md section 1).
    let meta = OutMeta { correlation_id, ..OutMeta::default() };
    OutFrame { ty, meta, payload }.to_json()
}

/// A published frame: `{"type","meta"?,"payload"?}`, `meta` omitted when empty.
#[derive(Serialize)]
struct PublishedFrame<'a, P> {
    #[serde(rename = "type")]
    ty: &'a str,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    meta: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a P>,
}

/// Serializes `message` as a frame published to a topic, with `meta` (omitted if empty).
pub(crate) fn encode_published<M: Message>(
    message: &M,
    meta: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, Error> {
    let frame = PublishedFrame { ty: M::TYPE, meta, payload: M::HAS_PAYLOAD.then_some(message) };
    serde_json::to_string(&frame).map_err(|error| {
        tracing::error!(message_type = M::TYPE, %error, "failed to serialize a published message");
        Error::internal()
    })
}

/// Serializes an error frame: `RPC_ERROR` when it ends an RPC request or answers a
/// correlation id, else `ERROR` (PROTOCOL.md section 3).
pub(crate) fn encode_error(error: &Error, correlation_id: Option<&str>, ends_request: bool) -> String {
    crate::observe::error_frame(error.code().as_str());
    let ty = if ends_request || correlation_id.is_some() { protocol::RPC_ERROR } else { protocol::ERROR };
    encode_raw(ty, Some(error), correlation_id).expect("error frames serialize")
}

/// A `$ws:rpc-progress` frame: the value under both `payload` (what ws-kit's server
/// writes) and `data` (what its client reads).
pub(crate) fn encode_progress<T: Serialize + ?Sized>(
    value: &T,
    correlation_id: Option<&str>,
) -> serde_json::Result<String> {
    let value = serde_json::value::to_raw_value(value)?;
    let meta = OutMeta { correlation_id, ..OutMeta::default() };
    let frame = OutFrame { ty: protocol::PROGRESS, meta, payload: Some(&*value) };
    let mut text = frame.to_json()?;
    // The frame ends with the payload's `}`: the same value goes under `data` too.
    text.pop();
    text.push_str(r#","data":"#);
    text.push_str(value.get());
    text.push('}');
    Ok(text)
}

/// The answer to `__heartbeat`: `{"type":"__heartbeat_ack","meta":{"ts":<ms>}}`.
pub(crate) fn heartbeat_ack(now_ms: u64) -> String {
    let ty = protocol::HEARTBEAT_ACK;
    format!(r#"{{"type":"{ty}","meta":{{"ts":{now_ms}}}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_type_and_keeps_payload_raw() {
        let text = r#"{"type":"JOIN","meta":{"timestamp":1,"correlationId":"c-1","clientId":"x","trace":"t"},"payload":{"roomId":"a"}}"#;
        let mut envelope = Envelope::parse(text).unwrap();
        assert!(matches!(envelope.ty, Cow::Borrowed("JOIN")));
        assert_eq!(envelope.payload.unwrap(), r#"{"roomId":"a"}"#);
        let (meta, extra) = envelope.meta().unwrap();
        assert_eq!(meta.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(meta.timestamp, Some(1.0));
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].0, "trace");
    }

    #[test]
    fn null_meta_and_payload_are_absent() {
        let mut envelope = Envelope::parse(r#"{"type":"A","meta":null,"payload":null}"#).unwrap();
        assert!(envelope.meta.is_none() && envelope.payload.is_none());
        assert_eq!(envelope.meta().unwrap().0, Meta::default());
    }

    #[test]
    fn rejects_what_is_not_an_envelope() {
        for bad in [
            "not json",
            "[1,2]",
            r#"["ECHO",null,{"text":"x"}]"#,
            " [\"A\"]",
            "42",
            r#"{"meta":{}}"#,
            r#"{"type":7}"#,
            r#"{"type":"A","extra":1}"#,
        ] {
            let error = Envelope::parse(bad).err().unwrap_or_else(|| panic!("accepted {bad}"));
            assert_eq!(error.code(), &crate::Code::InvalidArgument, "{bad}");
            assert!(error.is_protocol_error());
        }
    }

    #[test]
    fn rejects_a_malformed_correlation_id() {
        let mut envelope = Envelope::parse(r#"{"type":"A","meta":{"correlationId":5}}"#).unwrap();
        assert!(envelope.meta().is_err());
    }

    #[test]
    fn refuses_a_correlation_id_above_its_limit_without_keeping_it() {
        let max = Limits::MAX_CORRELATION_ID_BYTES;
        let at_limit = format!(r#"{{"type":"A","meta":{{"correlationId":"{}"}}}}"#, "c".repeat(max));
        let mut envelope = Envelope::parse(&at_limit).unwrap();
        assert_eq!(envelope.meta().unwrap().0.correlation_id.map(|id| id.len()), Some(max));

        let long = "c".repeat(1 << 20);
        let text = format!(r#"{{"type":"A","meta":{{"correlationId":"{long}"}},"x":1}}"#);
        let over = text.replacen(r#","x":1"#, "", 1);
        let error = Envelope::parse(&over).unwrap().meta().unwrap_err();
        let issues = &error.details().unwrap()["issues"];
        assert_eq!(issues[0]["path"], "meta.correlationId");
        assert!(issues[0]["message"].as_str().unwrap().contains(&format!("at most {max} bytes")));
        assert!(serde_json::to_string(&error).unwrap().len() < 1024);
        assert_eq!(salvage_correlation_id(&text), None, "a rejected frame's long id is not echoed either");
    }

    #[test]
    fn refuses_too_many_extra_meta_keys() {
        let keys = |n: usize| (0..n).map(|i| format!(r#""k{i}":1"#)).collect::<Vec<_>>().join(",");
        let frame = |n| format!(r#"{{"type":"A","meta":{{"correlationId":"c",{}}}}}"#, keys(n));
        let fits = frame(Limits::MAX_EXTRA_META_KEYS);
        assert_eq!(Envelope::parse(&fits).unwrap().meta().unwrap().1.len(), Limits::MAX_EXTRA_META_KEYS);
        let over = frame(Limits::MAX_EXTRA_META_KEYS + 1);
        let error = Envelope::parse(&over).unwrap().meta().unwrap_err();
        assert_eq!(error.code(), &crate::Code::InvalidArgument);
        assert!(error.message().contains("more than 32 keys"), "{}", error.message());
    }

    #[test]
    fn quotes_at_most_a_bounded_piece_of_client_input() {
        let huge = "T".repeat(1 << 20);
        let unknown = serde_json::to_string(&unknown_type(&huge)).unwrap();
        assert!(unknown.len() < 2 * Limits::MAX_ECHO_BYTES + 200, "{} bytes", unknown.len());

        let root_key = format!(r#"{{"type":"A","{huge}":1}}"#);
        let error = Envelope::parse(&root_key).err().unwrap();
        assert!(error.message().len() < Limits::MAX_ECHO_BYTES + 100, "{} bytes", error.message().len());

        #[derive(Deserialize, Debug)]
        struct Tags {
            #[allow(dead_code)]
            tags: std::collections::HashMap<String, u8>,
        }
        impl Validate for Tags {
            fn validate(&self, _: Path<'_>, _: &mut Issues) {}
        }
        let mut issues = Issues::default();
        let json = format!(r#"{{"tags":{{"{huge}":"{huge}"}}}}"#);
        assert!(deserialize::<Tags>(&json, Path::root("payload"), &mut issues).is_none());
        let issue = &issues.as_slice()[0];
        assert!(issue.path.starts_with("payload.tags.TTT") && issue.path.ends_with('…'), "{}", issue.path);
        assert!(issue.path.len() <= Limits::MAX_ECHO_BYTES + '…'.len_utf8());
        assert!(issue.message.len() <= Limits::MAX_ECHO_BYTES + '…'.len_utf8());
    }

    #[test]
    fn lists_a_bounded_number_of_issues_and_counts_the_rest() {
        let mut issues = Issues::default();
        for index in 0..100 {
            issues.push(Path::root("payload").index(index), "must not be empty");
        }
        let error = validation_error(issues);
        let details = error.details().unwrap();
        assert_eq!(details["issues"].as_array().unwrap().len(), Limits::MAX_ISSUES);
        assert_eq!(details["omittedIssues"], 100 - Limits::MAX_ISSUES);
        assert_eq!(error.message(), "100 validation issues");
    }

    #[test]
    fn salvages_the_correlation_id_of_a_rejected_frame() {
        assert_eq!(
            salvage_correlation_id(r#"{"type":"A","meta":{"correlationId":"c"},"x":1}"#).as_deref(),
            Some("c")
        );
        assert_eq!(
            salvage_correlation_id(r#"{"type":"A","meta":{"correlationId":"c","timestamp":"x"}}"#).as_deref(),
            Some("c")
        );
        assert_eq!(salvage_correlation_id(r#"{"type":"A","meta":{"correlationId":5}}"#), None);
        assert_eq!(salvage_correlation_id("not json"), None);
    }

    #[test]
    fn escaped_type_strings_are_unescaped() {
        let envelope = Envelope::parse(r#"{"type":"A\u0042"}"#).unwrap();
        assert_eq!(envelope.ty, "AB");
    }

    #[test]
    fn encodes_frames_and_error_frames() {
        assert_eq!(
            encode_raw("PONG", Some(&serde_json::json!({"n": 1})), Some("c")).unwrap(),
            r#"{"type":"PONG","meta":{"correlationId":"c"},"payload":{"n":1}}"#
        );
        assert_eq!(encode_raw::<()>("BYE", None, None).unwrap(), r#"{"type":"BYE","meta":{}}"#);
        let frame = encode_error(&Error::not_found("gone"), None, false);
        assert_eq!(
            frame,
            r#"{"type":"ERROR","meta":{},"payload":{"code":"NOT_FOUND","message":"gone","retryable":false}}"#
        );
        assert_eq!(
            encode_error(&Error::not_found("gone"), None, true),
            r#"{"type":"RPC_ERROR","meta":{},"payload":{"code":"NOT_FOUND","message":"gone","retryable":false}}"#
        );
        assert!(encode_error(&Error::not_found("gone"), Some("c"), false)
            .starts_with(r#"{"type":"RPC_ERROR","meta":{"correlationId":"c"}"#));
        assert_eq!(heartbeat_ack(5), r#"{"type":"__heartbeat_ack","meta":{"ts":5}}"#);
    }
}
