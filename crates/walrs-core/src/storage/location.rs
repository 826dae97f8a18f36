//! Repository URLs: `file:///path`, `s3://bucket/prefix`, `azure://container/prefix` (or
//! `az://`), `gs://bucket/prefix`, and `memory://` (a store that lives in this process, for tests).
//!
//! A URL never carries a secret: one with a user, password or query string is refused, and
//! the error does not repeat it.

use crate::{Error, Result};
use std::fmt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Azure,
    Gcs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File { root: PathBuf },
    Cloud { cloud: Cloud, bucket: String, prefix: String },
    Memory,
}

const EXAMPLES: &str = "use file:///var/lib/walrs, s3://bucket/prefix, azure://container/prefix or gs://bucket/prefix";

impl Location {
    pub fn parse(url: &str) -> Result<Location> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::config("no repository is configured").with_hint(EXAMPLES));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::config("the repository is not a URL").with_hint(EXAMPLES));
        };
        if rest.contains('?') || rest.contains('#') || rest.split('/').next().unwrap_or("").contains('@') {
            return Err(Error::config("the repository URL must not contain credentials or options")
                .with_hint("put credentials and options in walrs.env_dir or the environment, not in the URL"));
        }
        let cloud = match scheme.to_ascii_lowercase().as_str() {
            "file" => return parse_file(rest),
            "memory" if rest.is_empty() => return Ok(Location::Memory),
            "s3" => Cloud::S3,
            "azure" | "az" => Cloud::Azure,
            "gs" => Cloud::Gcs,
            other => {
                return Err(Error::config(format!("unknown repository scheme \"{}\"", other.escape_debug()))
                    .with_hint(EXAMPLES))
            }
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || !bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(Error::config(format!("{scheme}:// needs a bucket or container name: {scheme}://NAME/prefix"))
                .with_hint(EXAMPLES));
        }
        let parts: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(Error::config("the repository prefix must not contain . or .. segments"));
        }
        Ok(Location::Cloud { cloud, bucket: bucket.to_string(), prefix: parts.join("/") })
    }
}

fn parse_file(rest: &str) -> Result<Location> {
    let path = Path::new(rest);
    if !path.is_absolute() {
        return Err(Error::config("file:// needs an absolute path after it, with three slashes in all")
            .with_hint("for example file:///var/lib/walrs"));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(Error::config("the repository path must not contain . or .. components"));
    }
    let root: PathBuf = path.components().collect();
    if root == Path::new("/") {
        return Err(
            Error::config("file:/// cannot be the root directory").with_hint("for example file:///var/lib/walrs")
        );
    }
    Ok(Location::File { root })
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { root } => write!(f, "file://{}", root.display()),
            Location::Memory => f.write_str("memory://"),
            Location::Cloud { cloud, bucket, prefix } => {
                let scheme = match cloud {
                    Cloud::S3 => "s3",
                    Cloud::Azure => "azure",
                    Cloud::Gcs => "gs",
                };
                match prefix.as_str() {
                    "" => write!(f, "{scheme}://{bucket}"),
                    p => write!(f, "{scheme}://{bucket}/{p}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn parses_every_scheme() {
        let cloud = |cloud, b: &str, p: &str| Location::Cloud { cloud, bucket: b.into(), prefix: p.into() };
        let cases = [
            ("file:///var/lib/walrs", Location::File { root: "/var/lib/walrs".into() }),
            ("file:///var/lib/walrs/", Location::File { root: "/var/lib/walrs".into() }),
            ("s3://bucket/pg/main", cloud(Cloud::S3, "bucket", "pg/main")),
            ("S3://bucket//pg/", cloud(Cloud::S3, "bucket", "pg")),
            ("s3://bucket", cloud(Cloud::S3, "bucket", "")),
            ("azure://container/p", cloud(Cloud::Azure, "container", "p")),
            ("az://container/p", cloud(Cloud::Azure, "container", "p")),
            ("gs://my_bucket.example/x", cloud(Cloud::Gcs, "my_bucket.example", "x")),
            ("memory://", Location::Memory),
            ("  file:///tmp/r  ", Location::File { root: "/tmp/r".into() }),
        ];
        for (url, want) in cases {
            assert_eq!(Location::parse(url).unwrap_or_else(|e| panic!("{url}: {e}")), want, "{url}");
        }
    }

    #[test]
    fn display_round_trips() {
        for url in ["file:///var/lib/walrs", "s3://b/p/q", "azure://c", "gs://b/x", "memory://"] {
            assert_eq!(Location::parse(url).unwrap().to_string(), url);
        }
        assert_eq!(Location::parse("az://c/p").unwrap().to_string(), "azure://c/p");
    }

    #[test]
    fn refuses_bad_urls_with_a_config_error() {
        let cases = [
            ("", "no repository"),
            ("/var/lib/walrs", "not a URL"),
            ("ftp://host/x", "unknown repository scheme"),
            ("s3://", "needs a bucket"),
            ("s3:///prefix", "needs a bucket"),
            ("azure://", "needs a bucket or container"),
            ("az:///p", "needs a bucket or container"),
            ("gs://", "needs a bucket"),
            ("gcs://b/p", "unknown repository scheme"),
            ("gs://bad bucket/x", "needs a bucket"),
            ("file://relative/path", "absolute path"),
            ("file://", "absolute path"),
            ("file:///", "root directory"),
            ("file:///a/../b", ". or .."),
            ("s3://b/a/../c", ". or .."),
            ("s3://AKIA:secretkey@bucket/p", "credentials"),
            ("azure://c/p?sv=2020&sig=abc", "credentials"),
        ];
        for (url, want) in cases {
            let err = Location::parse(url).expect_err(url);
            assert_eq!(err.kind, ErrorKind::Config, "{url}");
            assert!(err.message.contains(want), "{url}: {}", err.message);
            assert!(err.hint.is_some() || want.contains(". or .."), "{url} has no hint");
        }
        let err = Location::parse("s3://AKIA:secretkey@bucket/p").unwrap_err();
        assert!(!format!("{} {:?}", err.message, err.hint).contains("secretkey"));
    }
}
