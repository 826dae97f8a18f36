//! What an HTTP error from a cloud store says, read from its text: `object_store` keeps the
//! status and body in a private type, and shows them only in the message ("Server returned
//! non-2xx status code: 404 Not Found: <Error><Code>NoSuchBucket</Code>…").

/// The message of `e` and every cause under it.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push('\n');
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The HTTP status a cloud store answered with, if the error came from one.
pub fn status(e: &object_store::Error) -> Option<u16> {
    let text = chain_text(e);
    let at = text.find("status code: ")? + "status code: ".len();
    text.get(at..at + 3)?.parse().ok()
}

/// Whether the error says the bucket (S3, GCS) or container (Azure) itself does not exist.
pub fn is_missing_bucket(e: &object_store::Error) -> bool {
    let text = chain_text(e);
    ["NoSuchBucket", "ContainerNotFound", "The specified bucket does not exist"].iter().any(|m| text.contains(m))
}

/// Whether a client error (4xx) means the same request will fail again: all but "timeout" (408)
/// and "too many requests" (429).
pub fn is_permanent_client_error(e: &object_store::Error) -> bool {
    status(e).is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(text: &str) -> object_store::Error {
        object_store::Error::Generic { store: "S3", source: text.to_string().into() }
    }

    #[test]
    fn reads_status_and_missing_buckets() {
        let e = generic("Error performing GET http://h/b - Server returned non-2xx status code: 404 Not Found: <Error><Code>NoSuchBucket</Code></Error>");
        assert_eq!(status(&e), Some(404));
        assert!(is_missing_bucket(&e));
        assert!(is_permanent_client_error(&e));
        let e = generic("Server returned non-2xx status code: 429 Too Many Requests: slow down");
        assert!(!is_permanent_client_error(&e));
        let e = generic("Server returned non-2xx status code: 400 Bad Request: <Code>EntityTooSmall</Code>");
        assert!(is_permanent_client_error(&e) && !is_missing_bucket(&e));
        let e = generic("error sending request: connection refused");
        assert_eq!(status(&e), None);
        assert!(!is_permanent_client_error(&e));
    }
}
