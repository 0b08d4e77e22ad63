//! A private PostgreSQL server for the tests (the store's own, and tests/it's, which
//! include this file): Debian's `postgresql` programs, `initdb` and `pg_ctl`, run in a
//! temp dir on a free 127.0.0.1 port. One server per test process, started by the first
//! test that asks ([`server`]), each test with a fresh database
//! ([`PgServer::fresh_database`]); stopped when the process exits (and, should the
//! process be killed, by a watcher that waits for it to go).
//!
//! PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres`
//! user the Debian package creates. Missing programs fail the test, naming the package.

#![allow(dead_code, unreachable_pub)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The running server.
pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    /// The user the server runs as, when the tests run as root.
    user: Option<(u32, u32)>,
}

const MISSING: &str = "the PostgreSQL server programs (initdb, pg_ctl) are not installed: \
     install the Debian package `postgresql` (apt-get install postgresql)";

/// The server of this test process, started on first use.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| PgServer::start().unwrap_or_else(|e| panic!("{e}")))
}

/// Where Debian keeps the server programs (`/usr/lib/postgresql/VERSION/bin`, the newest
/// version), else a directory on PATH that has them.
fn bin_dir() -> Result<PathBuf, String> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| has(d)))
        .ok_or_else(|| MISSING.to_string())
}

/// The uid and gid of `name`.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to a static passwd entry, read at once
    // (the tests call this once, under the OnceLock).
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: pw is not NULL (checked above).
    let pw = unsafe { &*pw };
    Some((pw.pw_uid, pw.pw_gid))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl PgServer {
    /// A command of the server's programs, run as the server's user.
    fn command(&self, program: &str) -> Command {
        command(&self.bin, program, self.user)
    }

    fn start() -> Result<PgServer, String> {
        let bin = bin_dir()?;
        // SAFETY: geteuid has no preconditions.
        let user = if unsafe { libc::geteuid() } == 0 {
            Some(user_ids("postgres").ok_or_else(|| {
                format!(
                    "the tests run as root, and PostgreSQL must run as another user: the `postgres` \
                     user is missing (the Debian package `postgresql` creates it): {MISSING}"
                )
            })?)
        } else {
            None
        };
        static N: AtomicUsize = AtomicUsize::new(0);
        // As root, under /tmp: the server's user must reach the dir (TMPDIR may be in
        // root's home).
        let base = match user {
            Some(_) => PathBuf::from("/tmp"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!(
            "livewatch-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        let data = dir.join("data");
        let out = command(&bin, "initdb", user)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "livewatch",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // The watcher: once this process is gone (however it ended), stop the server and
        // remove its dir.
        let mut watcher = command(Path::new("/bin"), "sh", user);
        watcher
            .arg("-c")
            .arg(format!(
                "while [ -e /proc/{pid} ]; do sleep 0.5; done; \"$0\" -D \"$1\" -m immediate stop; rm -rf \"$2\"",
                pid = std::process::id()
            ))
            .arg(bin.join("pg_ctl"))
            .arg(&data)
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        watcher.spawn().map_err(|e| format!("sh: {e}"))?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let out = command(&bin, "pg_ctl", user)
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                     -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                    dir.display()
                ))
                .arg("start")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("pg_ctl: {e}"))?;
            if out.status.success() {
                STOP.get_or_init(|| (bin.clone(), data.clone(), user));
                // SAFETY: registers a plain function with no arguments.
                unsafe { libc::atexit(stop_at_exit) };
                return Ok(PgServer {
                    port,
                    bin,
                    dir,
                    user,
                });
            }
            last = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
        }
        Err(format!("pg_ctl start failed: {last}"))
    }

    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("lw_{}", N.fetch_add(1, Ordering::Relaxed));
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "livewatch", &name])
            .output()
            .expect("createdb runs");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://livewatch@127.0.0.1:{}/{db}", self.port)
    }

    /// The server's log (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

fn command(bin: &Path, program: &str, user: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin.join(program));
    if let Some((uid, gid)) = user {
        // std drops root's supplementary groups when it changes the uid.
        c.uid(uid).gid(gid);
        // The programs' own checks read the user from the environment too.
        c.env("USER", "postgres").env("HOME", "/tmp");
    }
    c.current_dir("/");
    c
}

/// What stops the server at exit: the programs' dir, the data dir, the server's user.
type StopWith = (PathBuf, PathBuf, Option<(u32, u32)>);

static STOP: OnceLock<StopWith> = OnceLock::new();

extern "C" fn stop_at_exit() {
    if let Some((bin, data, user)) = STOP.get() {
        let _ = command(bin, "pg_ctl", *user)
            .arg("-D")
            .arg(data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
