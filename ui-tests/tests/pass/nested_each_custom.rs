//! `nested`, `each(..)` and `custom = ..` rules, with paths into nested values and items.
#![deny(warnings)]

use std::collections::BTreeSet;
use wskit::validate::{Issues, Path, Validate};
use wskit::{message, payload};

#[payload]
pub struct Point {
    #[validate(range(min = -90.0, max = 90.0))]
    pub lat: f64,
    #[validate(range(min = -180.0, max = 180.0))]
    pub lon: f64,
}

#[payload]
pub struct Stop {
    #[validate(length(min = 1))]
    pub name: String,
    #[validate(nested)]
    pub at: Point,
}

mod checks {
    pub(crate) fn even(value: &u32) -> Result<(), String> {
        if value.is_multiple_of(2) {
            Ok(())
        } else {
            Err(format!("{value} is odd"))
        }
    }

    /// The error borrows from the value.
    pub(crate) fn lowercase(value: &str) -> Result<(), &str> {
        if value.chars().all(|c| !c.is_uppercase()) {
            Ok(())
        } else {
            Err("must be lowercase")
        }
    }
}

#[message("ROUTE")]
pub struct Route {
    #[validate(nested)]
    pub start: Point,
    #[validate(non_empty, each(nested))]
    pub stops: Vec<Stop>,
    #[validate(each(length(max = 8), custom = checks::lowercase))]
    pub tags: BTreeSet<String>,
    #[validate(custom = checks::even)]
    pub seats: u32,
    #[validate(each(range(max = 10)))]
    pub ratings: Vec<u8>,
}

fn main() {
    let route = Route {
        start: Point { lat: 100.0, lon: 0.0 },
        stops: vec![
            Stop { name: "a".into(), at: Point { lat: 0.0, lon: 0.0 } },
            Stop { name: String::new(), at: Point { lat: 0.0, lon: 200.0 } },
        ],
        tags: ["ok".to_owned(), "Shouting".to_owned()].into_iter().collect(),
        seats: 3,
        ratings: vec![3, 11],
    };
    let mut issues = Issues::default();
    route.validate(Path::root("payload"), &mut issues);
    let paths: Vec<_> = issues.as_slice().iter().map(|issue| issue.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "payload.start.lat",
            "payload.stops[1].name",
            "payload.stops[1].at.lon",
            "payload.tags[0]",
            "payload.seats",
            "payload.ratings[1]",
        ]
    );
}
