//! Which part of a storage error's text may be shown. object_store puts the whole HTTP
//! response body in its error message, and a cloud service's error body can repeat the request
//! it refused: S3's `SignatureDoesNotMatch` carries the canonical request, session token
//! included, in clear and as hex bytes; `ExpiredToken` carries the token; Azure's
//! `AuthenticationFailed` the string it signed. Tokens from instance roles or web identity are
//! never in walrs's environment, so removing known secret values cannot catch them. Of a body
//! only the service's error code and message are kept; a body that cannot be read as a
//! service error is left out whole.

/// How object_store introduces a response body: after an error status (followed by the status
/// and ": "), and for an error document in a successful response (S3 can answer 200 to a
/// multipart completion and then report the failure in the body).
const AFTER_STATUS: &str = "Server returned non-2xx status code: ";
const AFTER_SUCCESS: &str = "Server returned error response: ";
/// Service messages are a sentence or two; a longer one is not the kind worth showing whole.
const MAX_MESSAGE: usize = 400;

/// The text of a storage error, on one line, with any response body reduced to the service's
/// error code and message.
pub(crate) fn safe(text: &str) -> String {
    let found = [AFTER_STATUS, AFTER_SUCCESS].into_iter().filter_map(|m| text.find(m).map(|at| (at, m))).min();
    let Some((at, marker)) = found else { return one_line(text) };
    let rest = &text[at + marker.len()..];
    // object_store puts the body last in every message that holds one.
    let (head, body) = if marker == AFTER_STATUS {
        // "403 Forbidden: <body>"; reason phrases never hold ": ".
        match rest.split_once(": ") {
            Some((status, body)) => (format!("{}{status}", &text[..at + marker.len()]), body),
            None => (text.to_string(), ""),
        }
    } else {
        (text[..at + marker.len()].trim_end_matches([':', ' ']).to_string(), rest)
    };
    let body = body.trim_start_matches('\u{feff}').trim();
    let summary = if body.is_empty() {
        None
    } else {
        Some(service_error(body).unwrap_or_else(|| "(response body withheld)".to_string()))
    };
    match summary {
        Some(s) => one_line(&format!("{head}: {s}")),
        None => one_line(&head),
    }
}

/// "Code: message" from an XML (S3, Azure, GCS XML API) or JSON (GCS JSON API, OAuth token
/// endpoints) error document.
fn service_error(body: &str) -> Option<String> {
    let (code, message) = if body.starts_with('<') {
        (element(body, "Code"), element(body, "Message"))
    } else if body.starts_with('{') {
        json_error(body)?
    } else {
        return None;
    };
    // A code is one word; anything else in its place is not a service's error code.
    let code = code.filter(|c| {
        !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
    });
    let message = message.map(|m| one_line(&m)).filter(|m| !m.is_empty()).map(|m| {
        if m.chars().count() > MAX_MESSAGE {
            format!("{}…", m.chars().take(MAX_MESSAGE).collect::<String>())
        } else {
            m
        }
    });
    match (code, message) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c),
        (None, Some(m)) => Some(m),
        (None, None) => None,
    }
}

/// The text of the first `<name>` element, unescaped. Error documents are flat and escape `<`
/// in text, so the first match is the element itself, never text quoted inside another.
fn element(xml: &str, name: &str) -> Option<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(unescape(&xml[start..start + len]))
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let c = match &rest[1..end] {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                num => {
                    let n = match num.strip_prefix("#x").or_else(|| num.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(n)?
                }
            };
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Code and message of `{"error": {"status"|"errors"[0].reason|"code", "message"}}` (GCS) or
/// `{"error": "...", "error_description": "..."}` (OAuth).
fn json_error(body: &str) -> Option<(Option<String>, Option<String>)> {
    use serde_json::Value;
    let doc: Value = serde_json::from_str(body).ok()?;
    let text = |v: Option<&Value>| match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match doc.get("error")? {
        Value::String(code) => Some((Some(code.clone()), text(doc.get("error_description")))),
        err @ Value::Object(_) => {
            let code = text(err.get("status"))
                .or_else(|| text(err.pointer("/errors/0/reason")))
                .or_else(|| text(err.get("code")));
            Some((code, text(err.get("message"))))
        }
        _ => None,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session token from an instance role: never in walrs's environment, so only dropping
    /// the body can keep it out of messages.
    const TOKEN: &str =
        "IQoJb3JpZ2luX2VjEHoaCWV1LXdlc3QtMSJHMEUCIQDx7uJ3Yk+Lz9Gm0bq2w3T/8aVbF5kPd0nR1yQbT1sW4AIgZ3mNpQ==";
    const KEY_ID: &str = "ASIAZ3EXAMPLE7QK5XYZ";
    const PATH: &str = "pg/archive/000000010000000000000001.lz4";

    fn hex_bytes(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }

    /// object_store's message for a refused GET, around `body`.
    fn refused(status: &str, body: &str) -> String {
        format!(
            "The operation lacked the necessary privileges to complete for path {PATH}: Error performing GET \
             https://s3.eu-west-1.amazonaws.com/walrs-backups/{PATH} in 112.3ms - Server returned non-2xx status \
             code: {status}: {body}"
        )
    }

    fn canonical_request() -> String {
        format!(
            "GET\n/walrs-backups/{PATH}\n\nhost:s3.eu-west-1.amazonaws.com\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\
             x-amz-date:20250114T101500Z\nx-amz-security-token:{TOKEN}\n\n\
             host;x-amz-content-sha256;x-amz-date;x-amz-security-token\nUNSIGNED-PAYLOAD"
        )
    }

    const STRING_TO_SIGN: &str = "AWS4-HMAC-SHA256\n20250114T101500Z\n20250114/eu-west-1/s3/aws4_request\n\
                                  0f5a6c2b8e1d4f7a9b3c5e7d1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a";

    fn signature_does_not_match() -> String {
        let canonical = canonical_request();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The \
             request signature we calculated does not match the signature you provided. Check your key and signing \
             method.</Message><AWSAccessKeyId>{KEY_ID}</AWSAccessKeyId><StringToSign>{STRING_TO_SIGN}</StringToSign>\
             <SignatureProvided>3b1e0c5d7f9a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c</SignatureProvided>\
             <StringToSignBytes>{}</StringToSignBytes><CanonicalRequest>{canonical}</CanonicalRequest>\
             <CanonicalRequestBytes>{}</CanonicalRequestBytes><RequestId>4Q5V7ZJ3KXR0B2M1</RequestId>\
             <HostId>tXz0sM9bQ1cP3nKk5yR7wF2dL8hJ6gV4aE0uI3oY7tB1xN9mQ5sZ2cW8vD4fG6h=</HostId></Error>",
            hex_bytes(STRING_TO_SIGN),
            hex_bytes(&canonical)
        )
    }

    fn assert_one_line_without(shown: &str, hidden: &[&str]) {
        for h in hidden {
            assert!(!shown.contains(h), "shows {h:?}: {shown}");
        }
        assert!(!shown.contains(['\n', '\r']), "not one line: {shown:?}");
    }

    #[test]
    fn an_s3_signature_error_keeps_code_and_message_and_drops_the_request() {
        let shown = safe(&refused("403 Forbidden", &signature_does_not_match()));
        assert_eq!(
            shown,
            format!(
                "The operation lacked the necessary privileges to complete for path {PATH}: Error performing GET \
                 https://s3.eu-west-1.amazonaws.com/walrs-backups/{PATH} in 112.3ms - Server returned non-2xx \
                 status code: 403 Forbidden: SignatureDoesNotMatch: The request signature we calculated does not \
                 match the signature you provided. Check your key and signing method."
            )
        );
        let canonical = canonical_request();
        let (token_hex, canonical_hex) = (hex_bytes(&TOKEN[..12]), hex_bytes(&canonical[..40]));
        assert_one_line_without(
            &shown,
            &[
                TOKEN,
                &TOKEN[..20],
                &token_hex,
                &canonical_hex,
                KEY_ID,
                "x-amz-security-token",
                "AWS4-HMAC-SHA256",
                "CanonicalRequest",
                "StringToSign",
                "UNSIGNED-PAYLOAD",
            ],
        );
    }

    #[test]
    fn an_unknown_key_error_drops_the_key() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>The AWS \
             Access Key Id you provided does not exist in our records.</Message><AWSAccessKeyId>{KEY_ID}\
             </AWSAccessKeyId><RequestId>8B1C3D5E7F9A0B2C</RequestId><HostId>Zm9vYmFyYmF6cXV4</HostId></Error>"
        );
        let shown = safe(&refused("403 Forbidden", &body));
        assert!(
            shown.ends_with(
                "403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records."
            ),
            "{shown}"
        );
        assert_one_line_without(&shown, &[KEY_ID, "AWSAccessKeyId", "8B1C3D5E7F9A0B2C"]);
    }

    #[test]
    fn an_expired_token_error_drops_the_token() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ExpiredToken</Code><Message>The provided \
             token has expired.</Message><Token-0>{TOKEN}</Token-0><RequestId>9C2D4E6F8A0B1C3D</RequestId>\
             <HostId>YmF6cXV4Zm9vYmFy</HostId></Error>"
        );
        let shown = safe(&refused("400 Bad Request", &body));
        assert!(shown.ends_with("400 Bad Request: ExpiredToken: The provided token has expired."), "{shown}");
        assert_one_line_without(&shown, &[TOKEN, &TOKEN[..20], "Token-0"]);
    }

    #[test]
    fn access_denied_keeps_its_code_and_message() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access \
                    Denied</Message><RequestId>A1B2C3D4E5F6A7B8</RequestId><HostId>cXV4Zm9v</HostId></Error>";
        let shown = safe(&refused("403 Forbidden", body));
        assert!(shown.ends_with("403 Forbidden: AccessDenied: Access Denied"), "{shown}");
    }

    #[test]
    fn an_azure_authentication_error_drops_what_was_signed() {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>\
                    <Message>Server failed to authenticate the request. Make sure the value of Authorization header \
                    is formed correctly including the signature.\nRequestId:5e7a1c3b-701e-0042-2b1a-66f0a1000000\n\
                    Time:2025-01-14T10:15:00.1234567Z</Message><AuthenticationErrorDetail>The MAC signature found in \
                    the HTTP request 'q0VdHk2sSigFromTheClient9rT1=' is not the same as any computed signature. \
                    Server used following string to sign: 'GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Tue, 14 Jan 2025 \
                    10:15:00 GMT\nx-ms-version:2021-08-06\n/walrsaccount/backups\ncomp:list\nrestype:container'.\
                    </AuthenticationErrorDetail></Error>";
        let text = format!(
            "The operation lacked the necessary privileges to complete for path pg/archive/A: Error performing GET \
             https://walrsaccount.blob.core.windows.net/backups/pg/archive/A in 80ms - Server returned non-2xx \
             status code: 403 Forbidden: {body}"
        );
        let shown = safe(&text);
        assert!(
            shown.ends_with(
                "403 Forbidden: AuthenticationFailed: Server failed to authenticate the request. Make sure the value \
                 of Authorization header is formed correctly including the signature. \
                 RequestId:5e7a1c3b-701e-0042-2b1a-66f0a1000000 Time:2025-01-14T10:15:00.1234567Z"
            ),
            "{shown}"
        );
        assert_one_line_without(
            &shown,
            &["q0VdHk2sSigFromTheClient9rT1=", "string to sign", "x-ms-date", "MAC signature", "comp:list"],
        );
    }

    #[test]
    fn gcs_json_errors_keep_reason_and_message() {
        let body = r#"{"error":{"code":403,"message":"walrs@proj.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object.","errors":[{"message":"walrs@proj.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object.","domain":"global","reason":"forbidden","debugInfo":"x-goog-request-params: secret-ish"}]}}"#;
        let shown = safe(&refused("403 Forbidden", body));
        assert!(
            shown.ends_with(
                "403 Forbidden: forbidden: walrs@proj.iam.gserviceaccount.com does not have storage.objects.get \
                 access to the Google Cloud Storage object."
            ),
            "{shown}"
        );
        assert_one_line_without(&shown, &["debugInfo", "secret-ish"]);
        // A token endpoint answers in OAuth's shape.
        let body = r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature.","assertion":"eyJhbGciOi"}"#;
        let shown = safe(&format!("Error performing token request: Error performing POST https://oauth2.googleapis.com/token in 30ms - Server returned non-2xx status code: 400 Bad Request: {body}"));
        assert!(shown.ends_with("400 Bad Request: invalid_grant: Invalid JWT Signature."), "{shown}");
        assert_one_line_without(&shown, &["eyJhbGciOi"]);
    }

    #[test]
    fn gcs_xml_errors_drop_the_string_to_sign() {
        let body = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch</Code><Message>Access \
                    denied.</Message><Details>The request signature we calculated does not match the signature you \
                    provided.</Details><StringToSign>GOOG4-RSA-SHA256\n20250114T101500Z</StringToSign>\
                    <CanonicalRequest>GET\n/b/o\nx-goog-credential=walrs%40proj</CanonicalRequest></Error>";
        let shown = safe(&refused("403 Forbidden", body));
        assert!(shown.ends_with("403 Forbidden: SignatureDoesNotMatch: Access denied."), "{shown}");
        assert_one_line_without(&shown, &["GOOG4", "x-goog-credential", "walrs%40proj"]);
    }

    #[test]
    fn a_body_that_cannot_be_read_is_withheld() {
        for body in [
            "<html><head><title>502 Bad Gateway</title></head><body>upstream at 10.0.0.7 said no</body></html>",
            "upstream connect error or disconnect/reset before headers. token=abc",
            r#"{"detail":"something else"}"#,
            "<Error><Code>has spaces and <b>tags</b></Code></Error>",
        ] {
            let shown = safe(&refused("502 Bad Gateway", body));
            assert!(shown.ends_with("502 Bad Gateway: (response body withheld)"), "{body}: {shown}");
        }
    }

    #[test]
    fn an_empty_body_leaves_the_status() {
        let shown = safe(&refused("403 Forbidden", ""));
        assert!(shown.ends_with("status code: 403 Forbidden"), "{shown}");
    }

    #[test]
    fn an_error_in_a_successful_response_is_summarised_too() {
        let body = format!(
            "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try \
             again.</Message><Token-0>{TOKEN}</Token-0></Error>"
        );
        let shown = safe(&format!(
            "Error performing complete multipart request: {PATH}: Error performing POST https://h/{PATH} in 1s - \
             Server returned error response: {body}"
        ));
        assert!(
            shown.ends_with(
                "Server returned error response: InternalError: We encountered an internal error. Please try again."
            ),
            "{shown}"
        );
        assert_one_line_without(&shown, &[TOKEN]);
    }

    #[test]
    fn entities_are_decoded_and_long_messages_cut() {
        let body = "<Error><Code>InvalidArgument</Code><Message>Header &apos;x-amz-x&apos; &amp; &lt;more&gt; \
                    &#x41;&#66;</Message></Error>";
        let shown = safe(&refused("400 Bad Request", body));
        assert!(shown.ends_with("InvalidArgument: Header 'x-amz-x' & <more> AB"), "{shown}");
        let long = "a".repeat(2000);
        let shown =
            safe(&refused("400 Bad Request", &format!("<Error><Code>X</Code><Message>{long}</Message></Error>")));
        assert!(shown.len() < 900 && shown.ends_with('…'), "{shown}");
    }

    #[test]
    fn text_without_a_response_is_left_alone() {
        for text in [
            "Generic S3 error: Error performing GET http://127.0.0.1:1/b/k in 2ms - error sending request",
            "Object at location /tmp/r/k not found: No such file or directory (os error 2)",
            "Generic S3 error: Error performing GET http://h/b/k in 1ms - Received redirect without LOCATION, this \
             normally indicates an incorrectly configured region",
        ] {
            assert_eq!(safe(text), text);
        }
    }
}
