#!/usr/bin/env bash
# testnet/topo.sh — command-line face of testnet/lib.sh (see there for the layout).
#
#   topo.sh up   [PREFIX] [BLOCK]   build it; prints NW_*=value lines on stdout
#   topo.sh env  [PREFIX] [BLOCK]   print the same lines without building anything
#   topo.sh down [PREFIX] [BLOCK]   kill its processes, delete its namespaces and state
#   topo.sh exec PREFIX ROLE CMD... run CMD inside PREFIX-ROLE (ROLE: cli, px, srv)
#   topo.sh gc                      tear down every topology whose owner process is gone
#
# PREFIX defaults to "nwt" (namespaces nwt-cli, nwt-px, nwt-srv, state /tmp/netward-topo.nwt);
# BLOCK defaults to "classic" (198.18.1.0/24 + 198.18.2.0/24), or a /24 such as
# 198.19.7.0/24, or "auto". Exit: 0 ok, 1 failure, 2 usage, 77 prerequisite missing
# outside CI (with CI=true a missing prerequisite exits 1).
set -uo pipefail
# shellcheck source=testnet/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
cmd=${1:-}; shift || true
case $cmd in
  up)   nw_layout "${1:-nwt}" "${2:-classic}" || exit $?
        nw_up || exit $?
        nw_env ;;
  env)  nw_layout "${1:-nwt}" "${2:-classic}" || exit $?
        nw_env ;;
  down) nw_layout "${1:-nwt}" "${2:-classic}" || exit $?
        nw_down ;;
  gc)   nw_gc ;;
  exec) [ $# -ge 3 ] || usage
        nw_layout "$1" classic || exit $?
        case $2 in cli|px|srv) ;; *) usage ;; esac
        ns="$1-$2"; shift 2
        exec ip netns exec "$ns" "$@" ;;
  *)    usage ;;
esac
