//! Real storage protocol servers for scenarios: moto (S3, and Google Cloud Storage's XML API as
//! `gs`) and Azurite (Azure Blob), started by
//! `scripts/test-server.sh` on 127.0.0.1 and stopped on drop; and a TCP relay to take an
//! endpoint away and bring it back with the server's data intact (both keep data in memory), or
//! to hold back the requests that name one object, as a slow store would.

use super::{chown_postgres, run, Workdir};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-server.sh")
}

pub struct StorageServer {
    pub kind: &'static str,
    pub port: u16,
    dir: PathBuf,
}

impl StorageServer {
    /// Start `kind` (`s3`, `gs` or `azure`) with bucket/container `walrs-test`; its env_dir (endpoint and
    /// credentials) is made readable by the postgres OS user.
    pub fn start(work: &Workdir, kind: &'static str) -> StorageServer {
        let dir = work.path.join(format!("{kind}-server"));
        let port = free_port();
        run(Command::new(script())
            .args(["start", kind, &port.to_string()])
            .arg(&dir)
            .env("WALRS_TEST_SERVER_OWNER", std::process::id().to_string()));
        chown_postgres(&dir);
        run(Command::new("chown").arg("-R").arg("postgres").arg(&dir));
        StorageServer { kind, port, dir }
    }

    /// The env_dir with this server's endpoint and credentials.
    pub fn env_dir(&self) -> PathBuf {
        self.dir.join(format!("{}.env", self.kind))
    }

    /// A repository URL on this server, under `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("{}://walrs-test/{prefix}", self.kind)
    }

    /// Copy the env_dir to `dest` with `endpoint` (an `http://127.0.0.1:PORT` base) instead.
    pub fn env_dir_via(&self, dest: &Path, port: u16) -> PathBuf {
        run(Command::new("cp").arg("-a").arg(self.env_dir()).arg(dest));
        let (var, value) = match self.kind {
            "s3" => ("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")),
            "gs" => ("GCS_ENDPOINT", format!("http://127.0.0.1:{port}")),
            _ => ("AZURE_STORAGE_ENDPOINT", format!("http://127.0.0.1:{port}/devstoreaccount1")),
        };
        std::fs::write(dest.join(var), format!("{value}\n")).unwrap();
        run(Command::new("chown").arg("-R").arg("postgres").arg(dest));
        dest.to_path_buf()
    }
}

impl Drop for StorageServer {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", self.kind]).arg(&self.dir).output();
        // best effort
    }
}

/// A TCP relay from a local port to a server. `stop` closes the port and cuts every open
/// connection (clients see refused connections); `start` opens the same port again. `hold`
/// makes requests that contain a pattern wait in the relay until `release`.
pub struct Relay {
    pub port: u16,
    target: u16,
    running: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    held: Held,
}

/// The patterns whose requests wait, and how many requests are waiting now.
#[derive(Clone, Default)]
struct Held(Arc<(Mutex<Holds>, Condvar)>);

#[derive(Default)]
struct Holds {
    patterns: Vec<Vec<u8>>,
    waiting: usize,
}

impl Held {
    /// Wait while `bytes` contain a held pattern that ends after `sent` (the first `sent` bytes
    /// are the end of the previous read, already sent on). True when it waited.
    fn wait_for(&self, bytes: &[u8], sent: usize) -> bool {
        let (lock, cond) = &*self.0;
        let ends_in_new = |p: &Vec<u8>| {
            let from = (sent + 1).saturating_sub(p.len());
            bytes[from..].windows(p.len()).any(|w| w == &p[..])
        };
        let mut holds = lock.lock().unwrap();
        if !holds.patterns.iter().any(ends_in_new) {
            return false;
        }
        holds.waiting += 1;
        while holds.patterns.iter().any(ends_in_new) {
            holds = cond.wait(holds).unwrap();
        }
        holds.waiting -= 1;
        true
    }

    fn change(&self, f: impl FnOnce(&mut Holds)) {
        let (lock, cond) = &*self.0;
        f(&mut lock.lock().unwrap());
        cond.notify_all();
    }
}

impl Relay {
    pub fn new(target: u16) -> Relay {
        let mut r = Relay {
            port: free_port(),
            target,
            running: Arc::new(AtomicBool::new(false)),
            open: Arc::new(Mutex::new(Vec::new())),
            thread: None,
            held: Held::default(),
        };
        r.start();
        r
    }

    pub fn start(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the relay's port is free again");
        listener.set_nonblocking(true).unwrap();
        self.running.store(true, Ordering::SeqCst);
        let (running, open, target, held) = (self.running.clone(), self.open.clone(), self.target, self.held.clone());
        self.thread = Some(std::thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                        open.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), Some(held.clone()));
                        pipe(server, client, None);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        }));
    }

    /// From now on, a request whose bytes contain `pattern` (a request line such as
    /// `PUT /bucket/prefix/wal_005/`, or an object's name) waits in the relay until `release`.
    pub fn hold(&self, pattern: &str) {
        self.held.change(|h| h.patterns.push(pattern.as_bytes().to_vec()));
    }

    /// Let the requests held for `pattern` go on, and the next ones through.
    pub fn release(&self, pattern: &str) {
        self.held.change(|h| h.patterns.retain(|p| p != pattern.as_bytes()));
    }

    /// How many requests are waiting in the relay now.
    pub fn waiting(&self) -> usize {
        self.held.0 .0.lock().unwrap().waiting
    }

    pub fn stop(&mut self) {
        self.held.change(|h| h.patterns.clear());
        self.running.store(false, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both); // already closed is fine
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copy `from` to `to` until either closes. With `held`, bytes that contain a held pattern
/// wait before they are sent on; the previous read's last bytes count, so a pattern split
/// across two reads is still found.
fn pipe(mut from: TcpStream, mut to: TcpStream, held: Option<Held>) {
    const KEEP: usize = 512;
    std::thread::spawn(move || {
        let mut buf = vec![0u8; KEEP + 64 * 1024];
        let mut kept = 0;
        loop {
            match from.read(&mut buf[kept..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let seen = &buf[..kept + n];
                    let waited = held.as_ref().is_some_and(|h| h.wait_for(seen, kept));
                    if to.write_all(&seen[kept..]).is_err() {
                        break;
                    }
                    // Keep the tail for a pattern split across reads; after a wait, nothing.
                    let len = seen.len();
                    kept = if waited { 0 } else { len.min(KEEP) };
                    buf.copy_within(len - kept..len, 0);
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write); // the other side may be gone already
    });
}
