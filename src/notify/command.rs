//! The command notifier: runs `command = ["PROGRAM", "ARG", …]` for each event, with the
//! event JSON (or the rendered template) on its standard input. No shell is involved:
//! the arguments are passed as written, and nothing of the event reaches the command
//! line. `LIVEWATCH_EVENT_ID`, `LIVEWATCH_EVENT_KIND` and `LIVEWATCH_BLOG_URL` are set in
//! its environment.
//!
//! Exit status 0 is a delivery; any other status, a signal, or a program that cannot be
//! started is a failed delivery, retried (and dead-lettered) like any other. A command
//! still running after `timeout` is killed with its whole process group.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::template::BodyTemplate;
use super::{Delivered, Delivery, DeliveryError, Notifier};

/// Bytes of the command's stderr kept for the error message.
const STDERR_TAIL: usize = 2000;

/// Runs a program per event.
pub(crate) struct Command {
    argv: Vec<String>,
    timeout: Duration,
    template: Option<Arc<BodyTemplate>>,
}

/// Read a stream to its end, keeping the last `keep` bytes.
async fn tail(mut r: impl AsyncRead + Unpin, keep: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > keep * 2 {
            kept.drain(..kept.len() - keep);
        }
    }
    if kept.len() > keep {
        kept.drain(..kept.len() - keep);
    }
    kept
}

impl Command {
    pub(crate) fn new(
        argv: Vec<String>,
        timeout: Duration,
        template: Option<Arc<BodyTemplate>>,
    ) -> Self {
        Command {
            argv,
            timeout,
            template,
        }
    }

    /// What the command reads: the event JSON, or the rendered template.
    pub(crate) fn input(&self, event: &crate::model::Event) -> Result<Vec<u8>, DeliveryError> {
        match &self.template {
            Some(t) => super::template::render_body(t, event),
            None => {
                let mut v = serde_json::to_vec(event).map_err(|e| {
                    DeliveryError::Permanent(format!("cannot encode the event: {e}"))
                })?;
                v.push(b'\n');
                Ok(v)
            }
        }
    }
}

#[async_trait]
impl Notifier for Command {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let input = self.input(d.event)?;
        let Some((program, args)) = self.argv.split_first() else {
            return Err(DeliveryError::Permanent("command is empty".into()));
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env("LIVEWATCH_EVENT_ID", &d.event.id)
            .env("LIVEWATCH_EVENT_KIND", d.event.kind.as_str())
            .env("LIVEWATCH_BLOG_URL", &d.event.blog.url)
            .env("LIVEWATCH_ATTEMPT", d.attempt.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| DeliveryError::retry(format!("cannot run {program:?}: {e}")))?;
        let pid = child.id();
        let mut stdin = child.stdin.take();
        let stderr = child.stderr.take();
        let feed = async move {
            if let Some(s) = stdin.as_mut() {
                // A program that does not read its input is not an error.
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
            drop(stdin);
        };
        let err_tail = async move {
            match stderr {
                Some(s) => tail(s, STDERR_TAIL).await,
                None => Vec::new(),
            }
        };
        let run = async {
            let ((), err, status) = tokio::join!(feed, err_tail, child.wait());
            (err, status)
        };
        let (err, status) = match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill(2) with a negative pid signals that process group (the
                    // one the child leads); it touches no memory.
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                    }
                }
                let _ = child.kill().await;
                return Err(DeliveryError::retry(format!(
                    "{program:?} did not finish within {:?} and was killed",
                    self.timeout
                )));
            }
        };
        let status =
            status.map_err(|e| DeliveryError::retry(format!("waiting for {program:?}: {e}")))?;
        if status.success() {
            return Ok(Delivered::default());
        }
        let err = crate::text::collapse_ws(&String::from_utf8_lossy(&err));
        let how = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => {
                use std::os::unix::process::ExitStatusExt;
                format!("killed by signal {}", status.signal().unwrap_or(0))
            }
        };
        Err(DeliveryError::retry(if err.is_empty() {
            format!("{program:?} failed ({how})")
        } else {
            format!(
                "{program:?} failed ({how}): {}",
                crate::text::truncate(&err, 300)
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(argv: &[&str], timeout: Duration) -> Result<Delivered, DeliveryError> {
        let c = Command::new(argv.iter().map(|s| s.to_string()).collect(), timeout, None);
        let e = crate::notify::message::tests::correction();
        let d = Delivery {
            event: &e,
            earlier_remote_id: None,
            attempt: 1,
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(c.deliver(&d))
    }

    #[test]
    fn exit_status_decides() {
        let long = Duration::from_secs(10);
        assert!(deliver(&["true"], long).is_ok());
        let e = deliver(
            &["sh", "-c", "cat >/dev/null; echo broken >&2; exit 3"],
            long,
        )
        .unwrap_err();
        assert!(e.to_string().contains("exit status 3"), "{e}");
        assert!(e.to_string().contains("broken"), "{e}");
        let e = deliver(&["/nonexistent/program"], long).unwrap_err();
        assert!(matches!(e, DeliveryError::Retry { .. }), "{e}");
    }

    #[test]
    fn a_hanging_command_is_killed_with_its_children() {
        let t0 = std::time::Instant::now();
        // The grandchild keeps stderr open: only killing the group ends it.
        let e = deliver(
            &["sh", "-c", "sleep 30 & sleep 30"],
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(e.to_string().contains("killed"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
}
