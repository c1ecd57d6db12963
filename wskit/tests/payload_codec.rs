//! The payloads `#[message]` reads and writes without serde: which structs get a reader
//! and a writer, that what the writer writes is byte for byte what serde writes, and that
//! what the reader reads serde reads the same (anything else it leaves to serde), and the
//! message's type as a JSON string.

use wskit::{message, Message};

#[message("CHAT")]
#[derive(Debug, PartialEq)]
struct Chat {
    room_id: String,
    text: String,
    count: u32,
    delta: i64,
    ratio: f64,
    scale: f32,
    flag: bool,
    note: Option<String>,
    seq: Option<u64>,
    #[serde(rename = "x-id")]
    renamed: std::string::String,
    #[serde(alias = "older")]
    newer: u8,
}

#[message("SNAKE", rename_all = "snake_case")]
#[derive(Debug, PartialEq)]
struct Snake {
    room_id: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[message("EMPTY_OBJECT")]
#[derive(Debug, PartialEq)]
struct EmptyObject {}

#[message("NESTED")]
struct Nested {
    tags: Vec<String>,
}

#[message("SKIPS")]
struct Skips {
    #[serde(skip_serializing_if = "String::is_empty")]
    text: String,
}

#[message("UNIT")]
struct Unit;

#[message("QUOTE\"BACK\\SLASH_É")]
struct Odd;

/// The payload as the message's writer writes it, if it has one.
fn written<M: Message>(message: &M) -> Option<String> {
    let mut out = String::new();
    message.write_payload(&mut out).then_some(out)
}

/// Written as serde writes it; read back by the reader, if it reads it, as it was.
#[track_caller]
fn agrees<M: Message + PartialEq + std::fmt::Debug>(message: &M) {
    let serde = serde_json::to_string(message).unwrap();
    assert_eq!(written(message).as_deref(), Some(serde.as_str()));
    match M::read_payload(&serde) {
        Some(read) => assert_eq!(&read, message, "{serde}"),
        // Left to serde: escapes, `null` for a number, an integer beyond 15 digits.
        None => assert!(
            serde.contains('\\') || serde.contains(":null") || serde.contains("9223372036854775808"),
            "{serde}"
        ),
    }
}

/// What the reader reads from `json`, checked against serde: if it reads a message, serde
/// reads the same one.
#[track_caller]
fn read<M: Message + PartialEq + std::fmt::Debug>(json: &str) -> Option<M> {
    let read = M::read_payload(json);
    if let Some(message) = &read {
        assert_eq!(&serde_json::from_str::<M>(json).unwrap(), message, "{json}");
    }
    read
}

fn chat(text: &str, ratio: f64, note: Option<&str>, seq: Option<u64>) -> Chat {
    Chat {
        room_id: "général".into(),
        text: text.into(),
        count: u32::MAX,
        delta: i64::MIN,
        ratio,
        scale: ratio as f32,
        flag: seq.is_some(),
        note: note.map(str::to_owned),
        seq,
        renamed: "r".into(),
        newer: 7,
    }
}

#[test]
fn plain_structs_are_written_as_serde_writes_them() {
    for text in ["hello world", "", "quo\"te \\ new\nline \t \u{1} \u{1f} \u{7f}", "😀 ✓ é"] {
        for ratio in [0.0, -1.5, 0.1 + 0.2, 1e300, 5e-324, f64::NAN, f64::INFINITY] {
            agrees(&chat(text, ratio, Some(text), Some(u64::MAX)));
            agrees(&chat(text, ratio, None, None));
            agrees(&chat(text, ratio, Some(text), None));
        }
    }
    agrees(&Snake { room_id: "a".into(), limit: Some(3) });
    agrees(&Snake { room_id: "a".into(), limit: None });
    agrees(&EmptyObject {});
}

#[test]
fn keys_are_the_wire_names() {
    let written = written(&chat("t", 1.0, None, Some(2))).unwrap();
    assert!(written.starts_with(r#"{"roomId":"général","text":"t","count":4294967295,"#), "{written}");
    assert!(written.ends_with(r#""flag":true,"seq":2,"x-id":"r","newer":7}"#), "{written}");
    let snake = self::written(&Snake { room_id: "a".into(), limit: None }).unwrap();
    assert_eq!(snake, r#"{"room_id":"a"}"#);
}

#[test]
fn the_reader_takes_the_forms_clients_send() {
    let snake = |limit| Some(Snake { room_id: "général".into(), limit });
    assert_eq!(read::<Snake>(r#"{"room_id":"général","limit":3}"#), snake(Some(3)));
    assert_eq!(read::<Snake>(" {\n\t\"limit\" : null ,\r \"room_id\":\"général\" } "), snake(None));
    assert_eq!(read::<Snake>(r#"{"room_id":"général"}"#), snake(None));
    assert_eq!(read::<EmptyObject>("{}"), Some(EmptyObject {}));
    let chat = r#"{"roomId":"r","text":"t","count":0,"delta":-12,"ratio":1.5e3,"scale":-0.25,"flag":false,
        "note":null,"seq":999999999999999,"x-id":"x","newer":255}"#;
    let chat = read::<Chat>(chat).unwrap();
    assert_eq!(
        (chat.delta, chat.ratio, chat.scale, chat.note, chat.seq),
        (-12, 1500.0, -0.25, None, Some(999_999_999_999_999))
    );
}

#[test]
fn the_reader_leaves_the_rest_to_serde() {
    for json in [
        // Escapes, which serde unescapes.
        r#"{"room_id":"a\"b"}"#,
        r#"{"room_id":"\u00e9"}"#,
        // Keys that serde refuses: unknown, twice, or an alias.
        r#"{"room_id":"a","other":1}"#,
        r#"{"room_id":"a","room_id":"b"}"#,
        // Keys that only start or end like a field's, or spell it with an escape.
        r#"{"room_idx":"a"}"#,
        r#"{"room_i":"a"}"#,
        r#"{"room_id\"":"a"}"#,
        r#"{"room\u005fid":"a"}"#,
        // A missing field serde reports.
        r#"{"limit":1}"#,
        // Numbers serde reads otherwise or refuses: a float, `-0`, out of range, too long.
        r#"{"room_id":"a","limit":1.0}"#,
        r#"{"room_id":"a","limit":-0}"#,
        r#"{"room_id":"a","limit":-1}"#,
        r#"{"room_id":"a","limit":1234567890123456}"#,
        r#"{"room_id":"a","limit":01}"#,
        // Types serde refuses, and text that is not one object.
        r#"{"room_id":null}"#,
        r#"{"room_id":1}"#,
        r#"{"room_id":"a"} x"#,
        r#"{"room_id":"a""#,
        r#"["a"]"#,
        "{\"room_id\":\"a\u{1}\"}",
    ] {
        assert_eq!(read::<Snake>(json), None, "{json}");
    }
    for json in [r#"{"ratio":1e400}"#, r#"{"newer":256}"#, r#"{"flag":nul}"#, r#"{"older":1}"#] {
        assert_eq!(read::<Chat>(json), None, "{json}");
    }
}

#[test]
fn the_type_is_a_json_string_as_serde_writes_it() {
    for (json, ty) in
        [(Chat::JSON_TYPE, Chat::TYPE), (Unit::JSON_TYPE, Unit::TYPE), (Odd::JSON_TYPE, Odd::TYPE)]
    {
        assert_eq!(json, Some(serde_json::to_string(ty).unwrap().as_str()));
    }
    assert_eq!(Odd::TYPE, "QUOTE\"BACK\\SLASH_É");
}

#[test]
fn other_structs_are_left_to_serde() {
    assert_eq!(written(&Nested { tags: vec!["a".into()] }), None);
    assert_eq!(written(&Skips { text: String::new() }), None);
    assert_eq!(written(&Unit), None);
    assert_eq!(Nested::read_payload(r#"{"tags":["a"]}"#).map(|nested| nested.tags), None);
    assert_eq!(Skips::read_payload(r#"{"text":"a"}"#).map(|skips| skips.text), None);
}
