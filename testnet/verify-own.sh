#!/usr/bin/env bash
# testnet/verify-own.sh [DIR] — checks every row of DIR/EXPECTED.tsv (default
# testdata/own) against its capture with tshark, independently of netward.
#
# For each row, every source named in learned_from (joined by '+') must yield the
# expected name on a flow to remote_ip:remote_port, after canonicalising what tshark
# shows (lower case, no port, no trailing dot):
#   tls-sni       tls.handshake.extensions_server_name of a ClientHello
#   http-connect  the authority of a CONNECT request
#   http-uri      the host of an absolute-form request-target
#   http-host     the Host header
#   socks5        socks.remote_name of a SOCKS5 CONNECT
#   dns           a DNS response for the name (and, when remote_ip is set, an A
#                 answer for remote_ip)
#   dns-answer    an A answer name -> remote_ip, and a ClientHello to remote_ip
#                 that carries no SNI (so DNS is the only source of the name)
# Some captures have extra shape checks (one keep-alive stream, a split ClientHello).
# Ends with "N passed, N failed"; exits 1 if any check failed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-$here/../testdata/own}
command -v tshark >/dev/null || { echo "verify-own: tshark not found (Debian: tshark)" >&2; exit 1; }
pass=0 fail=0

ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
ts()  { tshark -r "$1" -Y "$2" -T fields -E occurrence=a -E aggregator=, -e "$3" 2>/dev/null; }
canon() { # one name per line in, canonical names out
  tr ',' '\n' | sed -E 's#^[a-zA-Z][a-zA-Z0-9+.-]*://##; s#/.*$##; s#^.*@##; s#:[0-9]*$##; s#\.$##' \
    | tr '[:upper:]' '[:lower:]' | sed '/^$/d'
}
has() { grep -qxF -- "$1"; }

flow() { # "ip port" -> display-filter clause for the client's direction
  local f=""
  [ "$1" != - ] && f="ip.dst==$1"
  [ "$2" != - ] && f="$f${f:+ && }$3.dstport==$2"
  printf '%s' "${f:-frame}"
}

check_row() {
  local pcap=$1 proto=$2 rip=$3 rport=$4 name=$5 learned=$6 f=$dir/$1 src fl got
  [ -f "$f" ] || { bad "$pcap: missing"; return; }
  fl=$(flow "$rip" "$rport" "$proto")
  for src in ${learned//+/ }; do
    case $src in
      tls-sni)      got=$(ts "$f" "tls.handshake.type==1 && $fl" tls.handshake.extensions_server_name) ;;
      http-connect) got=$(ts "$f" "http.request.method==\"CONNECT\" && $fl" http.request.uri) ;;
      http-uri)     got=$(ts "$f" "http.request && $fl" http.request.uri) ;;
      http-host)    got=$(ts "$f" "http.request && $fl" http.host) ;;
      socks5)       got=$(ts "$f" "socks.command==1 && $fl" socks.remote_name) ;;
      dns)          got=$(ts "$f" "dns.flags.response==1" dns.qry.name) ;;
      dns-answer)   got=$(ts "$f" "dns.flags.response==1 && dns.a==$rip" dns.qry.name)
                    if [ -z "$(ts "$f" "tls.handshake.type==1 && $fl && !tls.handshake.extensions_server_name" frame.number)" ]; then
                      bad "$pcap $name: no SNI-less ClientHello to $rip:$rport"; continue
                    fi ;;
      *)            bad "$pcap $name: unknown learned_from '$src'"; continue ;;
    esac
    if printf '%s\n' "$got" | canon | has "$name"; then
      ok "$pcap $name via $src"
    else
      bad "$pcap $name via $src: tshark saw [$(printf '%s' "$got" | tr '\n' ' ')]"
    fi
  done
}

check_shape() { # per-capture checks that the rows cannot express
  local f=$dir/$1 n
  [ -f "$f" ] || return
  n=$(stat -c %s "$f")
  if [ "$n" -lt 204800 ]; then ok "$1 size $n < 200 KB"; else bad "$1 size $n >= 200 KB"; fi
  case $1 in
    proxy-get-keepalive.pcap)
      n=$(ts "$f" http.request tcp.stream | sort -u | wc -l)
      local reqs; reqs=$(ts "$f" http.request frame.number | wc -l)
      if [ "$n" = 1 ] && [ "$reqs" -ge 3 ]; then ok "$1: $reqs requests on one TCP stream"
      else bad "$1: $reqs requests on $n TCP streams (want >= 3 on 1)"; fi ;;
    split-clienthello.pcap)
      n=$(ts "$f" tls.handshake.type==1 tcp.segment.count)
      if [ "${n:-0}" -ge 2 ]; then ok "$1: ClientHello reassembled from $n TCP segments"
      else bad "$1: ClientHello in ${n:-?} segment(s), want >= 2"; fi
      n=$(ts "$f" dns frame.number | wc -l)
      if [ "$n" = 0 ]; then ok "$1: no DNS"; else bad "$1: $n DNS packets"; fi ;;
    socks5-ip.pcap)
      n=$(ts "$f" "socks.command==1 && socks.remote_name" frame.number | wc -l)
      if [ "$n" = 0 ]; then ok "$1: SOCKS CONNECT carries no name"; else bad "$1: SOCKS CONNECT names a host"; fi
      n=$(ts "$f" dns frame.number | wc -l)
      if [ "$n" = 0 ]; then ok "$1: no DNS"; else bad "$1: $n DNS packets"; fi ;;
    dns-named.pcap)
      n=$(ts "$f" tls.handshake.extensions_server_name frame.number | wc -l)
      if [ "$n" = 0 ]; then ok "$1: no SNI anywhere"; else bad "$1: $n frames carry SNI"; fi ;;
  esac
}

[ -f "$dir/EXPECTED.tsv" ] || { echo "verify-own: $dir/EXPECTED.tsv not found" >&2; exit 1; }
while IFS=$'\t' read -r pcap proto rip rport name learned _note; do
  case $pcap in ''|'#'*) continue ;; esac
  check_row "$pcap" "$proto" "$rip" "$rport" "$name" "$learned"
done < "$dir/EXPECTED.tsv"
for p in $(cut -f1 "$dir/EXPECTED.tsv" | grep -v '^#' | sort -u); do check_shape "$p"; done
echo "verify-own: $pass passed, $fail failed"
[ "$fail" = 0 ]
