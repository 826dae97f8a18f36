//! What a store that refuses a request may put in walrs's error messages. Cloud error bodies
//! can repeat the refused request, session token included; walrs must show the service's code
//! and message and nothing else of the body, whether or not it knows the secret.
#![allow(clippy::unwrap_used)] // a test: a panic is its failure report

mod support;

use support::slow_http::{Behaviour, SlowServer};
use walrs_core::env::Env;
use walrs_core::storage::{Location, Storage};

/// A session token walrs was never given: instance roles and web identity hand it to the client
/// inside the process, so no variable holds it and redacting known values cannot find it.
const TOKEN: &str = "IQoJb3JpZ2luX2VjEHoaCWV1LXdlc3QtMSJHMEUCIQDx7uJ3Yk+Lz9Gm0bq2w3T/8aVbF5kPd0nR1yQbT1sW4AIgZ3mNpQ==";
const KEY_ID: &str = "ASIAZ3EXAMPLE7QK5XYZ";

use support::quick_policy as quick;

fn hex_bytes(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn canonical_request() -> String {
    format!(
        "GET\n/walrs-test/pg/wal_005/000000010000000000000001.lz4\n\nhost:127.0.0.1\n\
         x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20250114T101500Z\nx-amz-security-token:{TOKEN}\n\n\
         host;x-amz-content-sha256;x-amz-date;x-amz-security-token\nUNSIGNED-PAYLOAD"
    )
}

fn signature_does_not_match() -> String {
    let to_sign = "AWS4-HMAC-SHA256\n20250114T101500Z\n20250114/us-east-1/s3/aws4_request\n\
                   0f5a6c2b8e1d4f7a9b3c5e7d1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a";
    let canonical = canonical_request();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request \
         signature we calculated does not match the signature you provided. Check your key and signing \
         method.</Message><AWSAccessKeyId>{KEY_ID}</AWSAccessKeyId><StringToSign>{to_sign}</StringToSign>\
         <SignatureProvided>3b1e0c5d7f9a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c</SignatureProvided>\
         <StringToSignBytes>{}</StringToSignBytes><CanonicalRequest>{canonical}</CanonicalRequest>\
         <CanonicalRequestBytes>{}</CanonicalRequestBytes><RequestId>4Q5V7ZJ3KXR0B2M1</RequestId>\
         <HostId>tXz0sM9bQ1cP3nKk5yR7wF2dL8hJ6gV4aE0uI3oY7tB1xN9mQ5sZ2cW8vD4fG6h=</HostId></Error>",
        hex_bytes(to_sign),
        hex_bytes(&canonical)
    )
}

fn assert_hides_the_request(message: &str) {
    let canonical = canonical_request();
    let hidden = [
        TOKEN.to_string(),
        TOKEN[..24].to_string(),
        hex_bytes(&TOKEN[..12]),
        hex_bytes(&canonical[..40]),
        KEY_ID.to_string(),
        "x-amz-security-token".to_string(),
        "AWS4-HMAC-SHA256".to_string(),
        "CanonicalRequest".to_string(),
    ];
    for h in hidden {
        assert!(!message.contains(&h), "the error shows {h:?}: {message}");
    }
    assert!(!message.contains('\n'), "the error should be one line: {message:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_signature_error_keeps_its_code_and_hides_the_request() {
    let server =
        SlowServer::start(signature_does_not_match().into_bytes(), Behaviour::Refuse { status: "403 Forbidden" }).await;
    let env = Env::new(
        [
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", server.port)),
            ("AWS_ACCESS_KEY_ID", "walrs-test-key-id".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "s3-secret-that-must-not-leak".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    let storage = Storage::open_with_policy(&Location::parse("s3://walrs-test/pg").unwrap(), &env, quick()).unwrap();
    let err = storage.get("wal_005/000000010000000000000001.lz4").await.unwrap_err();
    let message = &err.message;
    assert!(message.contains("wal_005/000000010000000000000001.lz4"), "{message}");
    assert!(message.contains("403 Forbidden"), "{message}");
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    assert!(message.contains("does not match the signature you provided"), "{message}");
    assert_hides_the_request(message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_authentication_error_keeps_its_code_and_hides_what_was_signed() {
    let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server \
                failed to authenticate the request. Make sure the value of Authorization header is formed correctly \
                including the signature.\nRequestId:5e7a1c3b-701e-0042-2b1a-66f0a1000000\nTime:2025-01-14T10:15:00.1234567Z\
                </Message><AuthenticationErrorDetail>The MAC signature found in the HTTP request \
                'q0VdHk2sSigFromTheClient9rT1=' is not the same as any computed signature. Server used following string \
                to sign: 'GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Tue, 14 Jan 2025 10:15:00 GMT\nx-ms-version:2021-08-06\n\
                /devstoreaccount1/walrs-test/pg/wal_005/A'.</AuthenticationErrorDetail></Error>";
    let server = SlowServer::start(body.as_bytes().to_vec(), Behaviour::Refuse { status: "403 Forbidden" }).await;
    let env = Env::new(
        [
            ("AZURE_STORAGE_ACCOUNT", "devstoreaccount1".to_string()),
            ("AZURE_STORAGE_ENDPOINT", format!("http://127.0.0.1:{}/devstoreaccount1", server.port)),
            ("AZURE_STORAGE_ACCESS_KEY", "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGtleQ==".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    let storage = Storage::open_with_policy(&Location::parse("azure://walrs-test/pg").unwrap(), &env, quick()).unwrap();
    let err = storage.get("wal_005/A").await.unwrap_err();
    let message = &err.message;
    assert!(message.contains("AuthenticationFailed"), "{message}");
    assert!(message.contains("Server failed to authenticate the request"), "{message}");
    for h in ["q0VdHk2sSigFromTheClient9rT1=", "string to sign", "x-ms-date", "MAC signature"] {
        assert!(!message.contains(h), "the error shows {h:?}: {message}");
    }
    assert!(!message.contains('\n'), "the error should be one line: {message:?}");
}
