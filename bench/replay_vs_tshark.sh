#!/usr/bin/env bash
# bench/replay_vs_tshark.sh [FILE] — offline name extraction speed, netward vs tshark,
# on the same capture in one run.
#
# Without FILE it makes two, so both kinds of work are measured:
#   named: `$NETWARD gen-capture --flows $FLOWS --bulk-bytes 1024` — named flows
#          (TLS, CONNECT, proxy GETs, SOCKS, DNS, QUIC) are nearly all the bytes;
#   mixed: `$NETWARD gen-capture --flows $FLOWS` — the same mix with 1 MB bulk
#          transfers, which are most of the bytes.
# (FLOWS default 10000). Then, per capture, it times, REPEAT times each (default 3, best run kept),
#   netward replay FILE --format json                     > /dev/null
#   tshark -r FILE -n -Y <name-carrying packets> -T fields -e <SNI, Host, URI, DNS, SOCKS> > /dev/null
# and prints wall time, MB/s (10^6 bytes of capture per second) and flows/s for each,
# and netward's speed as a multiple of tshark's. Flows are counted once, untimed, as
# tshark's TCP + UDP conversations; the distinct names each tool found are compared
# too, as a check that both did the same work: any name found by only one of
# them fails the script (exit 1) after the figures are printed.
#
# env: NETWARD (default target/release/netward), FLOWS, REPEAT, KEEP=1 keeps the temp dir.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
file=${1:-}
[ -n "$file" ] && { [ -f "$file" ] || { echo "bench: no such file: $file" >&2; exit 2; }; file=$(realpath "$file"); }
cd "$repo"
NETWARD=${NETWARD:-target/release/netward}
FLOWS=${FLOWS:-10000}
REPEAT=${REPEAT:-3}

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$NETWARD" ] || die "netward binary not found at '$NETWARD' (build: cargo build --release -p netward, or set NETWARD=path)"
command -v tshark >/dev/null || die "tshark not found (Debian: apt-get install tshark)"
"$NETWARD" replay --help >/dev/null 2>&1 || die "'$NETWARD replay' is not available in this build"

tmp=$(mktemp -d /tmp/nw-bench.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$tmp"' EXIT

gen() { # label, extra gen-capture args... -> path of the generated capture
  local label=$1; shift
  local out=$tmp/gen-$label-$FLOWS.pcap
  echo "generating $label capture, $FLOWS flows: $NETWARD gen-capture --flows $FLOWS $* --out $out" >&2
  "$NETWARD" gen-capture --flows "$FLOWS" "$@" --out "$out" >&2
  echo "$out"
}
if [ -n "$file" ]; then
  captures=("$file")
else
  "$NETWARD" gen-capture --help >/dev/null 2>&1 ||
    die "'$NETWARD gen-capture' is not available in this build; pass a capture file instead: $0 FILE.pcap"
  captures=("$(gen named --bulk-bytes 1024)" "$(gen mixed)")
fi

# Packets that carry a name, and the fields that hold it (TLS SNI also covers QUIC
# Initials, which tshark decrypts; socks.remote_name is a SOCKS5 CONNECT by name).
TSHARK_FILTER='tls.handshake.type == 1 || http.request || dns || socks.remote_name'
TSHARK_FIELDS=(-e frame.number -e tls.handshake.extensions_server_name -e http.request.method
               -e http.host -e http.request.uri -e dns.qry.name -e dns.a -e socks.remote_name)
bench_one() { # capture file; sets differs=1 when the two tools' names differ
  local file=$1
  run_netward() { "$NETWARD" replay "$file" --format json 2>"$tmp/netward.err"; }
  run_tshark()  { tshark -r "$file" -n -Y "$TSHARK_FILTER" -T fields "${TSHARK_FIELDS[@]}" 2>/dev/null; }

  bytes=$(stat -c %s "$file")
  flows=$(tshark -r "$file" -n -q -z conv,tcp -z conv,udp 2>/dev/null | grep -c '<->' || true)
  [ "$flows" -ge 10000 ] || echo "bench: note: only $flows flows; below 10000 start-up time dominates the figures" >&2
  cat "$file" > /dev/null   # both runs start from a warm page cache

  # Untimed runs: the distinct destination names each found, as a check that both did
  # the same work (netward: RemoteUrl of its events; tshark: SNI, Host, CONNECT
  # authority, DNS query and SOCKS name, without port or trailing dot, lower case).
  run_netward > "$tmp/netward.jsonl" || die "netward replay failed: $(tail -3 "$tmp/netward.err")"
  run_tshark > "$tmp/tshark.tsv"
  grep -o '"RemoteUrl":"[^"]*"' "$tmp/netward.jsonl" | cut -d'"' -f4 \
    | sed -E 's#^[a-z]+://##; s#[/?].*$##; s#:[0-9]+$##; s#\.$##' | tr '[:upper:]' '[:lower:]' | sed '/^$/d' | sort -u > "$tmp/netward.names"
  awk -F'\t' '{ print $2; print $4; print $6; print $8; if ($3 == "CONNECT") print $5 }' "$tmp/tshark.tsv" \
    | tr ',' '\n' | sed -E 's#:[0-9]+$##; s#\.$##' | tr '[:upper:]' '[:lower:]' | sed '/^$/d' | sort -u > "$tmp/tshark.names"
  nw_names=$(wc -l < "$tmp/netward.names")
  ts_names=$(wc -l < "$tmp/tshark.names")
  both=$(comm -12 "$tmp/netward.names" "$tmp/tshark.names" | wc -l)

  best() { # command-name -> best wall seconds over REPEAT runs, output to /dev/null
    local t0 t1 b=""
    for _ in $(seq "$REPEAT"); do
      t0=$(date +%s.%N); "$1" > /dev/null; t1=$(date +%s.%N)
      b=$(echo "$t0 $t1 ${b:-inf}" | awk '{d=$2-$1; if ($3=="inf" || d<$3) print d; else print $3}')
    done
    echo "$b"
  }
  t_nw=$(best run_netward)
  t_ts=$(best run_tshark)

  printf 'capture: %s\n  %d bytes (%.1f MB), %d flows (tshark TCP+UDP conversations)\n' \
    "$file" "$bytes" "$(echo "$bytes" | awk '{print $1/1e6}')" "$flows"
  printf 'machine: %s cores, %s; best of %d runs each\n' "$(nproc)" "$(uname -r)" "$REPEAT"
  printf '%-8s %9s %10s %12s  %s\n' tool seconds MB/s flows/s "distinct names"
  for row in "netward $t_nw $nw_names" "tshark $t_ts $ts_names"; do
    read -r tool secs names <<< "$row"
    awk -v n="$tool" -v t="$secs" -v b="$bytes" -v f="$flows" -v k="$names" \
      'BEGIN { printf "%-8s %9.3f %10.1f %12.0f  %s\n", n, t, b/1e6/t, f/t, k }'
  done
  echo "names found by both: $both (only netward: $((nw_names - both)), only tshark: $((ts_names - both)); KEEP=1 keeps the lists in $tmp)"
  awk -v a="$t_nw" -v b="$t_ts" 'BEGIN { printf "netward is %.1fx the speed of tshark (tshark time / netward time)\n", b/a }'
  if [ "$nw_names" != "$both" ] || [ "$ts_names" != "$both" ]; then
    echo "bench: FAIL: the two tools found different names in $file (KEEP=1 keeps the lists)" >&2
    differs=1
  fi
}

differs=0
for f in "${captures[@]}"; do
  echo
  bench_one "$f"
done
echo "versions: $("$NETWARD" --version 2>/dev/null | head -1); $(tshark -v 2>/dev/null | head -1)"
[ "$differs" = 0 ] || exit 1
