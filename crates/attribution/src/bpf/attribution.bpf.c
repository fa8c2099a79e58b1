// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// netward's kernel side of process attribution.
//
// cgroup sock_addr hooks (connect4/6, sendmsg4/6) run in the context of the
// process that calls connect()/sendmsg(), so they can name it while it still
// exists; the record is keyed by the socket cookie, which user space gets for
// a tuple through sock_diag. The raw tracepoints on exec/exit tell user space
// when to read /proc/<pid> (at exec, before a short-lived program is gone)
// and when a pid's cached image stops being valid (at exit).
//
// Only uapi headers (linux/bpf.h) and libbpf's headers: no vmlinux.h, no
// BTF dump at build time. The exec program reads a few kernel fields through
// CO-RE with the minimal struct declarations below (preserve_access_index):
// libbpf relocates them against the running kernel's BTF at load time, and
// where there is none the exec/exit programs are not loaded (user space then
// reads /proc at lookup time only). Raw tracepoints, not tracefs ones: they
// attach by name without tracefs being mounted.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

// Just the fields used; the kernel's own layout comes from its BTF.
struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct super_block {
	__u32 s_dev;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
	struct mm_struct *mm;
	__u64 start_boottime;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *interp;
} __attribute__((preserve_access_index));

#define COMM_LEN 16

// Why the owner was recorded; mirrored by `Hook` in src/bpf.rs.
enum hook {
	HOOK_CONNECT4 = 1,
	HOOK_CONNECT6 = 2,
	HOOK_SENDMSG4 = 3,
	HOOK_SENDMSG6 = 4,
	HOOK_BIND4 = 5,
	HOOK_BIND6 = 6,
};

// The value of `owners`; layout mirrored by `Owner::parse` in src/bpf.rs
// (40 bytes, no padding).
struct owner {
	__u64 at_ns; // bpf_ktime_get_boot_ns(): the clock of /proc/<pid>/stat starttime
	__u32 tgid;
	__u32 uid;
	__u32 gid;
	__u32 hook;
	char comm[COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); // socket cookie
	__type(value, struct owner);
} owners SEC(".maps");

enum proc_kind {
	PROC_EXEC = 1,
	PROC_EXIT = 2,
};

#define NAME_LEN 64
#define PATH_LEN 256
#define ARGS_LEN 1024

// One ring buffer record; layout mirrored by `ProcEvent::parse`. The exec
// fields let user space name a program that is gone before it reads /proc.
struct proc_event {
	__u64 at_ns;
	__u32 kind;
	__u32 tgid;
	__u32 uid;
	__u32 ppid;
	char comm[COMM_LEN];
	// exec only:
	__u64 start_ns;  // task->start_boottime, the clock of /proc stat's starttime
	__u64 exe_ino;   // the image actually mapped (mm->exe_file)
	__u32 exe_dev;   // kernel dev_t (major << 20 | minor)
	__u32 args_len;  // bytes of args (argv, NUL-separated, maybe truncated)
	char exe_name[NAME_LEN]; // the image's own file name (symlinks resolved)
	char interp[PATH_LEN];   // the path exec'd (the interpreter, for a script)
	char args[ARGS_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} procs SEC(".maps");

// Slot 0: the cgroup the programs attach to. The raw tracepoints fire for
// every task of the machine; only tasks in that cgroup (or below) are
// reported, so a test watching its own cgroup sees its own processes only.
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} watched SEC(".maps");

static __always_inline void record_cookie(__u64 cookie, __u32 hook, __u64 flags)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct owner o = {};

	o.at_ns = bpf_ktime_get_boot_ns();
	o.tgid = pid_tgid >> 32;
	o.uid = (__u32)uid_gid;
	o.gid = uid_gid >> 32;
	o.hook = hook;
	bpf_get_current_comm(o.comm, sizeof(o.comm));
	bpf_map_update_elem(&owners, &cookie, &o, flags);
}

static __always_inline void record(struct bpf_sock_addr *ctx, __u32 hook, __u64 flags)
{
	record_cookie(bpf_get_socket_cookie(ctx), hook, flags);
}

// connect() is the decisive moment: it overwrites (a socket handed to another
// process and connected there belongs to that one). Every hook returns 1:
// attribution observes, it never refuses a connection.
SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	record(ctx, HOOK_CONNECT4, BPF_ANY);
	return 1;
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	record(ctx, HOOK_CONNECT6, BPF_ANY);
	return 1;
}

// sendmsg with an address (unconnected UDP) runs per datagram: only the first
// one records, so the map is not rewritten on every packet.
SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	record(ctx, HOOK_SENDMSG4, BPF_NOEXIST);
	return 1;
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	record(ctx, HOOK_SENDMSG6, BPF_NOEXIST);
	return 1;
}

// An explicit bind() (servers, and clients that pick their source): names
// the owner of a listening socket, and through it (user space looks the
// listener up when the accepted socket is not in the map) the process that
// accepts inbound connections.
SEC("cgroup/post_bind4")
int post_bind4(struct bpf_sock *sk)
{
	record_cookie(bpf_get_socket_cookie(sk), HOOK_BIND4, BPF_ANY);
	return 1;
}

SEC("cgroup/post_bind6")
int post_bind6(struct bpf_sock *sk)
{
	record_cookie(bpf_get_socket_cookie(sk), HOOK_BIND6, BPF_ANY);
	return 1;
}

static __always_inline void exec_details(struct proc_event *e, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 n = end - start;

	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->start_ns = BPF_CORE_READ(task, start_boottime);
	e->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	e->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	bpf_probe_read_kernel_str(e->exe_name, sizeof(e->exe_name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	bpf_probe_read_kernel_str(e->interp, sizeof(e->interp), BPF_CORE_READ(bprm, interp));
	if (end < start)
		n = 0;
	if (n > ARGS_LEN)
		n = ARGS_LEN;
	// The new image's argv is on its fresh stack, present in memory.
	if (bpf_probe_read_user(e->args, n, (void *)start) == 0)
		e->args_len = n;
}

static __always_inline void proc_event(__u32 kind, struct linux_binprm *bprm)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct proc_event *e;

	// A thread's exit is not the process's: only the thread group leader's.
	if (kind == PROC_EXIT && (__u32)pid_tgid != (__u32)(pid_tgid >> 32))
		return;
	if (bpf_current_task_under_cgroup(&watched, 0) != 1)
		return;
	e = bpf_ringbuf_reserve(&procs, sizeof(*e), 0);
	if (!e)
		return; // full: user space counts the gap through /proc instead
	e->at_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	e->tgid = pid_tgid >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->ppid = 0;
	e->start_ns = 0;
	e->exe_ino = 0;
	e->exe_dev = 0;
	e->args_len = 0;
	e->exe_name[0] = 0;
	e->interp[0] = 0;
	if (kind == PROC_EXEC)
		exec_details(e, bprm);
	bpf_ringbuf_submit(e, 0);
}

// sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm):
// the current task is the one that exec'd.
SEC("raw_tp/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	proc_event(PROC_EXEC, (struct linux_binprm *)ctx->args[2]);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	proc_event(PROC_EXIT, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
