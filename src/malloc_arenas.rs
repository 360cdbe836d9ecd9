//! How many malloc arenas glibc may give calsync's threads. glibc gives each thread that
//! allocates an arena of its own, up to 8 per core, and keeps what a thread frees in its arena
//! for that arena's next use; calsync's pool threads come and go (a blocking thread per SQLite
//! statement, the overview's parts side by side), so each leaves an arena holding memory no other
//! thread reuses. Two arenas keep the two cores from waiting on one lock and most of the memory
//! (BENCHMARKS.md, "Memory: glibc's arenas").
//!
//! glibc reads `MALLOC_ARENA_MAX` only when a process starts, and setting the limit from inside
//! (`mallopt`) needs unsafe code, which calsync forbids; so calsync starts itself once more with
//! the variable set. An operator's own `MALLOC_ARENA_MAX` is left as it is.

/// The limit calsync runs with, unless the environment already sets one.
pub const ARENAS: &str = "2";

/// The variable glibc reads at start (mallopt(3)).
pub const VARIABLE: &str = "MALLOC_ARENA_MAX";

/// Replaces this process with itself, the same arguments and `MALLOC_ARENA_MAX` set, when it is
/// not set yet. Returns only when it is set already or the restart cannot be made (calsync
/// then runs with glibc's default, as before).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn cap() {
    use std::os::unix::process::CommandExt;

    if std::env::var_os(VARIABLE).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    // exec returns only on failure; the process is then unchanged.
    let _ = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(VARIABLE, ARENAS)
        .exec();
}

/// Elsewhere the allocator is not glibc's: nothing to cap.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn cap() {}
