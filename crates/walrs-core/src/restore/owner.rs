//! Who should own a restored data directory when walrs runs as root: PostgreSQL refuses a data
//! directory it does not own.

use crate::{Error, Result};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// (uid, gid) of `user` (a name or a number) from an /etc/passwd text.
pub fn lookup(passwd: &str, user: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || (f[0] != user && f[2] != user) {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?))
    })
}

/// The owner a restore into `dest` should have: `requested` if given; else the owner of
/// `dest`'s parent, unless that is root, in which case the `postgres` user.
pub fn choose(dest: &Path, requested: Option<&str>) -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    if let Some(user) = requested {
        return lookup(&passwd, user).ok_or_else(|| {
            Error::invalid_input(format!("--owner: no user \"{}\" on this machine", user.escape_debug()))
        });
    }
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(meta) = std::fs::metadata(parent) {
        if meta.uid() != 0 {
            return Ok((meta.uid(), meta.gid()));
        }
    }
    lookup(&passwd, "postgres").ok_or_else(|| {
        Error::invalid_input("cannot tell who should own the restored files").with_hint("pass --owner USER")
    })
}

/// chown everything under `root` (and `root`) to `uid:gid`.
pub fn chown_tree(root: &Path, (uid, gid): (u32, u32)) -> Result<()> {
    let chown = |p: &Path| {
        std::os::unix::fs::lchown(p, Some(uid), Some(gid))
            .map_err(|e| Error::local_io(format!("cannot change the owner of {}", p.display()), &e))
    };
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        chown(&dir)?;
        for entry in
            std::fs::read_dir(&dir).map_err(|e| Error::local_io(format!("cannot read {}", dir.display()), &e))?
        {
            let path = entry.map_err(|e| Error::local_io(format!("cannot read {}", dir.display()), &e))?.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                chown(&path)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_users_by_name_or_number() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\npostgres:x:104:110:PostgreSQL:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(lookup(passwd, "postgres"), Some((104, 110)));
        assert_eq!(lookup(passwd, "104"), Some((104, 110)));
        assert_eq!(lookup(passwd, "nobody"), None);
        assert_eq!(lookup("garbage", "garbage"), None);
    }
}
