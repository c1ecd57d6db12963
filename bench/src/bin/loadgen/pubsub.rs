//! The frames of the `wskit_pubsub` bench server, shared by `fanout` and `latency`.

/// `SUBSCRIBE {topic}`, as a client sends it.
pub(crate) fn subscribe(topic: &str) -> String {
    format!(r#"{{"type":"SUBSCRIBE","payload":{{"topic":"{topic}"}}}}"#)
}

/// The server's answer to [`subscribe`], once the subscription is in place.
pub(crate) fn subscribed(topic: &str) -> String {
    format!(r#"{{"type":"SUBSCRIBED","meta":{{}},"payload":{{"topic":"{topic}"}}}}"#)
}

/// `PUBLISH {topic, text}`, as a client sends it.
pub(crate) fn publish(topic: &str, text: &str) -> String {
    format!(r#"{{"type":"PUBLISH","payload":{{"topic":"{topic}","text":"{text}"}}}}"#)
}

/// What every subscriber receives for [`publish`].
pub(crate) fn news(text: &str) -> String {
    format!(r#"{{"type":"NEWS","payload":{{"text":"{text}"}}}}"#)
}
