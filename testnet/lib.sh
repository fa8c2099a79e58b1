# shellcheck shell=bash
# testnet/lib.sh — the per-test three-namespace network, as bash functions.
#
# Owns: creating and removing one topology (three network namespaces, two veth
# links, and the real servers inside them), naming its addresses, and refusing
# to touch anything it did not create. Source it, or drive it through
# testnet/topo.sh (the command-line face used by record.sh and the cargo tests).
#
#   PREFIX-cli  the protected endpoint; interface cli0; default route via PREFIX-px
#   PREFIX-px   router + squid :3128 + danted :1080 (interfaces pxa0 -> cli, pxb0 -> srv)
#   PREFIX-srv  nginx :80/:443 (one certificate for every *.test name) and dnsmasq :53
#
# Addresses (always inside 198.18.0.0/15, the RFC 2544 benchmarking range):
#   BLOCK "classic" (default): cli 198.18.1.2, proxy 198.18.1.1 | 198.18.2.1,
#       srv 198.18.2.2 (good, DNS) .3 (evil) .4 (phish) — the addresses of testdata/own.
#   BLOCK a.b.c.0/24 (a.b = 198.18 or 198.19): client link a.b.c.0/25 (proxy .1,
#       cli .2), server link a.b.c.128/25 (proxy .129, srv .130 good+DNS, .131 evil,
#       .132 phish).
#   BLOCK "auto": a /24 in 198.19.0.0/16 chosen from the prefix's checksum.
#
# Nothing here touches the root namespace: the veth pairs are created directly
# inside their namespaces, netfilter is never called, and teardown kills only
# the processes that live inside this topology's own namespaces.
#
# Exit codes of nw_up / topo.sh: 0 ok, 2 usage, 1 failure, 77 a prerequisite is
# missing and CI is not "true" (callers may skip); with CI=true a missing
# prerequisite is a failure (1), so CI cannot silently skip the network tests.

NW_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NW_PROXY_PORT=3128
NW_SOCKS_PORT=1080

nw_log() { echo "topo: $*" >&2; }

# Validates PREFIX and BLOCK and sets every NW_* name and address.
# shellcheck disable=SC2034  # the NW_* names are read by callers and nw_env
nw_layout() {
  local prefix=${1:-nwt} block=${2:-classic}
  if ! [[ $prefix =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]]; then
    nw_log "bad prefix '$prefix' (want [a-z0-9][a-z0-9-]{0,19})"; return 2
  fi
  NW_PREFIX=$prefix
  NW_STATE=/tmp/netward-topo.$prefix
  NW_NS_CLI=$prefix-cli NW_NS_PX=$prefix-px NW_NS_SRV=$prefix-srv
  NW_CLI_IF=cli0
  if [ "$block" = auto ]; then
    block="198.19.$(( $(printf %s "$prefix" | cksum | cut -d' ' -f1) % 256 )).0/24"
  fi
  if [ "$block" = classic ]; then
    NW_CLI_IP=198.18.1.2 NW_PROXY_IP=198.18.1.1 NW_PX_SRV_IP=198.18.2.1
    NW_GOOD_IP=198.18.2.2 NW_EVIL_IP=198.18.2.3 NW_PHISH_IP=198.18.2.4
    NW_CLI_LEN=24 NW_SRV_LEN=24
  elif [[ $block =~ ^198\.(18|19)\.([0-9]{1,3})(\.0)?(/24)?$ ]] && [ "${BASH_REMATCH[2]}" -le 255 ]; then
    local n="198.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
    NW_PROXY_IP=$n.1 NW_CLI_IP=$n.2 NW_PX_SRV_IP=$n.129
    NW_GOOD_IP=$n.130 NW_EVIL_IP=$n.131 NW_PHISH_IP=$n.132
    NW_CLI_LEN=25 NW_SRV_LEN=25
  else
    nw_log "bad block '$block' (want classic, auto, or a /24 inside 198.18.0.0/15 such as 198.19.7.0/24)"
    return 2
  fi
  NW_BLOCK=$block
  NW_DNS_IP=$NW_GOOD_IP
  NW_CA=$NW_STATE/ca.pem
  NW_HTTP_PROXY=http://$NW_PROXY_IP:$NW_PROXY_PORT
}

# Prints the layout as KEY=VALUE lines (stdout), for `source`/`eval` or a Rust parser.
nw_env() {
  local k
  for k in NW_PREFIX NW_BLOCK NW_STATE NW_NS_CLI NW_NS_PX NW_NS_SRV NW_CLI_IF NW_CLI_IP \
           NW_PROXY_IP NW_PX_SRV_IP NW_GOOD_IP NW_EVIL_IP NW_PHISH_IP NW_DNS_IP \
           NW_PROXY_PORT NW_SOCKS_PORT NW_HTTP_PROXY NW_CA; do
    printf '%s=%s\n' "$k" "${!k}"
  done
  printf 'NW_TOPO=%s\n' "$NW_LIB_DIR/topo.sh"
}

# Fails (or asks to skip, outside CI) when a needed program or privilege is missing.
#   nw_require prog...
nw_require() {
  local missing=() p
  for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    nw_missing "missing program(s): ${missing[*]} (Debian: squid nginx-light dnsmasq-base dante-server openssl curl tcpdump bind9-dnsutils tshark iproute2 ethtool)"
    return $?
  fi
  if [ "$(id -u)" != 0 ]; then nw_missing "must run as root (network namespaces)"; return $?; fi
  return 0
}

nw_missing() {
  if [ "${CI:-}" = true ]; then
    nw_log "ERROR: $1; CI=true, so this is a failure, not a skip"; return 1
  fi
  nw_log "SKIP: $1"; return 77
}

nw_tcp_ready() { # ns ip port: waits up to ~10 s for a listener
  for _ in $(seq 50); do
    ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Brings the topology up (tearing down a stale one with the same prefix first).
nw_up() {
  nw_require ip squid nginx dnsmasq danted openssl || return $?
  if [ "${NW_WIRE_LIKE:-}" = 1 ]; then nw_require ethtool || return $?; fi
  local ns
  for ns in "$NW_NS_CLI" "$NW_NS_PX" "$NW_NS_SRV"; do
    if [ -e "/run/netns/$ns" ] && [ ! -f "$NW_STATE/owner" ]; then
      nw_log "namespace $ns exists but was not created by this script (no $NW_STATE/owner); refusing"
      return 1
    fi
  done
  nw_down >/dev/null 2>&1 || true
  mkdir -p "$NW_STATE/www" "$NW_STATE/squid" && chmod 755 "$NW_STATE" "$NW_STATE/www"
  chown proxy "$NW_STATE/squid" 2>/dev/null || true
  printf '%s\n' "$NW_NS_CLI" "$NW_NS_PX" "$NW_NS_SRV" > "$NW_STATE/owner"
  echo "${NW_OWNER_PID:-$PPID}" > "$NW_STATE/owner_pid"   # for nw_gc
  nw_env > "$NW_STATE/env"
  if ! { nw_net_up && { [ "${NW_WIRE_LIKE:-}" != 1 ] || nw_wire_like; } && nw_tls_files && nw_servers_up; }; then
    nw_log "failed; logs kept in $NW_STATE"
    NW_KEEP_STATE=1 nw_down
    return 1
  fi
  nw_log "up: $NW_PREFIX ($NW_BLOCK), state in $NW_STATE"
}

nw_net_up() {
  local ns a
  for ns in "$NW_NS_CLI" "$NW_NS_PX" "$NW_NS_SRV"; do
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up
    # IPv4 only: no router solicitations or MLD noise in the captures.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  # Created inside the namespaces, so the root namespace never holds these names.
  ip -n "$NW_NS_CLI" link add cli0 type veth peer name pxa0 netns "$NW_NS_PX" || return 1
  ip -n "$NW_NS_SRV" link add srv0 type veth peer name pxb0 netns "$NW_NS_PX" || return 1
  ip -n "$NW_NS_CLI" addr add "$NW_CLI_IP/$NW_CLI_LEN" dev cli0
  ip -n "$NW_NS_PX" addr add "$NW_PROXY_IP/$NW_CLI_LEN" dev pxa0
  ip -n "$NW_NS_PX" addr add "$NW_PX_SRV_IP/$NW_SRV_LEN" dev pxb0
  for a in "$NW_GOOD_IP" "$NW_EVIL_IP" "$NW_PHISH_IP"; do
    ip -n "$NW_NS_SRV" addr add "$a/$NW_SRV_LEN" dev srv0
  done
  ip -n "$NW_NS_CLI" link set cli0 up
  ip -n "$NW_NS_PX" link set pxa0 up
  ip -n "$NW_NS_PX" link set pxb0 up
  ip -n "$NW_NS_SRV" link set srv0 up
  ip -n "$NW_NS_CLI" route add default via "$NW_PROXY_IP" || return 1
  ip -n "$NW_NS_SRV" route add default via "$NW_PX_SRV_IP" || return 1
  ip netns exec "$NW_NS_PX" sysctl -qw net.ipv4.ip_forward=1
  # `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf.
  for ns in "$NW_NS_CLI" "$NW_NS_PX"; do
    mkdir -p "/etc/netns/$ns" && echo "nameserver $NW_DNS_IP" > "/etc/netns/$ns/resolv.conf"
  done
}

# A private CA and one certificate naming every test host (P-256: quick to make).
nw_tls_files() {
  local d=$NW_STATE
  [ -f "$d/srv.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.pem" -days 30 -subj "/CN=netward test CA" 2>/dev/null || return 1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/srv.key" \
    -out "$d/srv.csr" -subj "/CN=good.test" 2>/dev/null || return 1
  printf 'subjectAltName=%s\n' "DNS:good.test,DNS:*.good.test,DNS:evil.test,DNS:*.evil.test,DNS:deep.sub.evil.test,DNS:phish.test,DNS:cdn.test,DNS:front.test,DNS:intranet.test,DNS:big.test" > "$d/san.ext"
  openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/srv.pem" -days 30 -extfile "$d/san.ext" 2>/dev/null
}

nw_servers_up() {
  local d=$NW_STATE
  echo "hello from test server" > "$d/www/index.html"
  truncate -s 200M "$d/www/big.bin"   # sparse: costs no disk, serves zeros
  cat > "$d/nginx.conf" <<NG
worker_processes 1; pid $d/nginx.pid; error_log $d/nginx.err;
events { worker_connections 4096; }
http { access_log off; sendfile on;
  client_body_temp_path $d/nginx-body; proxy_temp_path $d/nginx-proxy;
  fastcgi_temp_path $d/nginx-fcgi; uwsgi_temp_path $d/nginx-uwsgi; scgi_temp_path $d/nginx-scgi;
  server { listen 80; listen 443 ssl; server_name _; root $d/www;
           ssl_certificate $d/srv.pem; ssl_certificate_key $d/srv.key;
           location / { add_header X-Host \$host; } } }
NG
  ip netns exec "$NW_NS_SRV" nginx -e "$d/nginx.err" -c "$d/nginx.conf" \
    </dev/null >>"$d/nginx.stdio" 2>&1 || return 1
  cat > "$d/hosts" <<H
$NW_GOOD_IP good.test www.good.test cdn.test front.test big.test
$NW_EVIL_IP evil.test www.evil.test deep.sub.evil.test
$NW_PHISH_IP phish.test intranet.test
H
  # --local=/test/: answer for .test itself (NODATA for AAAA, NXDOMAIN for unknown
  # names) instead of REFUSED, which is what it says for names it cannot forward.
  ip netns exec "$NW_NS_SRV" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$d/hosts" \
    --local=/test/ \
    --listen-address="$NW_DNS_IP" --bind-interfaces --pid-file="$d/dnsmasq.pid" \
    --log-queries --log-facility="$d/dnsmasq.log" \
    </dev/null >>"$d/dnsmasq.stdio" 2>&1 || return 1
  cat > "$d/squid.conf" <<SQ
http_port $NW_PROXY_IP:$NW_PROXY_PORT
acl all_src src all
http_access allow all_src
dns_nameservers $NW_DNS_IP
hosts_file none
cache deny all
pid_filename $d/squid/squid.pid
cache_log $d/squid/cache.log
access_log stdio:$d/squid/access.log
coredump_dir $d/squid
shutdown_lifetime 0 seconds
SQ
  # -n: the service name also names squid's shared-memory segments, which live in the
  # (shared) /dev/shm; a distinct name lets topologies run side by side.
  ip netns exec "$NW_NS_PX" squid -n "sq${NW_PREFIX//-/}" -f "$d/squid.conf" \
    </dev/null >>"$d/squid.stdio" 2>&1 || return 1
  cat > "$d/danted.conf" <<DA
logoutput: $d/danted.log
internal: $NW_PROXY_IP port = $NW_SOCKS_PORT
external: pxb0
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
DA
  ip netns exec "$NW_NS_PX" danted -f "$d/danted.conf" -p "$d/danted.pid" -D \
    </dev/null >>"$d/danted.stdio" 2>&1 || return 1
  nw_tcp_ready "$NW_NS_CLI" "$NW_GOOD_IP" 443 || { nw_log "nginx not answering"; return 1; }
  nw_tcp_ready "$NW_NS_CLI" "$NW_DNS_IP" 53 || { nw_log "dnsmasq not answering"; return 1; }
  nw_tcp_ready "$NW_NS_CLI" "$NW_PROXY_IP" "$NW_SOCKS_PORT" || { nw_log "danted not answering"; return 1; }
  nw_tcp_ready "$NW_NS_CLI" "$NW_PROXY_IP" "$NW_PROXY_PORT" || {
    nw_log "squid not answering"; tail -5 "$d/squid/cache.log" >&2 2>/dev/null; return 1; }
}

# Makes the veths behave like a wire for captures: no checksum offload (a capture on
# the sending side otherwise shows unfinished checksums) and no TSO/GSO/GRO (otherwise
# tcpdump on cli0 sees one super-packet larger than the MTU instead of the segments the
# peer receives). Needs ethtool. Called by nw_up when NW_WIRE_LIKE=1.
nw_wire_like() {
  local pair ns dev
  for pair in "$NW_NS_CLI cli0" "$NW_NS_PX pxa0" "$NW_NS_PX pxb0" "$NW_NS_SRV srv0"; do
    read -r ns dev <<< "$pair"
    ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 || {
      nw_log "ethtool -K $dev failed in $ns"; return 1; }
  done
}

# Tears the topology down: every process inside its namespaces (by pid), then the
# namespaces (which removes their veths), then its /etc/netns files and state dir.
# Only namespaces listed in the state dir's owner file, or with this prefix's exact
# names, are touched. NW_KEEP_STATE=1 keeps the state dir (logs) for a post-mortem.
nw_down() {
  local ns pids="" p alive
  local owned=("$NW_NS_CLI" "$NW_NS_PX" "$NW_NS_SRV")
  for ns in "${owned[@]}"; do
    [ -e "/run/netns/$ns" ] && pids="$pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
  done
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  # A short grace period (tcpdump flushes, nginx exits at once); squid's master
  # lingers ~2.5 s even with shutdown_lifetime 0, and nothing here keeps state
  # worth a clean shutdown, so whatever is left after 1 s is killed.
  for _ in $(seq 10); do
    alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "${owned[@]}"; do
    [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/${ns:?}"
  done
  # squid's shared-memory segments are named after its service name.
  rm -f /dev/shm/"sq${NW_PREFIX//-/}"-*.shm 2>/dev/null
  if [ "${NW_KEEP_STATE:-}" = 1 ]; then rm -f "$NW_STATE/owner"; else rm -rf "${NW_STATE:?}"; fi
  return 0
}

# Tears down every topology whose owner process (NW_OWNER_PID at `up`, else the
# caller of topo.sh) is gone: what a test killed before its teardown left behind.
nw_gc() {
  local st pid
  for st in /tmp/netward-topo.*; do
    [ -f "$st/owner_pid" ] || continue
    pid=$(cat "$st/owner_pid")
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      nw_layout "${st#/tmp/netward-topo.}" classic || continue
      nw_log "gc: $NW_PREFIX (owner $pid is gone)"
      nw_down
    fi
  done
}
