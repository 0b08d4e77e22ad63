//! Logging: tracing to stderr. Human format with colours on a terminal; plain without
//! colours otherwise; under systemd (`JOURNAL_STREAM` set) no timestamps (the journal
//! adds its own) and a `<N>` syslog priority prefix per line, so levels reach the journal.

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `verbosity`: -1 quiet, 0 normal, 1+ verbose.
pub(crate) fn init(verbosity: i8) {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "info",
        1 => "livewatch=debug,info",
        _ => "debug",
    };
    init_with(default);
}

/// Install the global subscriber with `default` as the filter unless `RUST_LOG` is set.
pub(crate) fn init_with(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if journal {
        builder.event_format(Journal).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init()
    };
}

/// `<N>level message fields` lines for the journal (sd-daemon(3) priority prefixes).
struct Journal;

impl<S, N> FormatEvent<S, N> for Journal
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = *event.metadata().level();
        let prio = match level {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{prio}>{level} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
