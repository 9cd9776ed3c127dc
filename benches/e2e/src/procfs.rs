//! What the kernel knows about a server process: CPU time and resident memory.
//!
//! Read from `/proc/PID/stat` (utime + stime, in clock ticks) and
//! `/proc/PID/status` (`VmRSS`), so a server needs no instrumentation of its own and
//! every server is measured the same way.

use std::time::Duration;

/// CPU time (user + system) the process has used so far.
pub(crate) fn cpu_time(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count the
    // fields from the last ')'. Field 3 (state) is then index 0, so utime (14) and
    // stime (15) are 11 and 12.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("/proc/{pid}/stat: no ')'"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: field {} unreadable", i + 3))
    };
    let ticks = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// CPU time the process's threads have run so far, in nanoseconds, summed from
/// `/proc/PID/task/*/schedstat` (the scheduler's own count, not clock ticks: fine
/// enough for a few milliseconds of work, such as Redis's in one run); the tick
/// count of [`cpu_time`] if the kernel has no schedstat.
pub(crate) fn cpu_time_fine(pid: u32) -> Result<Duration, String> {
    let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(tasks) => tasks,
        Err(_) => return cpu_time(pid),
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            // A thread that ended between the listing and the read: its time is
            // lost from the sum, as it would be from a tick count after it ended.
            continue;
        };
        match stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(ns) => total += ns,
            None => return cpu_time(pid),
        }
    }
    Ok(Duration::from_nanos(total))
}

/// Resident memory, in bytes (`VmRSS`).
pub(crate) fn rss(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("/proc/{pid}/status: no VmRSS"))
}

/// `sysconf(_SC_CLK_TCK)`, asked of `getconf` once (no libc binding needed); 100,
/// the value on every Linux port, if `getconf` is missing.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let before = cpu_time(pid).unwrap();
        let fine = cpu_time_fine(pid).unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_time(pid).unwrap() >= before);
        // Ticks (the fallback) may not have moved on a busy machine.
        assert!(cpu_time_fine(pid).unwrap() >= fine);
        assert!(cpu_time_fine(pid).unwrap() > Duration::ZERO);
        assert!(rss(pid).unwrap() > 0);
    }
}
