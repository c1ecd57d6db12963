//! [`TopicRules`]: which topic names are valid, and how many one connection may hold.

use crate::error::Error;
use regex::Regex;

/// Topic names starting with this are the server's own (the Redis bus carries sends to a
/// user's connections on them), whatever the pattern allows.
pub(crate) const RESERVED_PREFIX: &str = "$";

/// The rules topic names and subscriptions follow.
///
/// Defaults (PROTOCOL.md section 6): names match `^[A-Za-z0-9:_./-]{1,128}$`, and a
/// connection holds at most 1000 subscriptions. Names starting with `$` are reserved for
/// the server, whatever the pattern.
///
/// ```
/// use wskit::TopicRules;
///
/// let rules = TopicRules::default().max_per_connection(10);
/// assert!(rules.check("room:general").is_ok());
/// assert!(rules.check("has space").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct TopicRules {
    pattern: Regex,
    max_length: usize,
    max_per_connection: usize,
}

impl Default for TopicRules {
    fn default() -> Self {
        TopicRules {
            pattern: Regex::new("^[A-Za-z0-9:_./-]+$").expect("the default topic pattern is valid"),
            max_length: 128,
            max_per_connection: 1000,
        }
    }
}

impl TopicRules {
    /// The pattern every topic name must match (anchor it with `^…$`). Fails if the
    /// pattern is not a valid regular expression.
    pub fn pattern(mut self, pattern: &str) -> Result<Self, regex::Error> {
        self.pattern = Regex::new(pattern)?;
        Ok(self)
    }

    /// The longest topic name, in bytes (default 128).
    pub fn max_length(mut self, bytes: usize) -> Self {
        self.max_length = bytes;
        self
    }

    /// How many topics one connection may subscribe to (default 1000).
    pub fn max_per_connection(mut self, topics: usize) -> Self {
        self.max_per_connection = topics;
        self
    }

    /// Checks a topic name: INVALID_ARGUMENT with `details.reason` `length` (with
    /// `length` and `max`) or `pattern` (with `topic`), as ws-kit reports them.
    pub fn check(&self, topic: &str) -> Result<(), Error> {
        if topic.len() > self.max_length {
            return Err(Error::invalid_argument(format!(
                "topic names are at most {} bytes long; this one has {}",
                self.max_length,
                topic.len()
            ))
            .with_detail("reason", "length")
            .with_detail("length", topic.len())
            .with_detail("max", self.max_length));
        }
        if topic.starts_with(RESERVED_PREFIX) {
            return Err(Error::invalid_argument(format!(
                "topic `{topic}` starts with `{RESERVED_PREFIX}`, which is reserved for the server's own channels"
            ))
            .with_detail("reason", "pattern")
            .with_detail("topic", topic));
        }
        if topic.is_empty() || !self.pattern.is_match(topic) {
            return Err(Error::invalid_argument(format!(
                "topic `{topic}` does not match the pattern {}",
                self.pattern.as_str()
            ))
            .with_detail("reason", "pattern")
            .with_detail("topic", topic));
        }
        Ok(())
    }

    pub(crate) fn limit(&self) -> usize {
        self.max_per_connection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<(), Error>) -> String {
        result.unwrap_err().details().unwrap()["reason"].as_str().unwrap().to_owned()
    }

    #[test]
    fn default_rules_follow_the_protocol() {
        let rules = TopicRules::default();
        for good in ["a", "room:general", "user/42", "a.b-c_d", &"x".repeat(128)] {
            assert!(rules.check(good).is_ok(), "{good}");
        }
        assert_eq!(reason(rules.check("")), "pattern");
        assert_eq!(reason(rules.check(&"x".repeat(129))), "length");
        assert_eq!(reason(rules.check("a b")), "pattern");
        assert_eq!(reason(rules.check("é")), "pattern");
    }
}
