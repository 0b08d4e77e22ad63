//! Where the config and the state live by default (XDG base directories, or the
//! directories systemd hands a service).

use std::path::PathBuf;

/// The default config path: `$XDG_CONFIG_HOME/livewatch/config.toml`, or
/// `/etc/livewatch/config.toml` under systemd's `CONFIGURATION_DIRECTORY`.
pub fn default_config_path() -> PathBuf {
    if let Ok(dir) = std::env::var("CONFIGURATION_DIRECTORY") {
        return PathBuf::from(dir).join("config.toml");
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("/etc"));
    base.join("livewatch").join("config.toml")
}

/// The default state dir: `$STATE_DIRECTORY` (systemd) else `$XDG_STATE_HOME/livewatch`.
pub fn default_state_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("STATE_DIRECTORY") {
        // systemd may pass several, colon-separated; the first is ours.
        return PathBuf::from(dir.split(':').next().unwrap_or(&dir));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"));
    base.join("livewatch")
}
