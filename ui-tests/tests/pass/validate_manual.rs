//! `validate = manual`: the type implements `wskit::Validate` by hand.
#![deny(warnings)]

use wskit::validate::{Issues, Path, Validate};
use wskit::{message, payload};

#[message("BOOK", validate = manual)]
pub struct Book {
    pub from: u32,
    pub to: u32,
}

impl Validate for Book {
    fn validate(&self, at: Path<'_>, issues: &mut Issues) {
        if self.from > self.to {
            issues.push(at.field("from"), "must not be after `to`");
        }
    }
}

#[payload(validate = manual)]
pub struct Window {
    pub width: u32,
}

impl Validate for Window {
    fn validate(&self, at: Path<'_>, issues: &mut Issues) {
        if self.width == 0 {
            issues.push(at.field("width"), "must not be zero");
        }
    }
}

#[message("RESIZE")]
pub struct Resize {
    #[validate(nested)]
    pub window: Window,
}

fn main() {
    let mut issues = Issues::default();
    Book { from: 3, to: 1 }.validate(Path::root("payload"), &mut issues);
    Resize { window: Window { width: 0 } }.validate(Path::root("payload"), &mut issues);
    let paths: Vec<_> = issues.as_slice().iter().map(|issue| issue.path.as_str()).collect();
    assert_eq!(paths, ["payload.from", "payload.window.width"]);
}
