//! A field's own `#[serde(rename = "..")]` wins over `rename_all`, on the wire and in paths.
#![deny(warnings)]

use wskit::message;
use wskit::validate::{Issues, Path, Validate};

#[message("SAY")]
pub struct Say {
    #[serde(rename = "msg")]
    #[validate(length(min = 1))]
    pub text: String,
    #[validate(length(max = 3))]
    #[serde(rename = "r")]
    pub r#room: String,
    #[serde(default)]
    pub loud: bool,
}

fn main() {
    let say: Say = serde_json::from_str(r#"{"msg":"","r":"lobby"}"#).unwrap();
    assert!(!say.loud);
    let mut issues = Issues::default();
    say.validate(Path::root("payload"), &mut issues);
    let paths: Vec<_> = issues.as_slice().iter().map(|issue| issue.path.as_str()).collect();
    assert_eq!(paths, ["payload.msg", "payload.r"]);
    assert_eq!(serde_json::to_string(&say).unwrap(), r#"{"msg":"","r":"lobby","loud":false}"#);
}
