//! `${VAR}` in config values: secrets and addresses from the environment.

/// Replace every `${VAR}` with its value; `Err(VAR)` names the first unset one.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let var = &after[..end];
                out.push_str(&env(var).ok_or_else(|| var.to_string())?);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variables_are_named() {
        let env = |k: &str| (k == "S").then(|| "hush".to_string());
        assert_eq!(expand_env("a${S}b", &env).unwrap(), "ahushb");
        assert_eq!(expand_env("${NOPE}", &env).unwrap_err(), "NOPE");
        assert_eq!(expand_env("open ${S", &env).unwrap(), "open ${S");
    }
}
