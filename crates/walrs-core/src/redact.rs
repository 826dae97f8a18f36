//! Taking secrets out of text before it is logged or shown: known secret values (from
//! [`crate::env::Env::secret_values`]) and the signature of any signed URL.

/// Remove every secret value from `text`, and the signature of any signed URL in it (a
/// pre-signed or SAS URL carries one even when its value is not a variable we know).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "<hidden>");
    }
    hide_signed_query_values(&out)
}

/// The forms a URL query value `value` (as written in a token) can take in a request URL:
/// encoded as the client encodes it, in upper and lower case hex, decoded, and as given.
pub fn url_value_forms(value: &str) -> [String; 4] {
    let decoded = percent_decode(value);
    let encoded = percent_encode(&decoded);
    [encoded.clone(), encoded.to_ascii_lowercase(), decoded, value.to_string()]
}

/// URL query parameters whose values authorize a request.
const SIGNED_PARAMS: &[&str] = &["sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature"];

fn hide_signed_query_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Each `?` or `&` starts a possible `name=value`; the value runs to the next `&`, blank or quote.
    while let Some(at) = rest.find(['?', '&']) {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let Some((name, tail)) = rest.split_once('=') else { continue };
        if name.len() > 32 || !SIGNED_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let end = tail.find(|c: char| c == '&' || c.is_whitespace() || "\"'<>)".contains(c)).unwrap_or(tail.len());
        out.push_str(name);
        out.push_str("=<hidden>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// As a query value is encoded in a URL: everything but unreserved characters as `%XX`.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_secret_values() {
        let secrets = vec!["AKIAEXAMPLE".to_string(), "abc".to_string()];
        assert_eq!(redact("key AKIAEXAMPLE refused, abc", &secrets), "key <hidden> refused, abc");
    }

    #[test]
    fn signed_url_parameters_are_hidden_even_when_unknown() {
        let out = redact("PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef&x-id=PutObject: 403", &[]);
        assert_eq!(out, "PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=<hidden>&x-id=PutObject: 403");
        let out = redact("GET http://h/c?restype=container&sig=abc\"x", &[]);
        assert_eq!(out, "GET http://h/c?restype=container&sig=<hidden>\"x");
        assert_eq!(redact("a & b ? c=d", &[]), "a & b ? c=d");
    }
}
