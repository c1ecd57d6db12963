//! The negotiation of permessage-deflate (RFC 7692 section 7.1): read the client's offers
//! in `Sec-WebSocket-Extensions`, take the first one the server can honour, and answer it.

use super::{Agreed, Deflate};
use crate::server::handshake::is_token;
use http::header::{self, HeaderMap, HeaderValue};

const EXTENSION: &str = "permessage-deflate";

/// The window the server compresses with: miniz_oxide's, which is fixed.
const OWN_WINDOW_BITS: u8 = 15;

/// The parameters of one acceptable offer.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
}

/// What the server agrees to for a request with `headers`, and the
/// `Sec-WebSocket-Extensions` value that says so; `None` when deflate is disabled or no
/// offer is acceptable.
pub(crate) fn negotiate(headers: &HeaderMap, config: &Deflate) -> Option<(Agreed, HeaderValue)> {
    if !config.enabled {
        return None;
    }
    let offer = headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(split_unquoted(','))
        .find_map(parse_offer)?;
    let window = offer.server_max_window_bits.unwrap_or(OWN_WINDOW_BITS);
    // Our compressor's window is 32 KiB: a smaller one can be honoured only by compressing
    // each message on its own, and only messages that fit the window.
    let agreed = Agreed {
        server_no_context_takeover: offer.server_no_context_takeover
            || !config.context_takeover
            || window < OWN_WINDOW_BITS,
        client_no_context_takeover: offer.client_no_context_takeover,
        server_max_window_bits: window,
        threshold: config.threshold,
    };
    let mut answer = String::from(EXTENSION);
    if agreed.server_no_context_takeover {
        answer.push_str("; server_no_context_takeover");
    }
    if agreed.client_no_context_takeover {
        answer.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = offer.server_max_window_bits {
        answer.push_str(&format!("; server_max_window_bits={bits}"));
    }
    let answer = HeaderValue::from_str(&answer).expect("tokens and digits are a valid header value");
    Some((agreed, answer))
}

/// The offer in one element of the extension list, if it is a valid permessage-deflate
/// offer: parameters it does not know, repeats and invalid values decline it.
fn parse_offer(element: &str) -> Option<Offer> {
    let mut parts = split_unquoted(';')(element);
    if !parts.next()?.eq_ignore_ascii_case(EXTENSION) {
        return None;
    }
    let mut offer = Offer::default();
    let mut seen = [false; 4];
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim_end(), Some(unquote(value.trim_start())?)),
            None => (param, None),
        };
        let index = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => {
                offer.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" if value.is_none() => {
                offer.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                offer.server_max_window_bits = Some(window_bits(&value?)?);
                2
            }
            // Checked, never answered: the server's inflater takes any window, so it
            // does not ask the client for a smaller one.
            "client_max_window_bits" => {
                if let Some(value) = value {
                    window_bits(&value)?;
                }
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
    }
    Some(offer)
}

/// A window size of 8 to 15 bits, written as RFC 7692 writes it (no leading zero).
fn window_bits(value: &str) -> Option<u8> {
    let bits: u8 = value.parse().ok()?;
    ((8..=15).contains(&bits) && !value.starts_with(['0', '+'])).then_some(bits)
}

/// A parameter's value: a token, or a quoted string whose content is a token (RFC 7692
/// section 7.1).
fn unquote(value: &str) -> Option<String> {
    let token = match value.strip_prefix('"') {
        Some(quoted) => {
            let body = quoted.strip_suffix('"')?;
            let mut text = String::with_capacity(body.len());
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                text.push(if c == '\\' { chars.next()? } else { c });
            }
            text
        }
        None => value.to_owned(),
    };
    is_token(&token).then_some(token)
}

/// Splits at `separator` outside quoted strings, trimming each part: a quoted value may
/// hold the separators.
fn split_unquoted(separator: char) -> impl Fn(&str) -> std::vec::IntoIter<&str> {
    move |text| {
        let mut parts = Vec::new();
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (at, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    parts.push(text[start..at].trim());
                    start = at + 1;
                }
                _ => {}
            }
        }
        parts.push(text[start..].trim());
        parts.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::SEC_WEBSOCKET_EXTENSIONS, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn answer(values: &[&str]) -> Option<String> {
        negotiate(&offered(values), &Deflate::enabled())
            .map(|(_, answer)| answer.to_str().unwrap().to_owned())
    }

    #[test]
    fn accepts_what_browsers_offer() {
        let (agreed, answer) =
            negotiate(&offered(&["permessage-deflate; client_max_window_bits"]), &Deflate::enabled())
                .unwrap();
        assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
        let expected = Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            threshold: Deflate::DEFAULT_THRESHOLD,
        };
        assert_eq!(agreed, expected);
    }

    #[test]
    fn answers_the_parameters_offered() {
        assert_eq!(
            answer(&["permessage-deflate; client_no_context_takeover; server_max_window_bits=10"]).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"
        );
        assert_eq!(
            answer(&[r#"permessage-deflate; server_max_window_bits="12"; client_max_window_bits="9""#])
                .unwrap(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"
        );
    }

    #[test]
    fn keeps_its_context_only_when_configured_and_the_window_allows() {
        let config = Deflate::enabled().server_context_takeover(true);
        let agreed = |value| negotiate(&offered(&[value]), &config).unwrap().0;
        assert!(!agreed("permessage-deflate").server_no_context_takeover);
        assert!(agreed("permessage-deflate; server_no_context_takeover").server_no_context_takeover);
        assert!(agreed("permessage-deflate; server_max_window_bits=14").server_no_context_takeover);
        assert!(!agreed("permessage-deflate; server_max_window_bits=15").server_no_context_takeover);
    }

    #[test]
    fn takes_the_first_acceptable_of_several_offers() {
        let first_invalid =
            "permessage-deflate; server_max_window_bits=16, permessage-deflate; client_no_context_takeover";
        assert_eq!(
            answer(&[first_invalid]).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(
            answer(&[
                "x-other; a=\"1,2\"",
                "permessage-deflate; server_max_window_bits=9, permessage-deflate"
            ])
            .unwrap(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
        );
    }

    #[test]
    fn declines_invalid_offers() {
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; mystery",
            "permessage-deflate; server_max_window_bits=\"1 0\"",
            "permessage-deflate; server_max_window_bits=\"10",
            "x-webkit-deflate-frame",
            "",
        ] {
            assert_eq!(answer(&[offer]), None, "{offer}");
        }
    }

    #[test]
    fn a_disabled_server_declines() {
        assert!(negotiate(&offered(&["permessage-deflate"]), &Deflate::default()).is_none());
        assert!(negotiate(&HeaderMap::new(), &Deflate::enabled()).is_none());
    }
}
