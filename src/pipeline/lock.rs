//! One writer per output folder: `OUTPUT/.rvu/lock`, held with an OS file lock for the whole
//! run. The OS drops the lock when the holder dies, however it dies; the pid and start time
//! written inside tell the next run whether the last holder ended cleanly (it empties the
//! file) or was killed (a stale lock, taken over with a message).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; dropping it marks the run as ended cleanly and releases the lock.
#[derive(Debug)]
pub struct OutputLock {
    file: File,
    path: PathBuf,
}

/// What the lock file said about the previous holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleHolder {
    pub pid: u32,
    pub started: String,
}

impl OutputLock {
    /// Takes the lock of `output`, or fails at once naming the run that holds it (`wait`:
    /// blocks until that run ends). Returns the stale holder it took over from, if any.
    pub fn acquire(output: &Path, wait: bool) -> Result<(OutputLock, Option<StaleHolder>)> {
        let dir = output.join(".rvu");
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait => {
                tracing::warn!(
                    "{}: {}; waiting for it",
                    path.display(),
                    holder_text(&mut file)
                );
                file.lock().map_err(|e| Error::io(&path, e))?;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    output: output.display().to_string(),
                    holder: holder_text(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let stale = read_holder(&mut file);
        let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| writeln!(file, "{} {started}", std::process::id()))
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io(&path, e))?;
        Ok((OutputLock { file, path }, stale))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // An empty lock file means the last run ended cleanly.
        if let Err(e) = self.file.set_len(0) {
            tracing::warn!("{}: {e}", self.path.display());
        }
        let _ = self.file.unlock();
    }
}

fn read_holder(file: &mut File) -> Option<StaleHolder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    let (pid, started) = text.trim().split_once(' ')?;
    Some(StaleHolder {
        pid: pid.parse().ok()?,
        started: started.to_string(),
    })
}

fn holder_text(file: &mut File) -> String {
    match read_holder(file) {
        Some(h) => format!(
            "another rvu run (pid {}, started {}) is writing here",
            h.pid, h.started
        ),
        None => "another rvu run is writing here".to_string(),
    }
}
