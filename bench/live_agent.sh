#!/usr/bin/env bash
# bench/live_agent.sh — what the live agent costs the device it protects.
#
# In a testnet topology of its own (namespaces with real nginx/dnsmasq/squid,
# testnet/README.md), with the client's traffic judged by `netward run` in
# block mode holding $INDICATORS indicators (a domains feed, plus evil.test),
# against the same traffic with no agent, in the same run: rounds alternate
# (odd rounds: no agent first; even rounds: agent first), $ROUNDS of each.
# Per round and arm:
#   bulk      curl http://good.test/big.bin (200 MB), 3 times -> median MB/s
#   serial    $CONNS HTTPS connections one at a time (bench/tls_conns.py:
#             connect, full TLS handshake, GET /, close) -> connections/s,
#             p50 and p99 of connect + handshake
#   parallel  $CONNS HTTPS connections, 8 at a time -> connections/s
#   agent CPU user+system time of the agent process over serial + parallel
# Process attribution is on as a user runs it ($ATTRIBUTION, default bpf):
# the agent's BPF programs attach to a child cgroup of the bench's own
# (never the cgroup2 root), the clients run inside it, and the agent arm
# must name the bench's python as the process behind its connections.
# It prints the median of the rounds per arm, agent/no-agent ratios, the
# added latency (agent p50/p99 minus no-agent p50/p99) and the CPU per 1,000
# connections, each beside its goal. It fails (exit 1) when the answers
# differ: a connection that fails, a download that is not 200 MB, or, in
# the agent arm, evil.test not blocked or no packet queued.
#
#   cargo build --release -p netward && sudo bench/live_agent.sh
#
# env: NETWARD (default target/release/netward), ROUNDS (3), CONNS (500),
#      INDICATORS (100000), ATTRIBUTION (bpf | proc | off),
#      KEEP=1 keeps the temp dir (agent log, results).
# Needs root and testnet's packages; touches only its own namespaces.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
NETWARD=$(realpath "${NETWARD:-target/release/netward}" 2>/dev/null || echo "${NETWARD:-target/release/netward}")
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-500}
INDICATORS=${INDICATORS:-100000}
ATTRIBUTION=${ATTRIBUTION:-bpf}
PREFIX=nwbench
BLOCK=198.19.60.0/24
QUEUE=12

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, netfilter rules inside them)"
[ -x "$NETWARD" ] || die "netward binary not found at '$NETWARD' (build: cargo build --release -p netward, or set NETWARD=path)"
command -v python3 >/dev/null || die "python3 not found"

tmp=$(mktemp -d /tmp/nw-live-bench.XXXXXX)
agent_pid=""
# The clients' cgroup, where the attribution programs attach.
cg=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
[ -n "$cg" ] || die "no cgroup2 mount (process attribution needs one)"
cg=$cg/nwbench-$$
mkdir "$cg"
cleanup() {
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  if [ -d "$cg" ]; then
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    rmdir "$cg" 2>/dev/null || true
  fi
  bash testnet/topo.sh down "$PREFIX" >/dev/null 2>&1 || true
  [ "${KEEP:-}" = 1 ] && echo "bench: kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

echo "bench: topology $PREFIX ($BLOCK)" >&2
bash testnet/topo.sh up "$PREFIX" "$BLOCK" > "$tmp/topo.env" 2> "$tmp/topo.log" || die "topo.sh up failed: $(tail -3 "$tmp/topo.log")"
# shellcheck disable=SC1091
source "$tmp/topo.env"
# A client: in the client namespace and in the bench's cgroup.
cli() { bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ "$cg" "$NW_NS_CLI" "$@"; }
data=$tmp/data
nw() { "$NETWARD" --data-dir "$data" "$@"; }

echo "bench: $INDICATORS indicators (domains feed) + evil.test, enforcement block" >&2
python3 -c "import sys; [print(f'blocked-{i}.bench.example') for i in range(int(sys.argv[1]))]" "$INDICATORS" > "$tmp/feed.txt"
echo evil.test >> "$tmp/feed.txt"
nw indicator import --feed-format domains --source bench "$tmp/feed.txt" > /dev/null
nw config network-protection enforcement-level --value block > /dev/null

start_agent() {
  # Not through cli(): a backgrounded function is a subshell, and $! must be
  # the agent. nsenter, not `ip netns exec`: that one mounts a sysfs of its
  # own, where the cgroup2 mount (and the bench's cgroup) is not seen.
  nsenter --net="/run/netns/$NW_NS_CLI" "$NETWARD" --data-dir "$data" run --queue "$QUEUE" \
    --attribution "$ATTRIBUTION" --attribution-cgroup "$cg" > /dev/null 2>> "$tmp/agent.log" &
  agent_pid=$!
  for _ in $(seq 200); do
    nw health > /dev/null 2>&1 && return 0
    kill -0 "$agent_pid" 2>/dev/null || die "the agent exited: $(tail -3 "$tmp/agent.log")"
    sleep 0.1
  done
  die "the agent did not answer health within 20 s"
}
stop_agent() {
  local rc=0
  kill -TERM "$agent_pid"
  wait "$agent_pid" || rc=$?
  agent_pid=""
  [ "$rc" = 0 ] || die "the agent exited with status $rc on SIGTERM: $(tail -3 "$tmp/agent.log")"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
# Connections the store names python3 (the bench's client) as the process of.
attributed() {
  nw hunt --format csv "DeviceNetworkEvents | where ActionType == 'ConnectionSuccess' and RemotePort == 443 and InitiatingProcessFileName startswith 'python3' | count" | tail -1
}
agent_rounds=0

round() { # arm round -> one JSON line in results.jsonl
  local arm=$1 r=$2 bulk serial parallel c0=0 c1=0 queued=0 evil_blocked=null named=0 mode=off
  if [ "$arm" = agent ]; then
    start_agent
    mode=$(nw health | python3 -c 'import json,sys; print(json.load(sys.stdin)["attribution"]["mode"])')
  fi
  # Three downloads, the median kept: one takes about 0.1 s here, so a single
  # one is at the mercy of the scheduler.
  bulk=$(for _ in 1 2 3; do
    cli curl -sS -o /dev/null --max-time 120 -w '%{size_download} %{speed_download}\n' "http://good.test/big.bin"
  done | sort -k2 -g | sed -n 2p)
  [ "$arm" = agent ] && c0=$(cpu_ticks)
  serial=$(cli python3 bench/tls_conns.py "$NW_GOOD_IP" good.test "$NW_CA" "$CONNS" 1)
  parallel=$(cli python3 bench/tls_conns.py "$NW_GOOD_IP" good.test "$NW_CA" "$CONNS" 8)
  if [ "$arm" = agent ]; then
    c1=$(cpu_ticks)
    if cli curl -sS -o /dev/null --max-time 5 --cacert "$NW_CA" https://evil.test/ 2>/dev/null; then
      evil_blocked=false
    else
      evil_blocked=true
    fi
    sleep 1.2 # the agent publishes its counters twice a second
    queued=$(nw health | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["packets_queued"])')
    nw health | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["attribution"]))' > "$tmp/attribution-$r.json"
    stop_agent
    # Stopped, the agent has written every row: this round's connections
    # are the count's growth.
    agent_rounds=$((agent_rounds + 1))
    named=$(( $(attributed) - (agent_rounds - 1) * 2 * CONNS ))
  fi
  python3 - "$arm" "$r" "$bulk" "$serial" "$parallel" "$((c1 - c0))" "$queued" "$evil_blocked" "$named" "$mode" >> "$tmp/results.jsonl" <<'EOF'
import json, sys
arm, r, bulk, serial, parallel, ticks, queued, evil, named, mode = sys.argv[1:11]
size, speed = bulk.split()
print(json.dumps({"arm": arm, "round": int(r), "bulk_bytes": int(size), "bulk_Bps": float(speed),
                  "serial": json.loads(serial), "parallel": json.loads(parallel), "cpu_ticks": int(ticks),
                  "packets_queued": int(queued), "evil_blocked": json.loads(evil),
                  "attributed": int(named), "attribution": mode}))
EOF
  echo "bench: round $r $arm done" >&2
}

for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then round none "$r"; round agent "$r"; else round agent "$r"; round none "$r"; fi
done

python3 - "$tmp/results.jsonl" "$CONNS" "$INDICATORS" "$ATTRIBUTION" <<'EOF'
import json, os, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
conns, indicators, attribution = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tick = os.sysconf("SC_CLK_TCK")
bad = []
for x in rows:
    tag = f"round {x['round']} {x['arm']}"
    if x["bulk_bytes"] != 200 * 1024 * 1024:
        bad.append(f"{tag}: downloaded {x['bulk_bytes']} bytes, not 200 MiB")
    for k in ("serial", "parallel"):
        if x[k]["failed"] or x[k]["ok"] != conns:
            bad.append(f"{tag}: {k}: {x[k]['failed']} of {conns} connections failed")
    if x["arm"] == "agent" and x["evil_blocked"] is not True:
        bad.append(f"{tag}: evil.test was not blocked")
    # Each connection's first packet after the handshake (its ClientHello)
    # at least: its SYN, SYN-ACK and handshake ACK are not queued.
    if x["arm"] == "agent" and x["packets_queued"] < 2 * conns:
        bad.append(f"{tag}: only {x['packets_queued']} packets queued for {2 * conns} connections: the agent did not see the traffic")
    if x["arm"] == "agent" and x["attribution"] != attribution:
        bad.append(f"{tag}: attribution runs as {x['attribution']}, not {attribution}")
    if x["arm"] == "agent" and attribution != "off" and x["attributed"] != 2 * conns:
        counts = open(os.path.join(os.path.dirname(sys.argv[1]), f"attribution-{x['round']}.json")).read().strip()
        bad.append(f"{tag}: {x['attributed']} of {2 * conns} connections named python3 as their process (agent's counts: {counts})")

def pct(lat, p):
    return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

def med(arm, f):
    return st.median(f(x) for x in rows if x["arm"] == arm)

m = {}
for arm in ("none", "agent"):
    m[arm] = {
        "bulk": med(arm, lambda x: x["bulk_Bps"] / 1e6),
        "serial": med(arm, lambda x: x["serial"]["ok"] / x["serial"]["seconds"]),
        "parallel": med(arm, lambda x: x["parallel"]["ok"] / x["parallel"]["seconds"]),
        "p50": med(arm, lambda x: pct(x["serial"]["latency_us"], 50)),
        "p99": med(arm, lambda x: pct(x["serial"]["latency_us"], 99)),
    }
cpu = st.median(x["cpu_ticks"] / tick / (2 * conns) * 1000 for x in rows if x["arm"] == "agent")
n, a = m["none"], m["agent"]
print(f"live agent in block mode with {indicators:,} indicators, attribution {attribution}, vs no agent; {len(rows)//2} rounds each, alternating; medians")
print(f"machine: {os.cpu_count()} cores, {os.uname().release}")
print(f"{'measure':<34} {'no agent':>10} {'agent':>10} {'ratio':>7}  goal")
def line(name, key, unit, goal, ok):
    r = a[key] / n[key]
    print(f"{name:<34} {n[key]:>10.1f} {a[key]:>10.1f} {r:>7.3f}  {goal} {'met' if ok(r) else 'MISSED'}  ({unit})")
line("bulk download 200 MB", "bulk", "MB/s", ">= 0.95", lambda r: r >= 0.95)
line(f"{conns} HTTPS connections, serial", "serial", "conn/s", ">= 0.90", lambda r: r >= 0.90)
line(f"{conns} HTTPS connections, 8 parallel", "parallel", "conn/s", ">= 0.90", lambda r: r >= 0.90)
for p in ("p50", "p99"):
    added = (a[p] - n[p]) / 1000
    goal = "< 1 ms " + ("met" if added < 1 else "MISSED") if p == "p99" else ""
    print(f"{'connect + TLS handshake ' + p:<34} {n[p]/1000:>10.3f} {a[p]/1000:>10.3f} {'':>7}  added {added:.3f} ms {goal} (ms)")
print(f"agent CPU per 1,000 connections: {cpu * 1000:.1f} ms (user + system, over serial + parallel)")
if bad:
    print("bench: FAIL: the answers differ:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
echo "versions: $("$NETWARD" --version | head -1); $(curl --version | head -1 | cut -d' ' -f1-2); nginx $(ip netns exec "$NW_NS_SRV" nginx -v 2>&1 | cut -d/ -f2)"
