//! Reading key material from the environment: an inline variable or a file named by another,
//! as WAL-G reads its keys, and the byte forms a key's text can take. Key text and key bytes
//! are wiped when dropped and never shown: their `Debug` prints only their length, and
//! errors name the variable, never its value.

use crate::env::Env;
use crate::{Error, Result};
use base64::Engine;
use std::fmt;
use zeroize::Zeroizing;

/// A key's text, wiped on drop, and the variable it came from (for errors).
pub struct KeyText {
    pub text: Zeroizing<String>,
    pub var: &'static str,
}

impl fmt::Debug for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyText({}, {} bytes)", self.var, self.text.len())
    }
}

/// The key in `inline` (used as it is, and it wins), else the content of the file `path_var`
/// names with surrounding whitespace trimmed. None when neither is set.
pub fn read_key_text(env: &Env, inline: &'static str, path_var: &'static str) -> Result<Option<KeyText>> {
    if let Some(text) = env.get(inline) {
        return Ok(Some(KeyText { text: Zeroizing::new(text.to_string()), var: inline }));
    }
    let Some(path) = env.get(path_var) else { return Ok(None) };
    let content = std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::config(format!("{path_var} names a file that cannot be read ({path}): {e}"))
            .with_hint("the key file must exist and be readable by the user that runs PostgreSQL or walrs")
    })?;
    let text = std::str::from_utf8(&content).map_err(|_| {
        Error::config(format!("the key file {path_var} names ({path}) is not text"))
            .with_hint("write the key as text: its own characters, base64 or hex, as the key transform says")
    })?;
    Ok(Some(KeyText { text: Zeroizing::new(text.trim().to_string()), var: path_var }))
}

/// How a key's text becomes its bytes (`WALG_LIBSODIUM_KEY_TRANSFORM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// The text's own bytes.
    None,
    /// Standard base64, with padding (Go's `base64.StdEncoding`).
    Base64,
    /// Hexadecimal digits, either case.
    Hex,
}

impl Transform {
    /// The transform `var` names; `none` when unset.
    pub fn from_env(env: &Env, var: &str) -> Result<Transform> {
        match env.get(var).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("none") => Ok(Transform::None),
            Some("base64") => Ok(Transform::Base64),
            Some("hex") => Ok(Transform::Hex),
            Some(other) => Err(Error::config(format!("{var} = \"{}\" is not a key transform", other.escape_debug()))
                .with_hint("use base64, hex or none")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transform::None => "none",
            Transform::Base64 => "base64",
            Transform::Hex => "hex",
        }
    }

    /// Decode `text` (base64 and hex only; `none` is the text's bytes). The error says what
    /// is wrong without quoting the text.
    pub fn decode(self, text: &str) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        match self {
            Transform::None => Ok(Zeroizing::new(text.as_bytes().to_vec())),
            Transform::Base64 => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Zeroizing::new)
                .map_err(|_| "it is not valid base64".to_string()),
            Transform::Hex => decode_hex(text).ok_or_else(|| "it is not valid hex".to_string()),
        }
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |d: u8| (d as char).to_digit(16).map(|v| v as u8);
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks(2) {
        out.push(value(pair[0])? << 4 | value(pair[1])?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_decode_and_refuse_without_quoting() {
        assert_eq!(&*Transform::Hex.decode("00ff7A").unwrap(), &[0, 255, 0x7a]);
        assert_eq!(&*Transform::Base64.decode("AAH/").unwrap(), &[0, 1, 255]);
        assert_eq!(&*Transform::None.decode("ab").unwrap(), b"ab");
        for (t, bad) in
            [(Transform::Hex, "abc"), (Transform::Hex, "zz"), (Transform::Base64, "AAH"), (Transform::Base64, "A!==")]
        {
            let e = t.decode(bad).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn transform_names() {
        let env = |v: &str| Env::from_pairs(&[("T", v)]);
        assert_eq!(Transform::from_env(&Env::default(), "T").unwrap(), Transform::None);
        assert_eq!(Transform::from_env(&env("BASE64"), "T").unwrap(), Transform::Base64);
        assert_eq!(Transform::from_env(&env("hex"), "T").unwrap(), Transform::Hex);
        assert_eq!(Transform::from_env(&env("none"), "T").unwrap(), Transform::None);
        let err = Transform::from_env(&env("rot13"), "T").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Config);
        assert!(err.hint.is_some());
    }

    #[test]
    fn inline_wins_and_files_are_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "  from-the-file \n\n").unwrap();
        let path = file.to_str().unwrap();
        let both = Env::from_pairs(&[("K", "inline "), ("K_PATH", path)]);
        let got = read_key_text(&both, "K", "K_PATH").unwrap().unwrap();
        assert_eq!((got.text.as_str(), got.var), ("inline ", "K"));
        let got = read_key_text(&Env::from_pairs(&[("K_PATH", path)]), "K", "K_PATH").unwrap().unwrap();
        assert_eq!((got.text.as_str(), got.var), ("from-the-file", "K_PATH"));
        assert!(!format!("{got:?}").contains("from-the-file"));
        assert!(read_key_text(&Env::default(), "K", "K_PATH").unwrap().is_none());
        let missing = Env::from_pairs(&[("K_PATH", "/nonexistent/key")]);
        let err = read_key_text(&missing, "K", "K_PATH").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Config);
        assert!(err.message.contains("K_PATH") && err.hint.is_some(), "{}", err.message);
    }
}
