//! Reading one process out of /proc: what its image is, how it was started,
//! who started it. Parsers are pure functions over the file text so they are
//! tested without a process.
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The fields of /proc/<pid>/stat that attribution uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub ppid: u32,
    /// Clock ticks after boot (CLOCK_BOOTTIME), field 22.
    pub start_ticks: u64,
}

/// Parses /proc/<pid>/stat. The comm is in parentheses and may itself hold
/// spaces and ')' (a program can name itself anything), so the fields are
/// counted from the *last* ')'.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // After ") ": field 3 (state) is index 0, so ppid (4) is 1 and starttime (22) is 19.
    let rest: Vec<&str> = text.get(close + 1..)?.split_ascii_whitespace().collect();
    Some(Stat { comm, ppid: rest.get(1)?.parse().ok()?, start_ticks: rest.get(19)?.parse().ok()? })
}

/// The real uid from /proc/<pid>/status (`Uid:\treal\teffective\tsaved\tfs`).
pub fn parse_status_uid(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..].split_ascii_whitespace().next()?.parse().ok()
}

/// /proc/<pid>/cmdline is the argv joined by NULs (and usually ending in one):
/// shown joined by spaces, as a shell would have typed it.
pub fn parse_cmdline(raw: &[u8]) -> Option<String> {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return None; // kernel threads and zombies have none
    }
    let args: Vec<String> = raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    Some(args.join(" "))
}

/// The boot time in seconds since the epoch, `btime` of /proc/stat.
pub fn parse_btime(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// The executable path of /proc/<pid>/exe as the kernel shows it: a binary
/// removed or replaced since the exec reads "<path> (deleted)".
pub fn clean_exe_path(link: &Path) -> PathBuf {
    let s = link.to_string_lossy();
    PathBuf::from(s.strip_suffix(" (deleted)").unwrap_or(&s).to_string())
}

/// What /proc says about one process at one moment.
#[derive(Debug)]
pub struct Snapshot {
    pub stat: Stat,
    pub uid: Option<u32>,
    pub exe: Option<PathBuf>,
    pub cmdline: Option<String>,
    /// The image itself, opened through /proc/<pid>/exe so it stays readable
    /// (for hashing) after the process exits or the file is deleted.
    pub image: Option<File>,
    pub parent_name: Option<String>,
}

impl Snapshot {
    /// Reads the process, cheapest and most perishable parts first: a
    /// short-lived program may be gone by the next read.
    pub fn read(proc_root: &Path, pid: u32) -> io::Result<Snapshot> {
        let dir = proc_root.join(pid.to_string());
        let image = File::open(dir.join("exe")).ok();
        let exe = fs::read_link(dir.join("exe")).ok().map(|l| clean_exe_path(&l));
        let cmdline = fs::read(dir.join("cmdline")).ok().and_then(|raw| parse_cmdline(&raw));
        let stat_text = fs::read_to_string(dir.join("stat"))?;
        let stat = parse_stat(&stat_text).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad stat"))?;
        let uid = fs::read_to_string(dir.join("status")).ok().and_then(|s| parse_status_uid(&s));
        let parent_name = process_name(proc_root, stat.ppid);
        Ok(Snapshot { stat, uid, exe, cmdline, image, parent_name })
    }
}

/// A process's file name: the base name of its executable, or its comm when
/// the executable cannot be read (kernel threads, other users' processes
/// without privilege).
pub fn process_name(proc_root: &Path, pid: u32) -> Option<String> {
    let dir = proc_root.join(pid.to_string());
    if let Ok(link) = fs::read_link(dir.join("exe")) {
        if let Some(name) = clean_exe_path(&link).file_name() {
            return Some(name.to_string_lossy().into_owned());
        }
    }
    fs::read_to_string(dir.join("comm")).ok().map(|c| c.trim_end_matches('\n').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_comm() {
        let text = "4242 (evil ) 1 2 (x) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let st = parse_stat(text).expect("parses");
        assert_eq!(st.comm, "evil ) 1 2 (x");
        assert_eq!(st.ppid, 17);
        assert_eq!(st.start_ticks, 987654);
    }

    #[test]
    fn stat_truncated_is_refused() {
        assert_eq!(parse_stat("12 (sh) S 1 12"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_stat_parses() {
        let text = fs::read_to_string("/proc/self/stat").unwrap();
        let st = parse_stat(&text).unwrap();
        assert_eq!(st.ppid, std::os::unix::process::parent_id());
    }

    #[test]
    fn status_real_uid() {
        let text = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t65534\t0\t0\t0\nGid:\t65534\t65534\t65534\t65534\n";
        assert_eq!(parse_status_uid(text), Some(65534));
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
    }

    #[test]
    fn cmdline_joined() {
        assert_eq!(parse_cmdline(b"python3\0-c\0print(1)\0").as_deref(), Some("python3 -c print(1)"));
        assert_eq!(parse_cmdline(b"no-trailing-nul").as_deref(), Some("no-trailing-nul"));
        assert_eq!(parse_cmdline(b""), None);
        assert_eq!(parse_cmdline(b"\0"), None);
    }

    #[test]
    fn btime_found() {
        assert_eq!(parse_btime("cpu  1 2 3\nintr 5\nbtime 1764748800\nprocesses 9\n"), Some(1764748800));
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[test]
    fn deleted_suffix_removed() {
        assert_eq!(clean_exe_path(Path::new("/tmp/x (deleted)")), PathBuf::from("/tmp/x"));
        assert_eq!(clean_exe_path(Path::new("/usr/bin/curl")), PathBuf::from("/usr/bin/curl"));
    }
}
