//! [`MessageTypes`]: the message types a router handles, readable at compile time, so that
//! a type handled twice (in one router or across merged ones) is a compile error.

use std::fmt;

/// The message types a [`Router`](crate::Router) handles, in handler order, and which
/// `#[router]` impl handles each: [`Router::TYPES`](crate::Router::TYPES).
///
/// A merged router's list is the first router's followed by the second's. The list is
/// read by compile-time checks and by tests; dispatch never walks it.
///
/// ```
/// # use wskit::{message, router, Ctx, Error, Router};
/// # #[message("PING")] pub struct Ping;
/// # #[message("LOGIN")] pub struct Login;
/// # pub struct Chat;
/// # #[router] impl Chat { #[on] async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
/// # pub struct Auth;
/// # #[router] impl Auth { #[on] async fn login(&self, _: &mut Ctx<()>, _: Login) -> Result<(), Error> { Ok(()) } }
/// assert_eq!(<Chat as Router>::TYPES, ["PING"]);
/// let app = Chat.merge(Auth);
/// # fn types_of<R: Router>(_: &R) -> &'static wskit::MessageTypes { R::TYPES }
/// assert_eq!(types_of(&app), ["PING", "LOGIN"]);
/// assert_eq!(types_of(&app).router_of("LOGIN"), Some("Auth"));
/// ```
pub struct MessageTypes {
    node: Node,
}

enum Node {
    /// One `#[router]` impl: its name and, for each handler, the type string and the
    /// message's Rust type as written.
    Router { name: &'static str, types: &'static [&'static str], messages: &'static [&'static str] },
    /// A merge: the first router's types, then the second's.
    Merge(&'static MessageTypes, &'static MessageTypes),
}

impl MessageTypes {
    /// The types of the `#[router]` impl `name`, with the Rust names of their messages
    /// (`messages[i]` declares `types[i]`). Used by the code `#[router]` generates.
    #[doc(hidden)]
    pub const fn router(
        name: &'static str,
        types: &'static [&'static str],
        messages: &'static [&'static str],
    ) -> Self {
        MessageTypes { node: Node::Router { name, types, messages } }
    }

    /// The types of `first`, then those of `second`.
    pub(crate) const fn merge(first: &'static MessageTypes, second: &'static MessageTypes) -> Self {
        MessageTypes { node: Node::Merge(first, second) }
    }

    /// How many types there are.
    pub const fn len(&self) -> usize {
        match self.node {
            Node::Router { types, .. } => types.len(),
            Node::Merge(first, second) => first.len() + second.len(),
        }
    }

    /// Whether the router handles no type at all.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `index`th type, with the name of its router and of its message's Rust type.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`len`](Self::len).
    const fn entry(&self, index: usize) -> Entry {
        match self.node {
            Node::Router { name, types, messages } => {
                Entry { ty: types[index], router: name, message: messages[index] }
            }
            Node::Merge(first, _) if index < first.len() => first.entry(index),
            Node::Merge(first, second) => second.entry(index - first.len()),
        }
    }

    /// The `index`th type string, or `None` past the end.
    pub const fn get(&self, index: usize) -> Option<&'static str> {
        match index < self.len() {
            true => Some(self.entry(index).ty),
            false => None,
        }
    }

    /// The type strings, in handler order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..self.len()).map(|index| self.entry(index).ty)
    }

    /// The name of the `#[router]` impl that handles `message_type`, if one does.
    pub fn router_of(&self, message_type: &str) -> Option<&'static str> {
        (0..self.len())
            .map(|index| self.entry(index))
            .find(|entry| entry.ty == message_type)
            .map(|e| e.router)
    }

    /// The router's own copy of `message_type`, if it handles it.
    pub(crate) fn find(&self, message_type: &str) -> Option<&'static str> {
        self.iter().find(|ty| *ty == message_type)
    }
}

/// One handled type.
#[derive(Clone, Copy)]
struct Entry {
    ty: &'static str,
    router: &'static str,
    message: &'static str,
}

impl fmt::Debug for MessageTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for MessageTypes {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for &MessageTypes {
    fn eq(&self, other: &[&str; N]) -> bool {
        **self == *other
    }
}

/// Whether the `index`th type of `types` equals one before it: `#[router]`'s check that each
/// handler's message has its own type string.
pub const fn repeats_earlier(types: &MessageTypes, index: usize) -> bool {
    let ty = types.entry(index).ty;
    let mut earlier = 0;
    while earlier < index {
        if same(types.entry(earlier).ty, ty) {
            return true;
        }
        earlier += 1;
    }
    false
}

/// Fails the build when `first` and `second` share a type: a merged router routes each
/// type to exactly one handler. Evaluated when a merge is compiled (`Router::merge`).
pub(crate) const fn assert_disjoint(first: &MessageTypes, second: &MessageTypes) {
    let mut i = 0;
    while i < second.len() {
        let theirs = second.entry(i);
        let mut j = 0;
        while j < first.len() {
            let ours = first.entry(j);
            if same(ours.ty, theirs.ty) {
                let message = Text::new()
                    .push("routers `")
                    .push(ours.router)
                    .push("` and `")
                    .push(theirs.router)
                    .push("` both handle the message type \"")
                    .push(ours.ty)
                    .push("\" (`")
                    .push(ours.message)
                    .push("` in `")
                    .push(ours.router)
                    .push("`, `")
                    .push(theirs.message)
                    .push("` in `")
                    .push(theirs.router)
                    .push("`); a merged router routes each message type to exactly one handler: ")
                    .push("remove the handler from one of the two routers");
                panic!("{}", message.as_str());
            }
            j += 1;
        }
        i += 1;
    }
}

/// Byte equality of two strings, in a `const fn`.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A compile-time error message built from pieces, in a fixed buffer (`format!` is not
/// available in a `const fn`). A piece that does not fit is left out whole, so the text
/// stays UTF-8.
struct Text {
    bytes: [u8; Text::CAPACITY],
    len: usize,
}

impl Text {
    const CAPACITY: usize = 1024;

    const fn new() -> Self {
        Text { bytes: [0; Text::CAPACITY], len: 0 }
    }

    const fn push(mut self, piece: &str) -> Self {
        let piece = piece.as_bytes();
        if self.len + piece.len() > Text::CAPACITY {
            return self;
        }
        let mut i = 0;
        while i < piece.len() {
            self.bytes[self.len + i] = piece[i];
            i += 1;
        }
        self.len += piece.len();
        self
    }

    const fn as_str(&self) -> &str {
        match std::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "two merged routers handle the same message type",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: MessageTypes = MessageTypes::router("Chat", &["PING", "SAY"], &["Ping", "Say"]);
    const AUTH: MessageTypes = MessageTypes::router("Auth", &["LOGIN"], &["Login"]);
    const APP: MessageTypes = MessageTypes::merge(&CHAT, &AUTH);

    #[test]
    fn lists_merged_types_in_merge_order() {
        assert_eq!(APP, ["PING", "SAY", "LOGIN"]);
        assert_eq!(APP.len(), 3);
        assert_eq!(APP.get(2), Some("LOGIN"));
        assert_eq!(APP.get(3), None);
        assert_eq!(APP.router_of("SAY"), Some("Chat"));
        assert_eq!(APP.router_of("LOGIN"), Some("Auth"));
        assert_eq!(APP.find("NOPE"), None);
        assert_eq!(format!("{APP:?}"), r#"["PING", "SAY", "LOGIN"]"#);
    }

    #[test]
    fn finds_repeated_types() {
        let types = MessageTypes::router("App", &["A", "B", "A"], &["A", "B", "C"]);
        assert!(!repeats_earlier(&types, 0));
        assert!(!repeats_earlier(&types, 1));
        assert!(repeats_earlier(&types, 2));
    }

    #[test]
    fn names_both_routers_of_a_shared_type() {
        assert_disjoint(&CHAT, &AUTH);
        let other = MessageTypes::router("Other", &["SAY"], &["Speak"]);
        let panic = std::panic::catch_unwind(|| assert_disjoint(&CHAT, &other)).unwrap_err();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(
            message,
            "routers `Chat` and `Other` both handle the message type \"SAY\" (`Say` in `Chat`, \
             `Speak` in `Other`); a merged router routes each message type to exactly one \
             handler: remove the handler from one of the two routers"
        );
    }
}
