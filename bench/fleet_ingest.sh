#!/usr/bin/env bash
# bench/fleet_ingest.sh — the fleet server: ingest rate and event-to-query latency.
#
# Starts a real `netward server` on loopback (TLS, generated certificate,
# segments in its data directory's object store: the local file system) and
# $DEVICES devices in their own data directories, each filled with $EVENTS
# DeviceNetworkEvents rows by `netward import` of the store's example
# generator (gen_export, relabelled to the device's own DeviceId with
# ReportIds 1..$EVENTS, since a device token may only write its own device).
#
# 1. Ingest: all devices run `netward sync` at once; the rate is all rows
#    over the wall clock from the first start to the last exit (each sync
#    ends only when the server has acknowledged every row, i.e. made it
#    durable in its append log).
#    Check: a fleet query finds, per device, $EVENTS rows, $EVENTS distinct
#    ReportIds, 1..$EVENTS; otherwise the script fails.
# 2. Latency: every device runs `netward sync --follow` (the agent's fleet
#    link); $PROBES times, one probe row is imported on a device (round
#    robin; the import returns when the row is durable on the device) and
#    `netward hunt --server` is asked every $POLL s until it finds it. The
#    time from the import's return to the answer that found it (the
#    query's own time included); p50/p99/max. Check: at the end every
#    probe is found exactly once.
#
#   cargo build --release -p netward -p netward-store --bins --examples
#   bench/fleet_ingest.sh
#
# Env: NETWARD (target/release/netward), GEN (target/release/examples/gen_export),
# DEVICES (8), EVENTS (1000000 per device), BATCH (8192 rows per upload),
# IN_FLIGHT (4 uploads per device), MAX_UPLOADS (server: bodies stored at once, 8),
# PROBES (50), POLL (0.05), KEEP=1 keeps the data dirs. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
NETWARD=${NETWARD:-target/release/netward}
GEN=${GEN:-target/release/examples/gen_export}
DEVICES=${DEVICES:-8}
EVENTS=${EVENTS:-1000000}
BATCH=${BATCH:-8192}
IN_FLIGHT=${IN_FLIGHT:-4}
MAX_UPLOADS=${MAX_UPLOADS:-8}
PROBES=${PROBES:-50}
POLL=${POLL:-0.05}
for b in "$NETWARD" "$GEN"; do
    [ -x "$b" ] || { echo "error: $b not built (see the header of $0)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "error: python3 is needed (relabelling, percentiles)" >&2; exit 1; }
DIR=$(mktemp -d /var/tmp/fleet-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
nw() { "$NETWARD" --data-dir "$1" "${@:2}"; }
SRV="$DIR/server"
mkdir -p "$SRV"

# --- the server
nw "$SRV" server --listen 127.0.0.1:0 --max-uploads "$MAX_UPLOADS" > "$DIR/server.out" 2> "$DIR/server.err" &
PIDS+=($!)
for _ in $(seq 200); do grep -q listening "$DIR/server.out" 2>/dev/null && break; sleep 0.05; done
read -r _ _ _ _ URL _ FP < "$DIR/server.out" || fail "server did not start: $(cat "$DIR/server.err")"
URL=${URL%/}
HUNT_TOKEN=$(nw "$SRV" server token add --hunt 2>/dev/null)
hunt() { nw "$SRV" --format csv hunt --server "$URL" --fingerprint "$FP" --token "$HUNT_TOKEN" "$1"; }
echo "server $URL ($(grep -o 'segments in .*' "$DIR/server.err"))"

# --- the devices: one generated export, relabelled per device
t0=$(date +%s.%N)
"$GEN" "$EVENTS" | python3 -c '
import re, sys
dev = re.compile(r"\"DeviceId\":\"[^\"]*\"")
rid = re.compile(r"\"ReportId\":-?[0-9]+")
n = 0
out = sys.stdout
for line in sys.stdin:
    if "AdvancedHunting-DeviceNetworkEvents" not in line:
        continue
    n += 1
    line = dev.sub("\"DeviceId\":\"@DEV@\"", line, count=1)
    line = rid.sub("\"ReportId\":%d" % n, line, count=1)
    out.write(line)
' > "$DIR/rows.jsonl"
[ "$(wc -l < "$DIR/rows.jsonl")" = "$EVENTS" ] || fail "generator gave $(wc -l < "$DIR/rows.jsonl") rows, not $EVENTS"
for i in $(seq "$DEVICES"); do
    id=$(printf 'bench-dev-%02d' "$i")
    d="$DIR/$id"
    mkdir -p "$d"
    tok=$(nw "$SRV" --device-id "$id" server token add 2>/dev/null)
    printf '[server]\nurl = "%s"\ntoken = "%s"\nfingerprint = "%s"\n' "$URL" "$tok" "$FP" > "$d.toml"
    sed "s/@DEV@/$id/" "$DIR/rows.jsonl" | nw "$d" --device-id "$id" import --table DeviceNetworkEvents /dev/stdin \
        2> "$d.import.log" || fail "import $id: $(cat "$d.import.log")"
done
rm -f "$DIR/rows.jsonl"
t1=$(date +%s.%N)
printf 'devices: %d x %d events, filled in %.1f s\n' "$DEVICES" "$EVENTS" "$(echo "$t1 - $t0" | bc)"

dev() { nw "$DIR/$1" --config "$DIR/$1.toml" --device-id "$1" "${@:2}"; }
ids() { for i in $(seq "$DEVICES"); do printf 'bench-dev-%02d\n' "$i"; done; }

# --- 1. ingest: every device syncs at once
SYNCS=()
t0=$(date +%s.%N)
for id in $(ids); do
    dev "$id" sync --batch-rows "$BATCH" --in-flight "$IN_FLIGHT" > "$DIR/$id.sync.out" 2> "$DIR/$id.sync.err" &
    SYNCS+=($!)
done
for p in "${SYNCS[@]}"; do wait "$p" || fail "a sync failed: $(cat "$DIR"/*.sync.err)"; done
t1=$(date +%s.%N)
total=$((DEVICES * EVENTS))
secs=$(echo "$t1 - $t0" | bc)
rate=$(echo "$total / $secs" | bc)
printf 'ingest: %d events from %d devices in %.2f s = %d events/s (goal >= 500000)\n' "$total" "$DEVICES" "$secs" "$rate"

# Every event arrived once: per device, rows, distinct ReportIds, min, max.
# (dcount is exact in netward: rows = ids = N with ids in 1..N means each once.)
hunt 'DeviceNetworkEvents
      | summarize rows = count(), ids = dcount(ReportId), lo = min(ReportId), hi = max(ReportId) by DeviceId
      | order by DeviceId asc' > "$DIR/check.csv" || fail "fleet query failed"
want=$(echo "DeviceId,rows,ids,lo,hi"; for id in $(ids); do echo "$id,$EVENTS,$EVENTS,1,$EVENTS"; done)
[ "$(cat "$DIR/check.csv")" = "$want" ] || fail "fleet counts differ:
$(diff <(echo "$want") "$DIR/check.csv")"
echo "check: every device's $EVENTS events are on the server exactly once"

# --- 2. latency: devices following, probes found by fleet queries
for id in $(ids); do
    dev "$id" sync --follow > /dev/null 2> "$DIR/$id.follow.err" &
    PIDS+=($!)
done
sleep 2
: > "$DIR/latency"
now_s() { date +%s.%N; }
for k in $(seq "$PROBES"); do
    i=$(( (k - 1) % DEVICES + 1 ))
    id=$(printf 'bench-dev-%02d' "$i")
    ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
    printf '{"Timestamp":"%s","DeviceId":"%s","ReportId":%d,"RemoteUrl":"probe-%d.fleet-bench","ActionType":"ConnectionSuccess"}\n' \
        "$ts" "$id" $((EVENTS + k)) "$k" > "$DIR/probe.json"
    dev "$id" import --table DeviceNetworkEvents "$DIR/probe.json" 2> "$DIR/probe.err" || fail "probe import: $(cat "$DIR/probe.err")"
    a=$(now_s)
    found=
    for _ in $(seq 600); do
        n=$(hunt "DeviceNetworkEvents | where RemoteUrl == 'probe-$k.fleet-bench' | count" | tail -1)
        if [ "$n" = 1 ]; then found=$(now_s); break; fi
        sleep "$POLL"
    done
    [ -n "$found" ] || fail "probe $k (on $id) not found within the poll limit"
    echo "$found - $a" | bc >> "$DIR/latency"
done
python3 - "$DIR/latency" <<'EOF'
import math, sys
v = sorted(float(x) for x in open(sys.argv[1]))
p = lambda q: v[min(len(v) - 1, math.ceil(q * len(v)) - 1)]
print(f"latency (stored on a device -> found by a fleet query), {len(v)} probes: "
      f"p50 {p(0.5):.2f} s, p99 {p(0.99):.2f} s, max {v[-1]:.2f} s (goal p99 < 5 s)")
EOF
hunt "DeviceNetworkEvents | where RemoteUrl endswith '.fleet-bench' | summarize n = count() by RemoteUrl
      | summarize probes = count(), once = countif(n == 1)" | tail -1 > "$DIR/probes.csv"
[ "$(cat "$DIR/probes.csv")" = "$PROBES,$PROBES" ] || fail "probes on the server (probes,once): $(cat "$DIR/probes.csv"), want $PROBES,$PROBES"
echo "check: every probe found exactly once"
