//! Where the cgroup v2 hierarchy is mounted: `/sys/fs/cgroup` on a unified
//! system, `/sys/fs/cgroup/unified` on a hybrid one, anywhere in a container.
use std::fs;
use std::io;
use std::path::PathBuf;

/// Decodes the octal escapes (`\040` for a space) of a /proc/mounts field.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first cgroup2 mount point listed in a /proc/mounts text.
pub fn parse_cgroup2_mount(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut f = line.split_ascii_whitespace();
        let (_dev, point, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(unescape(point)))
    })
}

/// The cgroup2 mount point of this mount namespace.
pub fn cgroup2_mount() -> io::Result<PathBuf> {
    parse_cgroup2_mount(&fs::read_to_string("/proc/self/mounts")?)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup2 mount in /proc/self/mounts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_and_unified() {
        let hybrid = "sysfs /sys sysfs rw 0 0\ntmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
        assert_eq!(parse_cgroup2_mount(hybrid), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(
            parse_cgroup2_mount("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(parse_cgroup2_mount("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n"), None);
    }

    #[test]
    fn escaped_mount_point() {
        assert_eq!(parse_cgroup2_mount("none /mnt/my\\040cg cgroup2 rw 0 0\n"), Some(PathBuf::from("/mnt/my cg")));
    }

    #[test]
    fn this_machine_has_one() {
        let mount = cgroup2_mount().expect("a cgroup2 mount");
        assert!(mount.join("cgroup.procs").exists(), "{} is a cgroup2 root", mount.display());
    }
}
