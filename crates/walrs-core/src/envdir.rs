//! envdir-style directories: one file per variable, as in WAL-G guides (`/etc/wal-g.d/env`).
//!
//! Like daemontools' envdir: the value is the file's first line with trailing blanks removed;
//! an empty file unsets nothing and sets nothing. Hidden files and subdirectories are ignored.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What an envdir holds, plus warnings worth logging (never containing values).
#[derive(Debug, Default)]
pub struct EnvDir {
    pub vars: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Read `dir`. `setting` names where the path came from, for error messages.
pub fn read(dir: &Path, setting: &str) -> Result<EnvDir> {
    let unreadable = |e: &std::io::Error| {
        Error::config(format!("{setting} = '{}' cannot be read: {e}", dir.display()))
            .with_hint("the directory must exist and be readable by the user running PostgreSQL or walrs")
    };
    let entries = std::fs::read_dir(dir).map_err(|e| unreadable(&e))?;
    let mut out = EnvDir::default();
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(&e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') {
            continue;
        }
        // Follows symlinks (secret mounts use them); a dangling one is an error, not a skip.
        let meta = std::fs::metadata(&path).map_err(|e| unreadable_file(setting, &path, &e))?;
        if !meta.is_file() {
            continue;
        }
        if !is_var_name(&name) {
            out.warnings.push(format!("{setting}: ignoring file \"{}\": not a variable name", name.escape_debug()));
            continue;
        }
        if meta.permissions().mode() & 0o004 != 0 {
            out.warnings.push(format!(
                "{setting}: file {} is readable by every user; it may hold a secret: chmod o-r it",
                path.display()
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| unreadable_file(setting, &path, &e))?;
        let text = String::from_utf8_lossy(&bytes);
        let value = text.lines().next().unwrap_or("").trim_end().replace('\0', "\n");
        if !value.is_empty() {
            out.vars.insert(name, value);
        }
    }
    Ok(out)
}

fn unreadable_file(setting: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::config(format!("{setting}: cannot read {}: {e}", path.display()))
        .with_hint("each file must be readable by the user running PostgreSQL or walrs")
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_first_lines_and_warns_about_world_readable_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::write(p.join("AWS_REGION"), "eu-west-1  \nignored second line\n").unwrap();
        fs::write(p.join("WALG_S3_PREFIX"), "s3://b/p").unwrap();
        fs::write(p.join("EMPTY"), "").unwrap();
        fs::write(p.join(".hidden"), "x").unwrap();
        fs::write(p.join("bad-name"), "x").unwrap();
        fs::create_dir(p.join("SUBDIR")).unwrap();
        fs::set_permissions(p.join("AWS_REGION"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(p.join("WALG_S3_PREFIX"), fs::Permissions::from_mode(0o644)).unwrap();
        let env = read(p, "walrs.env_dir").unwrap();
        assert_eq!(env.vars.get("AWS_REGION").map(String::as_str), Some("eu-west-1"));
        assert_eq!(env.vars.get("WALG_S3_PREFIX").map(String::as_str), Some("s3://b/p"));
        assert!(!env.vars.contains_key("EMPTY"));
        assert_eq!(env.vars.len(), 2);
        assert!(env.warnings.iter().any(|w| w.contains("WALG_S3_PREFIX") && w.contains("every user")));
        assert!(env.warnings.iter().any(|w| w.contains("bad-name")));
        assert!(!env.warnings.iter().any(|w| w.contains("s3://b/p")), "a warning must not show a value");
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/nonexistent/walrs-secret", dir.path().join("AWS_SECRET_ACCESS_KEY")).unwrap();
        let err = read(dir.path(), "--env-dir").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Config);
        assert!(err.message.starts_with("--env-dir: cannot read "), "{}", err.message);
        assert!(err.message.contains("AWS_SECRET_ACCESS_KEY"), "{}", err.message);
        assert!(err.hint.is_some());

        // Permissions do not stop root, so this half only runs for other users.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("AWS_REGION");
        fs::write(&file, "x").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read(&file).is_err() {
            let err = read(dir.path(), "walrs.env_dir").unwrap_err();
            assert!(err.message.contains("AWS_REGION") && err.message.contains("ermission"), "{}", err.message);
        }
    }

    #[test]
    fn a_missing_directory_names_the_setting() {
        let err = read(Path::new("/nonexistent/walrs-env"), "walrs.env_dir").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Config);
        assert!(err.message.contains("walrs.env_dir"), "{}", err.message);
    }
}
