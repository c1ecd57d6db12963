//! Structs read only from JSON objects.
//!
//! serde's derived `Deserialize` also reads a struct from an array of its fields in
//! order (`["general", 10]` for `{ roomId, limit }`); the wire contract (PROTOCOL.md
//! section 1) allows objects only, at every depth of a declared struct. `#[message]` and
//! `#[payload]` therefore derive serde's impls under `#[serde(remote = "Self")]`, which
//! makes them inherent functions, and implement `Deserialize` through [`deserialize`]
//! here, which asks the format for a map and nothing else.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// A struct whose serde-derived deserialization is available under another name.
pub trait Derived<'de>: Sized {
    /// The derived deserialization, which accepts a map or a sequence.
    fn derived<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

/// Deserializes `T` from a map only; any other value is an "invalid type" error.
pub fn deserialize<'de, T: Derived<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_map(ObjectOnly(PhantomData))
}

struct ObjectOnly<T>(PhantomData<T>);

impl<'de, T: Derived<'de>> Visitor<'de> for ObjectOnly<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::derived(MapAccessDeserializer::new(map))
    }
}
