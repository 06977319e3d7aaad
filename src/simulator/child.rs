//! Child processes that end with their parent. The demo and the tests start the handler and
//! Azurite as children; `kill_on_drop` ends them only when the parent unwinds, so a parent
//! killed outright (SIGKILL, or SIGTERM with no handler) would leave them running, orphaned.
//! On Linux the kernel is asked to kill each child when the thread that started it ends
//! (`PR_SET_PDEATHSIG`); elsewhere nothing more than `kill_on_drop` is done.

use tokio::process::Command;

/// Makes the child `command` starts die with this process. Start it from a thread that lives
/// as long as the child should (the main thread, a runtime's worker, a test's thread), never
/// from `spawn_blocking`: the kernel watches the thread that forked, and a blocking-pool
/// thread ends after ten idle seconds, taking the child with it.
pub fn end_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: between fork and exec the closure makes only async-signal-safe calls
        // (prctl, getppid) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before the request took effect.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    command.kill_on_drop(true);
}
