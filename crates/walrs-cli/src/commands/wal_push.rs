use super::with_repo;
use crate::cli::Global;
use std::path::Path;
use walrs_core::ops::{check_owner, repository_owner, wal_push, PushOutcome};
use walrs_core::wal::WalFileName;
use walrs_core::Error;

pub fn run(global: &Global, path: &Path, compression: Option<&str>) -> Result<(), Error> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = WalFileName::parse(&file_name)?;
    let out = with_repo(global, compression, |storage, compression| {
        let name = name.clone();
        // PostgreSQL runs archive_command in its data directory: check the segment is this
        // cluster's when the control file is there to say so.
        let system_id = walrs_core::pgcontrol::system_identifier(Path::new("."));
        async move {
            // As the archive module does: never into another database system's repository.
            if let Some(ours) = system_id {
                check_owner(&repository_owner(&storage).await?, ours, &storage.location().to_string())?;
            }
            wal_push(&storage, &name, path, compression, system_id).await
        }
    })?;
    match out {
        PushOutcome::Stored { key, original_bytes, stored_bytes } if global.verbose => {
            eprintln!("walrs: archived {name} as {key} ({original_bytes} bytes, {stored_bytes} stored)")
        }
        PushOutcome::AlreadyArchived { key } => {
            eprintln!("walrs: {name} was already archived with identical content as {key}")
        }
        PushOutcome::Stored { .. } => {}
    }
    Ok(())
}
