//! `--read-only` is absolute: a command that would write Graph or the database either runs as
//! its dry run or is refused with exit code 2, and says which on stderr (stdout keeps the
//! command's own lines for scripts).

use crate::cli::{GlobalArgs, ReconcileArgs, SyncArgs};

/// `sync` under `--read-only`: its dry run.
pub fn sync_args(global: &GlobalArgs, args: &SyncArgs) -> SyncArgs {
    let mut args = args.clone();
    if global.read_only && !args.dry_run {
        eprintln!("--read-only: running as --dry-run (nothing is sent to Graph or written)");
        args.dry_run = true;
    }
    args
}

/// `reconcile` under `--read-only`: its dry run, which neither deletes nor asks to.
pub fn reconcile_args(global: &GlobalArgs, args: &ReconcileArgs) -> ReconcileArgs {
    let mut args = args.clone();
    if global.read_only {
        if !args.dry_run {
            eprintln!("--read-only: running as --dry-run (nothing is deleted or written)");
        }
        args.dry_run = true;
        args.delete_probable = false;
    }
    args
}
