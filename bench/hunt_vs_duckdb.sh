#!/usr/bin/env bash
# netward hunt vs DuckDB, whole process each, over the same Parquet files.
#
# Makes a store as a user would: a synthetic Streaming API export of
# $EVENTS DeviceNetworkEvents rows (+ DeviceInfo rows) piped into
# `netward import` (which rolls the live log into Parquet at the end). Then
# for each of five typical questions it runs, alternating, REPEAT times each:
#   netward --data-dir D hunt --format csv 'KQL'              (a new process)
#   python3 -c 'import duckdb; ...read_parquet(the store's segments)...'
# timing each whole process by wall clock, and prints the medians, their
# ratio, and both answers; a difference in answers fails the script.
#
#   cargo build --release -p netward && cargo build --release -p netward-store --example gen_export
#   bench/hunt_vs_duckdb.sh
#
# Env: NETWARD (target/release/netward), GEN (target/release/examples/gen_export),
# EVENTS (10000000), REPEAT (5), KEEP=1 keeps the data dir. Needs python3 with
# duckdb (`pip install duckdb`). Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
NETWARD=${NETWARD:-target/release/netward}
GEN=${GEN:-target/release/examples/gen_export}
EVENTS=${EVENTS:-10000000}
REPEAT=${REPEAT:-5}
for b in "$NETWARD" "$GEN"; do
    [ -x "$b" ] || { echo "error: $b not built (see the header of $0)" >&2; exit 1; }
done
python3 -c 'import duckdb' 2>/dev/null || { echo "error: python3 cannot import duckdb (pip install duckdb)" >&2; exit 1; }
DIR=$(mktemp -d /var/tmp/hunt-vs-duckdb.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$DIR"' EXIT
export NETWARD_DATA_DIR="$DIR/data"

t0=$(date +%s.%N)
"$GEN" "$EVENTS" | "$NETWARD" import /dev/stdin 2> "$DIR/import.log" || { cat "$DIR/import.log" >&2; exit 1; }
t1=$(date +%s.%N)
tail -1 "$DIR/import.log"
S="$NETWARD_DATA_DIR/store"
segs=$(ls "$S"/seg-*.parquet | wc -l)
logb=$(stat -c %s "$S"/wal-*.log | paste -sd+ | bc)
printf 'import: %.1f s, %s segments (%s MB), live log %s bytes\n' "$(echo "$t1 - $t0" | bc)" "$segs" \
    "$(du -sm "$S" | cut -f1)" "$logb"
DNE="$S/seg-*-DeviceNetworkEvents.parquet"
INFO="$S/seg-*-DeviceInfo.parquet"

# name, KQL, and SQL for DuckDB over the same segment files
NAMES=(contains_host last_hour_by_device device_5m_bins top_domains join_device_info)
KQLS=(
"DeviceNetworkEvents | where RemoteUrl contains 'evil' | count"
"DeviceNetworkEvents | where Timestamp > datetime(2024-03-07T23:00:00Z) | summarize n = count() by DeviceId | count"
"DeviceNetworkEvents | summarize count() by DeviceId, bin(Timestamp, 5m) | count"
"DeviceNetworkEvents | summarize c = count() by RemoteUrl | top 10 by c | summarize sum(c)"
"DeviceNetworkEvents | join kind=inner (DeviceInfo | project DeviceId, OSVersion) on DeviceId | where OSVersion == '6.1' | count"
)
SQLS=(
"SELECT count(*) FROM read_parquet('$DNE') WHERE RemoteUrl ILIKE '%evil%'"
"SELECT count(DISTINCT DeviceId) FROM read_parquet('$DNE') WHERE \"Timestamp\" > TIMESTAMPTZ '2024-03-07 23:00:00+00'"
"SELECT count(*) FROM (SELECT DeviceId, epoch_ns(\"Timestamp\") // 300000000000 b FROM read_parquet('$DNE') GROUP BY 1, 2)"
"SELECT sum(c) FROM (SELECT RemoteUrl, count(*) c FROM read_parquet('$DNE') GROUP BY 1 ORDER BY c DESC LIMIT 10)"
"SELECT count(*) FROM read_parquet('$DNE') d JOIN (SELECT DeviceId, OSVersion FROM read_parquet('$INFO')) i USING (DeviceId) WHERE i.OSVersion = '6.1'"
)

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fail=0
echo
echo "$EVENTS events; whole process each, median of $REPEAT alternating runs; threads: both use all $(nproc) cores"
echo "| question | netward hunt (ms) | duckdb (ms) | netward / duckdb | answers |"
echo "|---|---|---|---|---|"
for i in "${!NAMES[@]}"; do
    name=${NAMES[$i]}; kql=${KQLS[$i]}; sql=${SQLS[$i]}
    : > "$DIR/n.t"; : > "$DIR/d.t"
    for _ in $(seq "$REPEAT"); do
        a=$(now); nans=$("$NETWARD" --format csv hunt --timeout 600 "$kql" | tail -1); b=$(now)
        echo $(( (b - a) / 1000000 )) >> "$DIR/n.t"
        a=$(now); dans=$(python3 -c "import duckdb,sys; print(duckdb.connect().execute(sys.argv[1]).fetchall()[0][0])" "$sql"); b=$(now)
        echo $(( (b - a) / 1000000 )) >> "$DIR/d.t"
    done
    nm=$(median < "$DIR/n.t"); dm=$(median < "$DIR/d.t")
    if [ "$nans" = "$dans" ]; then same="equal ($nans)"; else same="DIFFER: $nans vs $dans"; fail=1; fi
    echo "| $name | $nm | $dm | $(echo "scale=2; $nm / $dm" | bc)x | $same |"
done
[ "$fail" = 0 ] || { echo "error: the answers differ" >&2; exit 1; }
