//! Atomic output files: write to a temporary file in the destination's folder, flush it to
//! disk, then rename over the destination. A reader (or a crash, a SIGKILL, a second process
//! writing the same path) sees either the old file or the new one, never a mix.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temporary path next to `dest` (same folder, so `rename` never crosses file systems).
fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{name}.{}.{n}.tmp", std::process::id());
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Write `bytes` to `dest` atomically. On any error the temporary file is removed and `dest`
/// is left as it was.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(dest);
    let res = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(source) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Io {
            op: "cannot write",
            path: dest.to_path_buf(),
            source,
        });
    }
    test_pause_before_rename(dest, &tmp);
    if let Err(source) = fs::rename(&tmp, dest) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Io {
            op: "cannot replace",
            path: dest.to_path_buf(),
            source,
        });
    }
    // The rename lives in the folder: sync it too, so that after a power loss the name
    // holds the new file, not the old one. Best effort: some file systems refuse to sync
    // a folder, and the file itself is already complete either way.
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Test hook, not a user feature: with `TRTQ_TEST_PAUSE_BEFORE_RENAME` set to the
/// destination (as given, or its file name), stop once the temporary file is complete and
/// synced, say so on stderr and sleep, so tests/faults.rs can SIGKILL the process at exactly
/// that moment and check that the previous file survived.
fn test_pause_before_rename(dest: &Path, tmp: &Path) {
    let Some(want) = std::env::var_os("TRTQ_TEST_PAUSE_BEFORE_RENAME") else {
        return;
    };
    if dest.as_os_str() == want || dest.file_name() == Some(want.as_os_str()) {
        eprintln!(
            "test hook: paused before renaming {} to {}",
            tmp.display(),
            dest.display()
        );
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("trtq-outfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp files left: {names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_keeps_old_file() {
        let p = Path::new("/nonexistent-dir-trtq/x.bin");
        let e = write_atomic(p, b"x").unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir-trtq/x.bin"), "{e}");
    }
}
