#!/usr/bin/env bash
# bench/portal.sh — the web portal on a large store.
#
# Makes a store as a user would (gen_export: $EVENTS DeviceNetworkEvents rows
# of a fleet over a week, piped into `netward import`), starts `netward
# portal` on loopback, logs in with curl, then asks, $REPEAT times each:
#   first     /timeline                               (newest 50 events)
#   blocked   /timeline?action=ExploitGuardNetworkProtectionBlocked
#   remote    /timeline?remote=evil                   (RemoteUrl contains / RemoteIP ==)
#   older     the "older" link of the first page      (the cursor's page)
# reading the portal's own time of each answer from its Server-Timing header
# (query included, network excluded) and printing p50/p99 beside the goal
# (p99 under 100 ms). Then one hunting query, alternately $HUNT_REPEAT times:
#   cli       netward hunt --format csv 'KQL'         (a new process, wall clock)
#   portal    curl /hunt.csv?q=KQL                    (wall clock of the request)
# and prints both medians and their ratio (goal: the portal within 10% of the
# CLI); different answers fail the script.
#
#   cargo build --release -p netward -p netward-store --example gen_export
#   bench/portal.sh
#
# Env: NETWARD (target/release/netward), GEN (target/release/examples/gen_export),
# EVENTS (10000000), REPEAT (100), HUNT_REPEAT (5), KEEP=1 keeps the data dir.
# Listens on 127.0.0.1 only. Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
NETWARD=${NETWARD:-target/release/netward}
GEN=${GEN:-target/release/examples/gen_export}
EVENTS=${EVENTS:-10000000}
REPEAT=${REPEAT:-100}
HUNT_REPEAT=${HUNT_REPEAT:-5}
for b in "$NETWARD" "$GEN"; do
    [ -x "$b" ] || { echo "error: $b not built (see the header of $0)" >&2; exit 1; }
done
DIR=$(mktemp -d /var/tmp/portal-bench.XXXXXX)
PORTAL_PID=
cleanup() {
    [ -n "$PORTAL_PID" ] && kill "$PORTAL_PID" 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT
export NETWARD_DATA_DIR="$DIR/data"

t0=$(date +%s.%N)
"$GEN" "$EVENTS" | "$NETWARD" import /dev/stdin 2> "$DIR/import.log" || { cat "$DIR/import.log" >&2; exit 1; }
t1=$(date +%s.%N)
tail -1 "$DIR/import.log"
printf 'import: %.1f s, store %s MB\n' "$(echo "$t1 - $t0" | bc)" "$(du -sm "$NETWARD_DATA_DIR/store" | cut -f1)"

PW="bench password 1"
echo "$PW" | "$NETWARD" portal user add bench --role analyst 2>/dev/null
"$NETWARD" portal --listen 127.0.0.1:0 > "$DIR/portal.out" 2> "$DIR/portal.err" &
PORTAL_PID=$!
for _ in $(seq 100); do grep -q listening "$DIR/portal.out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' "$DIR/portal.out" | head -1)
URL=${URL%/}
[ -n "$URL" ] || { cat "$DIR/portal.err" >&2; exit 1; }
JAR="$DIR/cookies"
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$JAR" --data-urlencode user=bench --data-urlencode "password=$PW" "$URL/login")
[ "$code" = 303 ] || { echo "error: login answered $code" >&2; exit 1; }

# The portal's time of one answer, ms (and the body in $DIR/body).
server_ms() {
    curl -s -b "$JAR" -D "$DIR/head" -o "$DIR/body" "$URL$1"
    grep -q '^HTTP/1.1 200' "$DIR/head" || { echo "error: $1: $(head -1 "$DIR/head")" >&2; exit 1; }
    tr -d '\r' < "$DIR/head" | sed -n 's/^server-timing: app;dur=//Ip'
}

# p50 and p99 of numbers on stdin.
pct() { sort -n | awk '{a[NR]=$1} END {i50=int((NR+1)*0.50); i99=int(NR*0.99+0.999); if (i99<1) i99=1; if (i99>NR) i99=NR; printf "p50 %8.1f ms   p99 %8.1f ms   (n=%d)", a[i50], a[i99], NR}'; }

server_ms /timeline > /dev/null
OLDER=$(grep -o 'id="older" href="[^"]*"' "$DIR/body" | sed 's/.*href="//; s/"$//; s/&amp;/\&/g')
[ -n "$OLDER" ] || { echo "error: no older link on the first page" >&2; exit 1; }
rows=$(grep -o '&amp;rid=' "$DIR/body" | wc -l)
echo "first page: $rows rows; goal: p99 under 100 ms (server time)"
for page in "first:/timeline" "blocked:/timeline?action=ExploitGuardNetworkProtectionBlocked" \
    "remote:/timeline?remote=evil" "older:$OLDER"; do
    name=${page%%:*}; path=${page#*:}
    server_ms "$path" > /dev/null  # warm
    for _ in $(seq "$REPEAT"); do server_ms "$path"; done > "$DIR/t-$name"
    printf '%-8s %s\n' "$name" "$(pct < "$DIR/t-$name")"
done

KQL='DeviceNetworkEvents | where RemoteUrl contains "evil" | summarize c = count() by RemoteUrl | order by RemoteUrl asc'
Q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$KQL")
: > "$DIR/cli"; : > "$DIR/web"; : > "$DIR/web-server"
for _ in $(seq "$HUNT_REPEAT"); do
    s=$(date +%s.%N)
    "$NETWARD" --format csv hunt "$KQL" > "$DIR/cli.csv"
    e=$(date +%s.%N)
    echo "($e - $s) * 1000" | bc >> "$DIR/cli"
    curl -s -b "$JAR" -D "$DIR/head" -o "$DIR/web.csv" -w '%{time_total}\n' "$URL/hunt.csv?q=$Q" \
        | awk '{print $1 * 1000}' >> "$DIR/web"
    tr -d '\r' < "$DIR/head" | sed -n 's/^server-timing: app;dur=//Ip' >> "$DIR/web-server"
done
# Same answer: the portal quotes every cell, the CLI only where needed.
if ! diff <(tr -d '"' < "$DIR/cli.csv") <(tr -d '"\r' < "$DIR/web.csv") > /dev/null; then
    echo "error: the answers differ" >&2; diff <(tr -d '"' < "$DIR/cli.csv") <(tr -d '"\r' < "$DIR/web.csv") >&2 || true; exit 1
fi
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c=$(med < "$DIR/cli"); w=$(med < "$DIR/web"); ws=$(med < "$DIR/web-server")
echo "hunting ($(($(wc -l < "$DIR/cli.csv") - 1)) rows): $KQL"
printf 'cli (whole process) median %8.1f ms\nportal (request)    median %8.1f ms (server %.1f ms)   ratio %.3f (goal <= 1.10)\n' \
    "$c" "$w" "$ws" "$(echo "$w / $c" | bc -l)"
