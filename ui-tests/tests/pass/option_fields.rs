//! Rules on `Option` fields check the value when it is present; `None` is omitted on the
//! wire, and a missing key or `null` reads as `None`.
#![deny(warnings)]

use wskit::message;
use wskit::validate::{Issues, Path, Validate};

#[message("PROFILE")]
pub struct Profile {
    #[validate(length(min = 1, max = 32))]
    pub nickname: Option<String>,
    #[validate(email)]
    pub email: Option<String>,
    #[validate(range(min = 13, max = 130))]
    pub age: Option<u8>,
    #[validate(url)]
    pub homepage: Option<String>,
    #[validate(non_empty, each(length(max = 10)))]
    pub tags: Option<Vec<String>>,
}

fn issues(profile: &Profile) -> Vec<String> {
    let mut issues = Issues::default();
    profile.validate(Path::root("payload"), &mut issues);
    issues.into_vec().into_iter().map(|issue| issue.path).collect()
}

fn main() {
    let empty = Profile { nickname: None, email: None, age: None, homepage: None, tags: None };
    assert!(issues(&empty).is_empty());
    let bad = Profile {
        nickname: Some(String::new()),
        email: Some("nope".into()),
        age: Some(7),
        homepage: Some("not a url".into()),
        tags: Some(vec!["much too long a tag".into()]),
    };
    assert_eq!(
        issues(&bad),
        ["payload.nickname", "payload.email", "payload.age", "payload.homepage", "payload.tags[0]"]
    );

    let some = Profile { age: Some(30), ..empty };
    assert_eq!(serde_json::to_string(&some).unwrap(), r#"{"age":30}"#);
    let read: Profile = serde_json::from_str(r#"{"nickname":null,"age":30}"#).unwrap();
    assert_eq!((read.nickname, read.age, read.tags), (None, Some(30), None));
}
