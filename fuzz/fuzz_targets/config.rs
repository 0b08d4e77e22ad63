//! Config text → validated config or a `FILE:LINE:COL` error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // Every ${VAR} resolves except one name, so both paths of the expansion run.
    let env = |k: &str| (k != "UNSET").then(|| format!("value-of-{k}"));
    let _ = livewatch::config::parse(src, "fuzz.toml", &env);
});
