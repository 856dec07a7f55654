//! Files this library keeps on the local machine (the embedded D1 file, the private
//! PostgreSQL cluster of ReCoco's state): readable by their owner only.
//!
//! Other accounts on a shared machine must not read an index or the state next to it, so a
//! state directory is created with mode `0700` and a state file with mode `0600`. SQLite gives
//! its journal and WAL files the mode of the database file, so a D1 file created through
//! [`create_private_file`] keeps them private too.
//!
//! ```no_run
//! use thread_flow::local_state::{create_private_dir, create_private_file};
//! let dir = std::path::Path::new(".thread-flow");
//! create_private_dir(dir)?;
//! create_private_file(&dir.join("index.d1"))?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs;
use std::io;
use std::path::Path;

/// Creates the directory `path` (and any missing parent) with mode `0700`.
///
/// An existing directory is set to `0700` too, so call this only on a directory this program
/// owns by name (such as `.thread-flow`), never on one a user chose for other things. A
/// symbolic link is followed for creation but its target's mode is left alone.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::symlink_metadata(path)?;
        if meta.is_dir() && meta.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Creates the directory `path` and any missing parent with mode `0700`; a directory that
/// already exists is left exactly as it is (it may be the user's own folder).
pub(crate) fn create_missing_dirs(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Creates the file `path` with mode `0600` if it does not exist (an existing file is opened
/// and left as it is). The parent directory must exist.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn directories_and_files_are_owner_only() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("a").join(".thread-flow");
        create_private_dir(&dir)?;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        create_private_dir(&dir)?;
        assert_eq!(
            mode(&dir),
            0o700,
            "an existing state directory is tightened"
        );

        let file = dir.join("index.d1");
        create_private_file(&file)?;
        assert_eq!(mode(&file), 0o600);
        fs::write(&file, b"kept")?;
        create_private_file(&file)?;
        assert_eq!(
            fs::read(&file)?,
            b"kept",
            "an existing file is not truncated"
        );
        Ok(())
    }
}
