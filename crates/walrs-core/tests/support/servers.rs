//! Real storage servers for tests: moto (S3, and the XML API of Google Cloud Storage) and
//! Azurite (Azure Blob), started through
//! `scripts/test-server.sh` (the same script the end-to-end harness and shell use), on a free
//! port of 127.0.0.1 in 41000-41999, and stopped when the [`Server`] is dropped.
//!
//! A missing server binary fails the test with a message saying how to install it: a test that
//! quietly skips cannot fail. To leave them out, filter them by name (`cargo test -- --skip s3
//! --skip azure`), which the test runner counts as filtered out.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use walrs_core::env::Env;
use walrs_core::storage::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    S3,
    /// moto again, reached through the `gs://` client.
    Gs,
    Azure,
}

impl Kind {
    /// The script's name for it, which is also the URL scheme.
    pub fn name(self) -> &'static str {
        match self {
            Kind::S3 => "s3",
            Kind::Gs => "gs",
            Kind::Azure => "azure",
        }
    }
}

/// The bucket (S3, GCS) or container (Azure) every server starts with.
pub const BUCKET: &str = "walrs-test";

pub struct Server {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-server.sh")
}

/// A port in 41000-41999 that nothing listens on now. Each call in this process gets a
/// different one, so tests running in parallel do not race each other for it.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(37);
    for _ in 0..1000 {
        let port = 41000 + (base.wrapping_add(NEXT.fetch_add(1, Ordering::SeqCst)) % 1000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 41000-41999 on 127.0.0.1");
}

impl Server {
    /// Start a server. Panics (fails the test) when the server cannot start, with the script's
    /// explanation.
    pub fn start(kind: Kind, test: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let out = Command::new("bash")
                .arg(script())
                .args(["start", kind.name(), &port.to_string()])
                .arg(dir.path())
                .arg(BUCKET)
                .env("WALRS_TEST_SERVER_OWNER", std::process::id().to_string())
                .output()
                .expect("cannot run scripts/test-server.sh");
            match out.status.code() {
                Some(0) => return Server { kind, port, dir },
                Some(3) => continue, // someone took the port meanwhile: try another
                _ => panic!(
                    "{test}: cannot start the {} test server:\n{}\n(install the servers with \
                     scripts/install-test-servers.sh)",
                    kind.name(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            }
        }
        panic!("{test}: no free port for the {} test server after 5 tries", kind.name());
    }

    /// The env_dir the script wrote (endpoint and credentials), read as production reads one.
    pub fn env_dir(&self) -> PathBuf {
        self.dir.path().join(format!("{}.env", self.kind.name()))
    }

    /// The environment walrs would have with this server's env_dir.
    pub fn env(&self) -> Env {
        Self::read_env(&self.env_dir())
    }

    /// For Azure: the environment with a SAS token in place of the account key.
    pub fn sas_env(&self) -> Env {
        assert_eq!(self.kind, Kind::Azure);
        Self::read_env(&self.dir.path().join("azure-sas.env"))
    }

    fn read_env(dir: &std::path::Path) -> Env {
        let read = walrs_core::envdir::read(dir, "test env_dir").unwrap();
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        Env::new(read.vars)
    }

    /// The repository URL for `prefix` in the server's bucket, parsed as production parses it.
    pub fn location(&self, prefix: &str) -> Location {
        Location::parse(&format!("{}://{BUCKET}/{prefix}", self.kind.name())).unwrap()
    }

    /// Start or stop moto's request recorder (`start-recording`, `stop-recording`).
    pub fn moto_recorder(&self, action: &str) {
        use std::io::{Read, Write};
        assert_ne!(self.kind, Kind::Azure, "the recorder is moto's");
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            conn,
            "POST /moto-api/recorder/{action} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "moto's recorder did not {action}: {answer}");
    }

    /// The requests moto recorded (method, URL, headers), one JSON object each.
    pub fn moto_recording(&self) -> Vec<serde_json::Value> {
        let path = self.dir.path().join("moto-recording.jsonl");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{}.log", self.kind.name()))).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let stopped = Command::new("bash").arg(script()).args(["stop", self.kind.name()]).arg(self.dir.path()).status();
        if !stopped.is_ok_and(|s| s.success()) {
            eprintln!(
                "could not stop the {} test server (pid file in {})",
                self.kind.name(),
                self.dir.path().display()
            );
        }
    }
}
