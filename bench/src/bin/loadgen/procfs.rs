//! What `/proc` tells about a process: CPU time, resident memory, open files and their limit.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

use crate::Result;

/// Clock ticks per second of the CPU times in `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
pub(crate) const CLOCK_TICKS: f64 = 100.0;

/// User plus system CPU time of process `pid` (or `self`), in clock ticks.
pub(crate) fn cpu_ticks(pid: &str) -> Option<u64> {
    cpu_times(pid).map(|(user, system)| user + system)
}

/// User and system CPU time of process `pid` (or `self`), in clock ticks.
pub(crate) fn cpu_times(pid: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// The soft limit on open files of this process.
pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Fails, saying how to fix it, unless this process may open `files` descriptors. A soft
/// limit below that is first raised as far as the hard limit allows.
pub(crate) fn check_open_files(files: u64) -> Result<()> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|soft| soft < files) {
        // Nothing lost if refused: the check below says what to do.
        let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum });
    }
    match open_files_limit() {
        Some(limit) if limit >= files => Ok(()),
        limit => Err(format!(
            "this run needs {files} open files, the limit is {limit:?}: run `ulimit -n {}` first",
            files.max(65536)
        )),
    }
}

/// VmRSS of `pid` in KiB.
pub(crate) fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("cannot read /proc/{pid}/status: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// Number of open file descriptors of `pid` (entries of `/proc/PID/fd`).
pub(crate) fn open_fds(pid: u32) -> Result<usize> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|error| format!("cannot read /proc/{pid}/fd: {error}"))?;
    Ok(entries.count())
}
