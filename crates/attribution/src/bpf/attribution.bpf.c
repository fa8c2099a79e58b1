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
// Only uapi headers (linux/bpf.h) and libbpf's bpf_helpers.h: no vmlinux.h,
// no BTF dump at build time, no CO-RE relocations, no probe_read of kernel
// structures. Raw tracepoints, not tracefs ones: they attach by name without
// tracefs being mounted.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define COMM_LEN 16

// Why the owner was recorded; mirrored by `Hook` in src/bpf.rs.
enum hook {
	HOOK_CONNECT4 = 1,
	HOOK_CONNECT6 = 2,
	HOOK_SENDMSG4 = 3,
	HOOK_SENDMSG6 = 4,
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

// One ring buffer record; layout mirrored by `ProcEvent::parse` (40 bytes).
struct proc_event {
	__u64 at_ns;
	__u32 kind;
	__u32 tgid;
	__u32 uid;
	__u32 pad;
	char comm[COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
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

static __always_inline void record(struct bpf_sock_addr *ctx, __u32 hook, __u64 flags)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
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

static __always_inline void proc_event(__u32 kind)
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
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

// Raw tracepoint arguments are not read: the current task is the one that
// exec'd / exits, which the helpers give.
SEC("raw_tp/sched_process_exec")
int on_exec(void *ctx)
{
	proc_event(PROC_EXEC);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int on_exit(void *ctx)
{
	proc_event(PROC_EXIT);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
