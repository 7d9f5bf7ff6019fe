//! What /proc says about a process or a thread: CPU time, resident
//! memory, the open-files limit. Linux only, no unsafe code.

use std::process::Command;

/// Clock ticks per second of /proc's utime and stime (`getconf
/// CLK_TCK`; 100 when it cannot be asked).
pub(crate) fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// utime + stime, in clock ticks, of a `stat` file (`/proc/PID/stat`,
/// `/proc/thread-self/stat`).
pub(crate) fn cpu_ticks(stat_path: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(stat_path).map_err(|e| format!("{stat_path}: {e}"))?;
    // The command name (field 2) may hold spaces: count from its `)`.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("{stat_path}: no ')'"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let get = |i: usize| -> Result<u64, String> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("{stat_path}: no field {i}"))
    };
    Ok(get(14)? + get(15)?)
}

/// VmRSS of a process, KiB.
pub(crate) fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS"))
}
