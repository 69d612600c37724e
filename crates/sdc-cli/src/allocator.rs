//! The allocator settings both binaries start with.
//!
//! `sdc` and `cargo xtask` use mimalloc as their global allocator (docs/design.md, "Speed").
//! By default mimalloc hands freed memory back to the kernel a second after it is freed
//! (`purge_delay`, 1000 ms), and a training loop that frees and reallocates the same large
//! activations every step then faults the pages in again, zeroed by the kernel: on the
//! mnist-mosaic CNN that was 11-13% of the CPU time of a run. mimalloc reads its options from the
//! environment when the process starts, and setting one from inside the program would need an
//! `unsafe` call, which this workspace forbids; so a binary that finds the option unset runs
//! itself again, with the same arguments and `MIMALLOC_PURGE_DELAY=-1` (never purge). A user's
//! own setting of the variable is left as it is.

/// The mimalloc option this module sets.
pub const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// The value set when the user has not chosen one: never hand freed memory back.
pub const NEVER_PURGE: &str = "-1";

/// Runs this binary again with [`PURGE_DELAY_VAR`] set to [`NEVER_PURGE`], unless the
/// environment already sets it. Call first thing in `main`, before any thread starts.
///
/// On success this never returns (the process image is replaced; the process id, argv[0], open
/// files and signal dispositions stay). When the binary cannot be run again (its file was
/// replaced or removed while it ran, or the platform has no `exec`) the process goes on with
/// mimalloc's default, which changes its speed and nothing else.
pub fn keep_freed_memory() {
    if std::env::var_os(PURGE_DELAY_VAR).is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        // Keep the name the user typed as argv[0]: run directories record the command line.
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // `exec` returns only when it failed; then go on as we are.
        let _failed = command.args(args).env(PURGE_DELAY_VAR, NEVER_PURGE).exec();
    }
}
