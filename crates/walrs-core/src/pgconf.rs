//! Reading `walrs.*` settings from `postgresql.conf` and `postgresql.auto.conf`.
//!
//! PostgreSQL runs `restore_command` in the data directory, so `walrs wal-fetch %f %p` finds
//! the server's own `walrs.storage` there and needs no flags. Only the file syntax matters here:
//! `name = value` or `name value`, values quoted with `'` (doubled `''` or `\'` inside), and `#`
//! comments. `include` directives are not followed.

use crate::Error;
use std::collections::BTreeMap;
use std::path::Path;

/// The text of the configuration file at `path`, or None if there is none. Any other failure
/// (no permission, a directory or a symlink loop by that name, text that is not UTF-8) is an
/// error: the settings it holds, the repository among them, must not silently go missing.
pub fn read_file(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            Err(Error::local_io(format!("cannot read {}", shown.display()), &e).with_hint(
                "walrs reads walrs.* settings from postgresql.conf and postgresql.auto.conf in the directory it runs in: \
                 make the file readable by this user, or run walrs in another directory",
            ))
        }
    }
}

/// Every `name = value` assignment in `text`, in order; names lower-cased as PostgreSQL does.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(parse_line).collect()
}

/// The `walrs.*` settings in the given files' texts, later texts and later lines winning.
pub fn walrs_settings<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    texts.into_iter().flat_map(parse).filter(|(name, _)| name.starts_with("walrs.")).collect()
}

fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim_start();
    let name_len = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))?;
    if name_len == 0 {
        return None;
    }
    let (name, rest) = line.split_at(name_len);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    let value = if let Some(quoted) = rest.strip_prefix('\'') {
        unquote(quoted)?
    } else {
        rest.split(|c: char| c.is_whitespace() || c == '#').next().unwrap_or("").to_string()
    };
    Some((name.to_ascii_lowercase(), value))
}

/// The body of a single-quoted value (opening quote already removed); None if unterminated.
fn unquote(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\'' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_postgres_accepts() {
        let conf = "\
# a comment
walrs.storage = 'file:///var/lib/walrs'   # trailing comment
walrs.compression zstd
Walrs.Env_Dir='/etc/walrs.d/env'
walrs.upload_concurrency=8
archive_mode = on
walrs.odd = 'it''s \\'quoted\\' # not a comment'
walrs.broken = 'unterminated
   # indented comment
include 'other.conf'
";
        let got = walrs_settings([conf]);
        assert_eq!(got["walrs.storage"], "file:///var/lib/walrs");
        assert_eq!(got["walrs.compression"], "zstd");
        assert_eq!(got["walrs.env_dir"], "/etc/walrs.d/env");
        assert_eq!(got["walrs.upload_concurrency"], "8");
        assert_eq!(got["walrs.odd"], "it's 'quoted' # not a comment");
        assert!(!got.contains_key("walrs.broken"));
        assert!(!got.contains_key("archive_mode"));
    }

    #[test]
    fn auto_conf_wins_over_postgresql_conf() {
        let conf = "walrs.storage = 'file:///a'\nwalrs.compression = lz4\n";
        let auto = "walrs.storage = 'file:///b'\n";
        let got = walrs_settings([conf, auto]);
        assert_eq!(got["walrs.storage"], "file:///b");
        assert_eq!(got["walrs.compression"], "lz4");
    }

    #[test]
    fn an_absent_file_is_none_and_an_unreadable_one_an_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let absent = dir.path().join("postgresql.conf");
        assert_eq!(read_file(&absent).expect("absent is not an error"), None);

        std::fs::write(&absent, "walrs.storage = 'file:///a'\n").expect("write the file");
        assert_eq!(read_file(&absent).expect("readable").as_deref(), Some("walrs.storage = 'file:///a'\n"));

        // Tests run as root, whom no mode bits keep out: these fail for root too.
        let is_dir = dir.path().join("dir");
        std::fs::create_dir_all(is_dir.join("postgresql.conf")).expect("make the directory");
        let looped = dir.path().join("loop");
        std::fs::create_dir(&looped).expect("make the directory");
        std::os::unix::fs::symlink("postgresql.conf", looped.join("postgresql.conf")).expect("make the symlink");
        for path in [is_dir.join("postgresql.conf"), looped.join("postgresql.conf")] {
            let err = read_file(&path).expect_err("unreadable is an error");
            assert_eq!(err.kind, crate::ErrorKind::LocalIo, "{}", err.message);
            assert!(err.message.contains(&path.display().to_string()), "names the file: {}", err.message);
            assert!(err.message.starts_with("cannot read"), "says what failed: {}", err.message);
            assert!(err.hint.as_deref().is_some_and(|h| h.contains("walrs.")), "{:?}", err.hint);
        }
    }
}
