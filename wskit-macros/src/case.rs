//! Field renaming rules, the same as serde's `rename_all`, so that validation paths name
//! the wire field (`payload.roomId`) rather than the Rust one.

/// A `rename_all` rule.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Camel,
    Snake,
    Pascal,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
    Lower,
    Upper,
}

impl RenameRule {
    /// The rule names serde accepts, in the order error messages list them.
    pub(crate) const NAMES: &'static [(&'static str, RenameRule)] = &[
        ("camelCase", RenameRule::Camel),
        ("snake_case", RenameRule::Snake),
        ("PascalCase", RenameRule::Pascal),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
        ("kebab-case", RenameRule::Kebab),
        ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
        ("lowercase", RenameRule::Lower),
        ("UPPERCASE", RenameRule::Upper),
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, rule)| *rule)
    }

    pub(crate) fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, rule)| *rule == self).map(|(n, _)| *n).unwrap_or_default()
    }

    /// Renames a snake_case Rust field name the way serde does.
    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            RenameRule::Snake => field.to_owned(),
            RenameRule::Lower => field.to_ascii_lowercase(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
            RenameRule::Pascal => pascal(field),
            RenameRule::Camel => {
                let pascal = pascal(field);
                let mut chars = pascal.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        }
    }
}

fn pascal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut capitalize = true;
    for ch in field.chars() {
        if ch == '_' {
            capitalize = true;
        } else if capitalize {
            out.push(ch.to_ascii_uppercase());
            capitalize = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::RenameRule;

    #[test]
    fn renames_like_serde() {
        assert_eq!(RenameRule::Camel.apply("room_id"), "roomId");
        assert_eq!(RenameRule::Camel.apply("text"), "text");
        assert_eq!(RenameRule::Pascal.apply("room_id"), "RoomId");
        assert_eq!(RenameRule::Kebab.apply("room_id"), "room-id");
        assert_eq!(RenameRule::ScreamingSnake.apply("room_id"), "ROOM_ID");
        assert_eq!(RenameRule::from_name("snake_case").unwrap().name(), "snake_case");
    }
}
