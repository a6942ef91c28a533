//! Failpoints: tests stop the process at a named point, the way a crash or a kill would.
//!
//! `RVU_FAILPOINT=<point>` or `<point>:<RELEASE>` (only while working on that release). When
//! the point is reached the process says so on stderr and then waits to be killed: the test
//! ends it with SIGKILL, so nothing after the point runs (no destructor, no flush, no
//! clean-up).

use std::io::Write;

/// The environment variable that arms a failpoint.
pub const VAR: &str = "RVU_FAILPOINT";

/// What a test waits for on stderr before it kills the process.
pub const REACHED: &str = "failpoint reached:";

/// Stops here when `RVU_FAILPOINT` names this point (and this release, when it names one).
/// Only debug builds (the tests') have failpoints: a release build never reads the variable.
pub fn hit(point: &str, release: Option<&str>) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Ok(armed) = std::env::var(VAR) else {
        return;
    };
    let (name, only) = match armed.split_once(':') {
        Some((name, release)) => (name, Some(release)),
        None => (armed.as_str(), None),
    };
    if name != point || (only.is_some() && only != release) {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{REACHED} {armed} (pid {})", std::process::id());
    let _ = err.flush();
    drop(err);
    loop {
        std::thread::park();
    }
}
