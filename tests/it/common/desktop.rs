//! A private desktop session for the desktop notifier tests: a headless X display
//! (Xvfb), a private D-Bus session bus (dbus-daemon, a unix socket in the test's folder,
//! no service activation) and a real notification server on it (dunst), started by the
//! test and stopped when dropped.
//!
//! Every notification dunst receives is recorded by dunst's own rule-script hook (a
//! `[record]` rule matching every summary runs a script with the notification in
//! `DUNST_*` variables); [`DesktopEnv::log`] reads them back. `dbus-monitor` also captures
//! every Notify call with its hints, in `dbus-monitor.log`, for failure messages.
//!
//! The programs come from Debian packages (`scripts/test` installs them); a missing one
//! fails the test naming its package. Each process runs under `timeout`, so nothing
//! outlives a killed test run by more than ten minutes.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::{require_program, wait_for};

/// Longest life of each process of the session, in seconds.
const MAX_LIFETIME: &str = "600";

/// Programs of the session and the Debian package of each.
const PROGRAMS: [(&str, &str); 6] = [
    ("Xvfb", "xvfb"),
    ("dbus-daemon", "dbus-daemon"),
    ("dbus-send", "dbus-bin"),
    ("dbus-monitor", "dbus-bin"),
    ("dunst", "dunst"),
    ("timeout", "coreutils"),
];

/// One process of the session, stopped (TERM, then KILL) when dropped.
struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // `timeout` passes the TERM on to the program it runs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let gone = wait_for(Duration::from_secs(3), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !gone {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(
    name: &'static str,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdout: Stdio,
    log: &Path,
) -> Daemon {
    let log_file = std::fs::File::create(log)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
    let child = Command::new("timeout")
        .arg(MAX_LIFETIME)
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
    Daemon { child }
}

/// The session. Pass [`DesktopEnv::vars`] to the program under test.
pub struct DesktopEnv {
    pub dir: PathBuf,
    /// `DBUS_SESSION_BUS_ADDRESS` and `DISPLAY`.
    pub vars: Vec<(String, String)>,
    // Dropped in reverse start order: dunst and the monitor before the bus, the bus
    // before the display.
    daemons: Vec<Daemon>,
}

impl Drop for DesktopEnv {
    fn drop(&mut self) {
        while let Some(d) = self.daemons.pop() {
            drop(d);
        }
    }
}

impl DesktopEnv {
    /// Start Xvfb, a session bus and dunst, with their files in `dir`.
    pub fn start(dir: &Path) -> DesktopEnv {
        let what = "the desktop notification test";
        for (program, package) in PROGRAMS {
            require_program(program, package, what);
        }
        std::fs::create_dir_all(dir.join("notifications"))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let mut env = DesktopEnv {
            dir: dir.to_path_buf(),
            vars: Vec::new(),
            daemons: Vec::new(),
        };
        let display = env.start_xvfb();
        let bus = env.start_bus();
        env.vars = vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus.clone()),
            ("DISPLAY".into(), display.clone()),
        ];
        let vars = [
            ("DBUS_SESSION_BUS_ADDRESS", bus.as_str()),
            ("DISPLAY", display.as_str()),
        ];
        let monitor = spawn(
            "dbus-monitor",
            &require_program("dbus-monitor", "dbus-bin", what),
            &[
                "--address",
                &bus,
                "type='method_call',interface='org.freedesktop.Notifications'",
            ],
            &[],
            Stdio::from(std::fs::File::create(dir.join("dbus-monitor.log")).expect("monitor log")),
            &dir.join("dbus-monitor.err"),
        );
        env.daemons.push(monitor);
        env.start_dunst(&vars);
        env
    }

    /// Xvfb picks a free display itself and writes its number to stdout (`-displayfd 1`).
    fn start_xvfb(&mut self) -> String {
        let mut xvfb = spawn(
            "Xvfb",
            &require_program("Xvfb", "xvfb", "the desktop test"),
            &[
                "-displayfd",
                "1",
                "-screen",
                "0",
                "800x600x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            &[],
            Stdio::piped(),
            &self.dir.join("xvfb.log"),
        );
        let mut line = String::new();
        let out = xvfb.child.stdout.take().unwrap();
        let read = BufReader::new(out).read_line(&mut line);
        let n = line.trim();
        if read.is_err() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            panic!(
                "Xvfb did not start: {}",
                std::fs::read_to_string(self.dir.join("xvfb.log")).unwrap_or_default()
            );
        }
        let display = format!(":{n}");
        self.daemons.push(xvfb);
        display
    }

    fn start_bus(&mut self) -> String {
        let socket = self.dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        // No service activation: a missing server fails at once with ServiceUnknown.
        let conf = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#
        );
        let conf_path = self.dir.join("session.conf");
        std::fs::write(&conf_path, conf).expect("write session.conf");
        let config = format!("--config-file={}", conf_path.display());
        let bus = spawn(
            "dbus-daemon",
            &require_program("dbus-daemon", "dbus-daemon", "the desktop test"),
            &[&config, "--nofork", "--nopidfile"],
            &[],
            Stdio::null(),
            &self.dir.join("dbus.log"),
        );
        self.daemons.push(bus);
        let up = wait_for(Duration::from_secs(5), || {
            bus_call(&address, "org.freedesktop.DBus.GetId", &[]).is_some()
        });
        assert!(up, "dbus-daemon did not start: {}", self.file("dbus.log"));
        address
    }

    fn start_dunst(&mut self, vars: &[(&str, &str)]) {
        // The recorder: one file per notification with dunst's DUNST_* variables, written
        // under a temporary name and renamed, so a reader never sees half of it.
        let record = self.dir.join("record-notification");
        let notes = self.dir.join("notifications");
        std::fs::write(
            &record,
            format!(
                "#!/bin/sh\nf={notes}/$(date +%s%N)-$$\nenv -0 > \"$f.tmp\" && mv \"$f.tmp\" \"$f.env\"\n",
                notes = notes.display()
            ),
        )
        .expect("write the recorder");
        std::fs::set_permissions(&record, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let rc = self.dir.join("dunstrc");
        std::fs::write(
            &rc,
            format!(
                "[global]\n    font = Monospace 8\n    notification_limit = 0\n    history_length = 10000\n    idle_threshold = 0\n    show_indicators = no\n    ignore_dbusclose = false\n[record-every-notification]\n    summary = \"*\"\n    script = {}\n",
                record.display()
            ),
        )
        .expect("write dunstrc");
        let dunst = spawn(
            "dunst",
            &require_program("dunst", "dunst", "the desktop test"),
            &["-config", &rc.to_string_lossy()],
            vars,
            Stdio::null(),
            &self.dir.join("dunst.log"),
        );
        self.daemons.push(dunst);
        let address = vars[0].1;
        let owned = wait_for(Duration::from_secs(10), || {
            bus_call(
                address,
                "org.freedesktop.DBus.NameHasOwner",
                &["string:org.freedesktop.Notifications"],
            )
            .is_some_and(|r| r.contains("boolean true"))
        });
        assert!(
            owned,
            "dunst did not take org.freedesktop.Notifications: {}",
            self.file("dunst.log")
        );
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// What dunst received so far, oldest first: `app_name summary body urgency`
    /// (`LOW|NORMAL|CRITICAL`) `category timeout_ms id icon stack_tag urls progress
    /// desktop_entry`.
    pub fn log(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("notifications"))
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "env"));
        files.sort();
        files.iter().filter_map(|p| record(p)).collect()
    }

    /// The raw `dbus-monitor` capture of the Notify calls so far.
    pub fn monitor_log(&self) -> String {
        self.file("dbus-monitor.log")
    }
}

/// A notification record from the recorder's `env -0` dump.
fn record(path: &Path) -> Option<Value> {
    let mut raw = Vec::new();
    std::fs::File::open(path).ok()?.read_to_end(&mut raw).ok()?;
    let vars: std::collections::HashMap<String, String> = raw
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.strip_prefix("DUNST_")?.to_string(), v.to_string()))
        })
        .collect();
    let text = |k: &str| vars.get(k).map_or(Value::Null, |v| Value::from(v.as_str()));
    let num = |k: &str| match vars.get(k) {
        Some(v) => v
            .parse::<i64>()
            .map_or(Value::from(v.as_str()), Value::from),
        None => Value::Null,
    };
    Some(json!({
        "id": num("ID"),
        "app_name": text("APP_NAME"),
        "summary": text("SUMMARY"),
        "body": text("BODY"),
        "urgency": text("URGENCY"),
        "category": text("CATEGORY"),
        "timeout_ms": num("TIMEOUT"),
        "icon": text("ICON_PATH"),
        "stack_tag": text("STACK_TAG"),
        "urls": text("URLS"),
        "progress": num("PROGRESS"),
        "desktop_entry": text("DESKTOP_ENTRY"),
    }))
}

/// Call a method of the bus itself with `dbus-send`; its reply, or None on failure.
fn bus_call(address: &str, method: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("timeout")
        .args(["3", "dbus-send"])
        .arg(format!("--bus={address}"))
        .args(["--print-reply", "--dest=org.freedesktop.DBus", "/", method])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_program_names_its_package() {
        assert!(super::super::find_program("sh").is_some());
        let msg = std::panic::catch_unwind(|| {
            super::super::require_program("no-such-program-lw", "no-such-package", "this check")
        })
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .unwrap();
        assert!(
            msg.contains("apt-get install no-such-package") && msg.contains("no-such-program-lw"),
            "{msg}"
        );
    }
}
