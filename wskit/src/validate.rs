//! Validation: the [`Validate`] trait that `#[message]` implements from `#[validate(...)]`
//! field rules, and the [`Path`] and [`Issues`] it reports through.
//!
//! A type can implement [`Validate`] by hand (`#[message("TYPE", validate = manual)]`) to
//! plug in another validation crate; it reports problems with [`Issues::push`].

use serde::Serialize;
use std::fmt;

/// Checks a decoded value and reports every problem it finds.
///
/// ```
/// use wskit::validate::{Issues, Path, Validate};
///
/// struct Range { from: u32, to: u32 }
///
/// impl Validate for Range {
///     fn validate(&self, at: Path<'_>, issues: &mut Issues) {
///         if self.from > self.to {
///             issues.push(at.field("from"), "must not be above `to`");
///         }
///     }
/// }
///
/// let mut issues = Issues::default();
/// Range { from: 3, to: 1 }.validate(Path::root("payload"), &mut issues);
/// assert_eq!(issues.as_slice()[0].path, "payload.from");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be validated",
    label = "does not implement `wskit::Validate`",
    note = "mark the type with #[wskit::payload] (or #[wskit::message]), or implement `wskit::Validate` by hand"
)]
pub trait Validate {
    /// Reports the problems of `self`, located under `at`, into `issues`.
    fn validate(&self, at: Path<'_>, issues: &mut Issues);
}

/// Where a value sits in a frame, e.g. `payload.items[2].name`.
///
/// A path is a chain of borrowed segments on the stack: building one allocates nothing,
/// and it is only turned into a string when an issue is reported.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    /// The top of a path: `"payload"` or `"meta"`.
    pub const fn root(name: &'a str) -> Self {
        Path { parent: None, segment: Segment::Key(name) }
    }

    /// The path of field `name` inside this value.
    pub fn field<'b>(&'b self, name: &'b str) -> Path<'b> {
        Path { parent: Some(self), segment: Segment::Key(name) }
    }

    /// The path of item `index` inside this collection.
    pub fn index(&self, index: usize) -> Path<'_> {
        Path { parent: Some(self), segment: Segment::Index(index) }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            fmt::Display::fmt(parent, f)?;
        }
        match self.segment {
            Segment::Key(key) if self.parent.is_none() => f.write_str(key),
            Segment::Key(key) => write!(f, ".{key}"),
            Segment::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl fmt::Debug for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

/// One validation problem: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The location, e.g. `payload.text`.
    pub path: String,
    /// What is wrong, e.g. `must be at most 500 characters long`.
    pub message: String,
}

/// The problems found while validating one frame: the first
/// [`Limits::MAX_ISSUES`](crate::Limits::MAX_ISSUES) of them, and how many more there were.
/// A collection whose every item fails a rule would otherwise make the error frame many
/// times larger than the frame it answers.
#[derive(Debug, Default, Clone)]
pub struct Issues {
    issues: Vec<Issue>,
    omitted: usize,
}

impl Issues {
    /// Reports a problem at `at`.
    pub fn push(&mut self, at: Path<'_>, message: impl fmt::Display) {
        if self.has_room() {
            self.issues.push(Issue { path: at.to_string(), message: message.to_string() });
        }
    }

    /// Reports a problem at a path already rendered, e.g. by serde.
    pub(crate) fn push_at(&mut self, path: String, message: String) {
        if self.has_room() {
            self.issues.push(Issue { path, message });
        }
    }

    /// Whether another issue is kept; counts it as omitted if not.
    fn has_room(&mut self) -> bool {
        let room = self.issues.len() < crate::Limits::MAX_ISSUES;
        self.omitted += usize::from(!room);
        room
    }

    /// Whether no problem was reported.
    pub fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }

    /// The problems kept, in the order they were reported.
    pub fn as_slice(&self) -> &[Issue] {
        &self.issues
    }

    /// How many problems were reported beyond those kept.
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// Takes the problems out.
    pub fn into_vec(self) -> Vec<Issue> {
        self.issues
    }
}

/// The functions the `#[validate(...)]` rules expand to. Each is bounded by a trait whose
/// diagnostic explains which field types the rule fits.
#[doc(hidden)]
pub mod rules {
    use super::{Issues, Path, Validate};
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
    use std::fmt::Display;

    /// A value with a length: strings (in characters) and collections (in items).
    #[diagnostic::on_unimplemented(
        message = "`length` and `non_empty` cannot measure `{Self}`",
        label = "this rule needs a string or a collection",
        note = "`length` counts the characters of a string or the items of a collection; for numbers use `range(min = .., max = ..)`"
    )]
    pub trait HasLength {
        /// The length: characters for strings, items for collections.
        fn length(&self) -> usize;
    }

    impl HasLength for String {
        fn length(&self) -> usize {
            self.chars().count()
        }
    }
    impl HasLength for str {
        fn length(&self) -> usize {
            self.chars().count()
        }
    }
    impl HasLength for Box<str> {
        fn length(&self) -> usize {
            self.chars().count()
        }
    }
    impl<T: HasLength + ?Sized> HasLength for &T {
        fn length(&self) -> usize {
            (**self).length()
        }
    }
    macro_rules! collection_length {
        ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {
            $(impl<$($generics)*> HasLength for $ty {
                fn length(&self) -> usize {
                    self.len()
                }
            })*
        };
    }
    collection_length! {
        Vec<T> => [T], [T] => [T], VecDeque<T> => [T], BTreeSet<T> => [T],
        HashSet<T, S> => [T, S], BTreeMap<K, V> => [K, V], HashMap<K, V, S> => [K, V, S],
    }

    /// A number, for `range`.
    #[diagnostic::on_unimplemented(
        message = "`range` cannot compare `{Self}`",
        label = "`range` needs a number",
        note = "`range(min = .., max = ..)` bounds integers and floats; for strings and collections use `length(min = .., max = ..)`"
    )]
    pub trait Number: PartialOrd + Display {}
    macro_rules! numbers {
        ($($ty:ty),*) => { $(impl Number for $ty {})* };
    }
    numbers!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

    /// Text, for `email`, `url`, `uuid` and `pattern`.
    #[diagnostic::on_unimplemented(
        message = "this rule checks text, and `{Self}` is not text",
        label = "`email`, `url`, `uuid` and `pattern` need a `String` field",
        note = "put the rule on a `String` (or `Option<String>`) field"
    )]
    pub trait Text {
        /// The text to check.
        fn text(&self) -> &str;
    }
    impl Text for String {
        fn text(&self) -> &str {
            self
        }
    }
    impl Text for str {
        fn text(&self) -> &str {
            self
        }
    }
    impl Text for Box<str> {
        fn text(&self) -> &str {
            self
        }
    }
    impl<T: Text + ?Sized> Text for &T {
        fn text(&self) -> &str {
            (**self).text()
        }
    }

    /// A collection whose items `each(..)` checks.
    #[diagnostic::on_unimplemented(
        message = "`each` cannot iterate over `{Self}`",
        label = "`each(..)` needs a list or a set",
        note = "`each(..)` applies its rules to every item of a `Vec`, slice, `VecDeque` or set"
    )]
    pub trait Items {
        /// The item type.
        type Item;
        /// The items, in order.
        fn items(&self) -> impl Iterator<Item = &Self::Item>;
    }
    macro_rules! items {
        ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {
            $(impl<$($generics)*> Items for $ty {
                type Item = T;
                fn items(&self) -> impl Iterator<Item = &T> {
                    self.iter()
                }
            })*
        };
    }
    items! { Vec<T> => [T], [T] => [T], VecDeque<T> => [T], BTreeSet<T> => [T], HashSet<T, S> => [T, S] }

    /// Checks a length against `min` and `max`.
    pub fn length<T: HasLength + ?Sized>(
        value: &T,
        min: Option<usize>,
        max: Option<usize>,
        at: Path<'_>,
        issues: &mut Issues,
    ) {
        let length = value.length();
        if let Some(min) = min.filter(|min| length < *min) {
            issues.push(at, format_args!("must have a length of at least {min} (it has {length})"));
        } else if let Some(max) = max.filter(|max| length > *max) {
            issues.push(at, format_args!("must have a length of at most {max} (it has {length})"));
        }
    }

    /// Checks a number against `min` and `max`.
    pub fn range<T: Number>(value: &T, min: Option<T>, max: Option<T>, at: Path<'_>, issues: &mut Issues) {
        if let Some(min) = min.filter(|min| value < min) {
            issues.push(at, format_args!("must be at least {min} (it is {value})"));
        } else if let Some(max) = max.filter(|max| value > max) {
            issues.push(at, format_args!("must be at most {max} (it is {value})"));
        }
    }

    /// Checks that a string or collection is not empty.
    pub fn non_empty<T: HasLength + ?Sized>(value: &T, at: Path<'_>, issues: &mut Issues) {
        if value.length() == 0 {
            issues.push(at, "must not be empty");
        }
    }

    /// Checks an email address: one `@` with a non-empty local part and a dotted domain.
    pub fn email<T: Text + ?Sized>(value: &T, at: Path<'_>, issues: &mut Issues) {
        if !is_email(value.text()) {
            issues.push(at, "must be an email address");
        }
    }

    fn is_email(text: &str) -> bool {
        let Some((local, domain)) = text.split_once('@') else { return false };
        let label_ok = |label: &str| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@')
            && domain.contains('.')
            && domain.split('.').all(label_ok)
    }

    /// Checks an absolute URL.
    pub fn url<T: Text + ?Sized>(value: &T, at: Path<'_>, issues: &mut Issues) {
        if url::Url::parse(value.text()).is_err() {
            issues.push(at, "must be an absolute URL");
        }
    }

    /// Checks a UUID in its hyphenated or simple form.
    pub fn uuid<T: Text + ?Sized>(value: &T, at: Path<'_>, issues: &mut Issues) {
        if uuid::Uuid::try_parse(value.text()).is_err() {
            issues.push(at, "must be a UUID");
        }
    }

    /// Checks text against a regular expression.
    pub fn pattern<T: Text + ?Sized>(value: &T, pattern: &regex::Regex, at: Path<'_>, issues: &mut Issues) {
        if !pattern.is_match(value.text()) {
            issues.push(at, format_args!("must match the pattern {}", pattern.as_str()));
        }
    }

    /// Validates a nested value.
    pub fn nested<T: Validate + ?Sized>(value: &T, at: Path<'_>, issues: &mut Issues) {
        value.validate(at, issues);
    }

    /// The items of a collection, for `each(..)`.
    pub fn items<C: Items + ?Sized>(collection: &C) -> impl Iterator<Item = &C::Item> {
        collection.items()
    }

    /// What a `custom = function` validator returns: `Result<(), E>` with `E: Display`.
    #[diagnostic::on_unimplemented(
        message = "a `custom` validator returns `Result<(), E>` with `E: Display`, not `{Self}`",
        label = "expected `fn(&T) -> Result<(), E>`",
        note = "return `Err(message)` to report a problem with the field, `Ok(())` otherwise"
    )]
    pub trait CustomOutcome {
        /// The problem reported with the field.
        type Error: Display;

        /// The outcome as a result.
        fn into_result(self) -> Result<(), Self::Error>;
    }

    impl<E: Display> CustomOutcome for Result<(), E> {
        type Error = E;

        fn into_result(self) -> Self {
            self
        }
    }

    /// Reports the outcome of a `custom = function` rule.
    pub fn custom<O: CustomOutcome>(outcome: O, at: Path<'_>, issues: &mut Issues) {
        if let Err(problem) = outcome.into_result() {
            issues.push(at, problem);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn check(rule: impl FnOnce(Path<'_>, &mut Issues)) -> Vec<String> {
            let mut issues = Issues::default();
            rule(Path::root("payload").field("x"), &mut issues);
            issues.into_vec().into_iter().map(|issue| format!("{}: {}", issue.path, issue.message)).collect()
        }

        #[test]
        fn length_counts_characters_and_items() {
            assert!(check(|at, i| length("héllo", Some(5), Some(5), at, i)).is_empty());
            assert_eq!(
                check(|at, i| length(&vec![1, 2, 3], None, Some(2), at, i)),
                ["payload.x: must have a length of at most 2 (it has 3)"]
            );
        }

        #[test]
        fn emails() {
            for good in ["a@b.co", "first.last+tag@sub.example.org"] {
                assert!(is_email(good), "{good}");
            }
            for bad in ["", "a", "a@b", "@b.co", "a@.co", "a b@c.de", "a@b@c.de", "a@-b.co"] {
                assert!(!is_email(bad), "{bad}");
            }
        }

        #[test]
        fn paths_render_fields_and_indexes() {
            let root = Path::root("payload");
            let items = root.field("items");
            let second = items.index(1);
            assert_eq!(second.field("name").to_string(), "payload.items[1].name");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_issues_and_counts_the_rest() {
        let mut issues = Issues::default();
        let items = Path::root("payload");
        let items = items.field("tags");
        for index in 0..crate::Limits::MAX_ISSUES + 5 {
            issues.push(items.index(index), "must not be empty");
        }
        issues.push_at("payload.x".into(), "too long".into());
        assert_eq!(issues.as_slice().len(), crate::Limits::MAX_ISSUES);
        assert_eq!(issues.as_slice()[0].path, "payload.tags[0]");
        assert_eq!(issues.omitted(), 6);
    }
}
