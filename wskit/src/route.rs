//! [`Route`]: the upgrade path, with `:name` parameters (`/rooms/:room`).

/// A path pattern of `/`-separated segments; a segment `:name` matches any one non-empty
/// segment and captures it.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pattern: String,
}

impl Route {
    pub(crate) fn new(pattern: impl Into<String>) -> Self {
        let mut pattern = pattern.into();
        if !pattern.starts_with('/') {
            pattern.insert(0, '/');
        }
        Route { pattern }
    }

    /// The captured parameters if `path` matches, in pattern order.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        let mut pattern = self.pattern.split('/');
        let mut segments = path.split('/');
        loop {
            match (pattern.next(), segments.next()) {
                (None, None) => return Some(params),
                (Some(expected), Some(segment)) => match expected.strip_prefix(':') {
                    Some(name) if !segment.is_empty() => {
                        params.push((name.to_owned(), percent_decode(segment)?));
                    }
                    Some(_) => return None,
                    None if expected == segment => {}
                    None => return None,
                },
                _ => return None,
            }
        }
    }
}

/// Decodes `%XX` escapes of a path segment; `None` if they do not form UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn matches_literal_and_parameter_segments() {
        let route = Route::new("/rooms/:room/ws");
        assert_eq!(
            route.matches("/rooms/gen%20eral/ws"),
            Some(vec![("room".to_owned(), "gen eral".to_owned())])
        );
        assert_eq!(route.matches("/rooms//ws"), None);
        assert_eq!(route.matches("/rooms/a/ws/extra"), None);
        assert_eq!(route.matches("/rooms/a"), None);
        assert_eq!(Route::new("ws").matches("/ws"), Some(vec![]));
        assert_eq!(Route::new("/").matches("/"), Some(vec![]));
        assert_eq!(Route::new("/r/:id").matches("/r/%ff"), None);
    }
}
