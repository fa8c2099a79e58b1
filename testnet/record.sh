#!/usr/bin/env bash
# testnet/record.sh [OUTDIR] — records testdata/own: one capture per scenario, made by
# real clients (curl, openssl s_client, dig) through real squid, danted, nginx (TLS)
# and dnsmasq, captured with tcpdump on the client's interface (cli0, full snaplen).
#
# Uses its own topology (prefix "nwrec", classic addresses: client 198.18.1.2, proxy
# 198.18.1.1 :3128 squid / :1080 danted, servers 198.18.2.2 good+DNS, .3 evil, .4 phish)
# with NIC offloads off so the captures look like a wire. Tears it down on exit, then
# checks every row of OUTDIR/EXPECTED.tsv with tshark (testnet/verify-own.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../testdata/own}
mkdir -p "$out" && out=$(cd "$out" && pwd)
# shellcheck source=testnet/lib.sh
. "$here/lib.sh"

nw_layout nwrec classic
nw_require ip squid nginx dnsmasq danted openssl curl tcpdump dig tshark ethtool || exit $?
trap 'nw_down' EXIT
NW_WIRE_LIKE=1 nw_up >/dev/null

CLI() { ip netns exec "$NW_NS_CLI" "$@"; }
CURL=(curl -sS -o /dev/null --max-time 10 --cacert "$NW_CA")
cap_pid=""

cap_start() { # file
  local err=$NW_STATE/tcpdump.err
  : > "$err"
  # -U --immediate-mode: every packet reaches the file at once, so stopping loses none;
  # -Z root: write as root (Debian's tcpdump otherwise drops to user tcpdump).
  # Started directly (not through a shell function), so $! is tcpdump itself.
  ip netns exec "$NW_NS_CLI" tcpdump -i cli0 -s 0 -U --immediate-mode -Z root -w "$1" 2>"$err" &
  cap_pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$err" && return 0; sleep 0.1; done
  echo "tcpdump did not start: $(cat "$err")" >&2; return 1
}

cap_stop() {
  sleep 0.3                     # let the last FIN/ACKs pass
  # SIGTERM, not SIGINT: a background job of a script starts with SIGINT ignored.
  kill -TERM "$cap_pid"; wait "$cap_pid" || true
  cap_pid=""
}

# record NAME: runs the rest of the arguments (a command) while capturing NAME.pcap.
record() {
  local name=$1; shift
  cap_start "$NW_STATE/$name.pcap"
  "$@"
  cap_stop
  cp "$NW_STATE/$name.pcap" "$out/$name.pcap"
  echo "recorded $name.pcap ($(stat -c %s "$out/$name.pcap") bytes)" >&2
}

P=$NW_HTTP_PROXY S=$NW_PROXY_IP:$NW_SOCKS_PORT

# 1. Name from DNS (dnsmasq), then TLS straight to nginx with that name as SNI.
record direct-tls CLI "${CURL[@]}" https://good.test/

# 2. CONNECT through squid, then TLS inside the tunnel (squid does the DNS).
record connect-tls CLI "${CURL[@]}" -x "$P" https://evil.test/

# 3. Three plain-HTTP requests for three hosts on one keep-alive proxy connection
#    (curl reuses a connection to the same HTTP proxy whatever the target host).
record proxy-get-keepalive CLI "${CURL[@]}" -x "$P" \
  http://good.test/ -o /dev/null http://www.evil.test/ -o /dev/null http://phish.test/

# 4. SOCKS5 CONNECT by name (danted resolves), then TLS.
record socks5-name CLI "${CURL[@]}" --socks5-hostname "$S" https://good.test/

# 5. SOCKS5 CONNECT by IPv4 address; --resolve keeps DNS out of the capture, so the
#    name exists only in the tunnelled ClientHello's SNI.
record socks5-ip CLI "${CURL[@]}" --socks5 "$S" --resolve "evil.test:443:$NW_EVIL_IP" https://evil.test/

# 6. A DNS answer, then TLS without SNI to that address: the name is only in DNS.
dns_then_nosni() {
  CLI dig +short @"$NW_DNS_IP" evil.test >/dev/null
  CLI openssl s_client -connect "$NW_EVIL_IP:443" -noservername </dev/null >/dev/null 2>&1
}
record dns-named dns_then_nosni

# 7. The ClientHello (517 bytes with curl/OpenSSL 3.0) over four TCP segments of 157
#    bytes, the first boundary falling inside the SNI name. MTU 209 gives MSS 157 with
#    timestamps; advmss tells the server the same (Linux never advertises less than
#    net.ipv4.route.min_adv_mss, 256, on its own, and the server's bigger segments
#    would be dropped). --resolve: no DNS, so only the reassembled SNI names the flow.
split_hello() {
  CLI ip link set cli0 mtu 209
  CLI ip route replace default via "$NW_PROXY_IP" dev cli0 advmss 169
  CLI "${CURL[@]}" --resolve "good.test:443:$NW_GOOD_IP" https://good.test/
  CLI ip link set cli0 mtu 1500
  CLI ip route replace default via "$NW_PROXY_IP" dev cli0
}
record split-clienthello split_hello

# 8. Mixed case, explicit default port and trailing dot in both the absolute-form
#    request-target and Host (--request-target: curl would drop ":80" from the URL).
#    squid fetches http://www.good.test/ (its access.log says so).
record mixed-case-host CLI "${CURL[@]}" -x "$P" --request-target 'http://WWW.Good.TEST.:80/' \
  -H 'Host: WWW.Good.TEST.:80' 'http://WWW.Good.TEST.:80/'

# 9. The request-target and Host disagree: squid follows the request-target
#    (RFC 9112 section 3.2.2) and fetches good.test; Host says www.good.test.
record host-uri-mismatch CLI "${CURL[@]}" -x "$P" -H 'Host: WWW.Good.TEST.:80' 'http://GOOD.Test.:80/'

cp "$NW_STATE/squid/access.log" "$NW_STATE/squid-access.log.txt" 2>/dev/null || true
echo "squid access.log:" >&2; sed 's/^/  /' "$NW_STATE/squid/access.log" >&2
"$here/verify-own.sh" "$out"
