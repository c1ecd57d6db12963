//! `rename_all` changes the wire names, and validation paths follow them.
#![deny(warnings)]

use wskit::message;
use wskit::validate::{Issues, Path, Validate};

#[message("JOIN_ROOM", rename_all = "snake_case")]
pub struct JoinRoom {
    #[validate(length(min = 1))]
    pub room_id: String,
    pub display_name: Option<String>,
}

#[message("KEBAB", rename_all = "kebab-case")]
pub struct Kebab {
    #[validate(range(max = 3))]
    pub retry_count: u8,
}

#[message("CAMEL")]
pub struct Camel {
    #[validate(non_empty)]
    pub room_id: String,
}

fn first_path(value: &impl Validate) -> String {
    let mut issues = Issues::default();
    value.validate(Path::root("payload"), &mut issues);
    issues.into_vec().remove(0).path
}

fn main() {
    let join = JoinRoom { room_id: String::new(), display_name: None };
    assert_eq!(serde_json::to_string(&join).unwrap(), r#"{"room_id":""}"#);
    let named = JoinRoom { room_id: "r".into(), display_name: Some("Ann".into()) };
    assert_eq!(serde_json::to_string(&named).unwrap(), r#"{"room_id":"r","display_name":"Ann"}"#);
    assert_eq!(first_path(&join), "payload.room_id");
    assert_eq!(first_path(&Kebab { retry_count: 4 }), "payload.retry-count");
    assert_eq!(first_path(&Camel { room_id: String::new() }), "payload.roomId");
    assert!(serde_json::from_str::<JoinRoom>(r#"{"roomId":"x"}"#).is_err());
}
