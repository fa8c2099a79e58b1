//! The fallback owner search: which process holds the socket with this inode
//! open, by reading /proc/*/fd links. Best effort for long-lived processes
//! (a program that closed its socket or exited is not found) and bounded:
//! at most `max_procs` processes and `max_fds` descriptors per lookup.
use std::fs;
use std::path::Path;

/// How much one scan may read.
#[derive(Debug, Clone, Copy)]
pub struct ScanBudget {
    pub max_procs: usize,
    pub max_fds: usize,
}

/// The outcome, with what it cost (for health and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanResult {
    pub pid: Option<u32>,
    pub procs_seen: usize,
    pub fds_seen: usize,
    pub budget_spent: bool,
}

/// Finds a process with `socket:[inode]` among its descriptors. Newest
/// processes first: the owner of a connection being set up now is more
/// likely to be recent than init's children.
pub fn find_socket_owner(proc_root: &Path, inode: u64, budget: ScanBudget) -> ScanResult {
    let mut out = ScanResult::default();
    if inode == 0 {
        return out; // timewait and orphaned sockets have no file any more
    }
    let target = format!("socket:[{inode}]");
    let Ok(dir) = fs::read_dir(proc_root) else { return out };
    let mut pids: Vec<u32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).collect();
    pids.sort_unstable_by(|a, b| b.cmp(a));
    for pid in pids {
        if out.procs_seen >= budget.max_procs || out.fds_seen >= budget.max_fds {
            out.budget_spent = true;
            return out;
        }
        out.procs_seen += 1;
        let Ok(fds) = fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else { continue };
        for fd in fds.flatten() {
            if out.fds_seen >= budget.max_fds {
                out.budget_spent = true;
                return out;
            }
            out.fds_seen += 1;
            if fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()) {
                out.pid = Some(pid);
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::UnixStream;

    // A socket of our own that touches no network: /proc shows a unix
    // socket's descriptor as socket:[inode] like an inet one.
    fn inode_of(s: &UnixStream) -> u64 {
        fs::metadata(format!("/proc/self/fd/{}", s.as_raw_fd())).unwrap().ino()
    }

    #[test]
    fn finds_our_own_socket() {
        let (l, _peer) = UnixStream::pair().unwrap();
        let r =
            find_socket_owner(Path::new("/proc"), inode_of(&l), ScanBudget { max_procs: 100_000, max_fds: 1_000_000 });
        assert_eq!(r.pid, Some(std::process::id()));
    }

    #[test]
    fn budget_stops_the_scan() {
        let (l, _peer) = UnixStream::pair().unwrap();
        let r = find_socket_owner(Path::new("/proc"), inode_of(&l), ScanBudget { max_procs: 100_000, max_fds: 0 });
        assert_eq!(r.pid, None);
        assert!(r.budget_spent);
        assert_eq!(r.fds_seen, 0);
    }

    #[test]
    fn zero_inode_reads_nothing() {
        let r = find_socket_owner(Path::new("/proc"), 0, ScanBudget { max_procs: 10, max_fds: 10 });
        assert_eq!(r, ScanResult::default());
    }
}
