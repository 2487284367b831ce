//! The `wharf` binary: parse, run, map the outcome to an exit code. Nothing else.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    keep_freed_memory();
    cli::main(std::env::args_os().collect())
}

/// A download's buffers are allocated on the connection threads and freed on the writer's and
/// hasher's. With its default, adaptive thresholds glibc hands such memory back to the kernel
/// (trimming each thread's arena) and faults it in again: ~70k page faults and a tenth of the CPU
/// for 1 GiB. Fixed thresholds keep it for reuse; what is kept is bounded by the transfer's own
/// bound on memory in flight (peak RSS 24 -> 29 MiB for 1 GiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets the allocator's parameters; this runs first, on the only thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
