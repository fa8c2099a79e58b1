#!/usr/bin/env bash
# Builds the Debian package from the debug binary (a release build takes
# ~35 min on the CI machine; the package's contents and scripts are the same),
# installs it with dpkg into this machine, and checks what it installed:
# files, owners and modes, the conffile kept on upgrade, `netward --version`,
# the shipped config accepted, `systemd-analyze verify` of the unit, and that
# remove and purge take away what they should. Runs as root (CI). The
# maintainer scripts run in a fresh network namespace (unshare -n), so the
# `netward cleanup` of prerm can only ever see, and touch, that namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
# Never replace a real installation or its data.
if dpkg-query -W -f='${Status}' netward 2>/dev/null | grep -q "installed"; then
  fail "a netward package is already installed here; refusing to replace it"
fi
[ ! -e /var/lib/netward ] || fail "/var/lib/netward exists; refusing to touch a real data directory"
[ ! -e /etc/netward ] || fail "/etc/netward exists; refusing to touch a real configuration"

if ! command -v cargo-deb >/dev/null 2>&1; then
  cargo install cargo-deb --locked --version 3.8.0
fi
command -v systemd-analyze >/dev/null 2>&1 || fail "systemd-analyze missing (the systemd package)"

# CI runs this after `cargo test --workspace`, which built the binary.
[ -x target/debug/netward ] || cargo build -p netward --locked
out=target/debian
rm -f "$out"/netward_*.deb
# --profile dev: the debug binary (cargo-deb warns that it is meant for
# releases); --strip keeps the package small, --fast keeps packing short.
cargo deb -p netward --no-build --profile dev --strip --fast -o "$out/" 2>&1 | grep -v "dev profile\|debug symbols set\|Cargo also supports" || true
deb=$(ls "$out"/netward_*_amd64.deb)
echo "check-deb: built $deb ($(du -h "$deb" | cut -f1))"

cleanup() {
  unshare -n dpkg --purge netward >/dev/null 2>&1 || true
}
trap cleanup EXIT

unshare -n dpkg -i "$deb" >/dev/null

mode() { stat -c '%a %U:%G' "$1"; }
expect_mode() { [ "$(mode "$1")" = "$2" ] || fail "$1 is $(mode "$1"), want $2"; }
expect_mode /usr/bin/netward "755 root:root"
expect_mode /etc/netward/netward.toml "644 root:root"
expect_mode /usr/lib/systemd/system/netward.service "644 root:root"
expect_mode /var/lib/netward "700 root:root"
dpkg-query -W -f='${Conffiles}' netward | grep -q "/etc/netward/netward.toml" || fail "netward.toml is not a conffile"

version=$(/usr/bin/netward --version)
[ "$version" = "netward $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" ] || fail "netward --version says '$version'"
# The shipped config is accepted as it is (every line commented out).
tmp=$(mktemp -d)
/usr/bin/netward --data-dir "$tmp" --config /etc/netward/netward.toml config show >/dev/null \
  || fail "the shipped /etc/netward/netward.toml is refused"
rm -rf "$tmp"

# The unit: systemd's own checks (directives, the ExecStart binary).
verify=$(systemd-analyze verify /usr/lib/systemd/system/netward.service 2>&1 | grep -v "^$" || true)
if [ -n "$verify" ]; then
  # Lines about other units on the machine are not ours to fix.
  own=$(echo "$verify" | grep "netward" || true)
  [ -z "$own" ] || fail "systemd-analyze verify: $own"
fi
grep -q '^Type=notify$' /usr/lib/systemd/system/netward.service || fail "unit is not Type=notify"
grep -q '^WatchdogSec=' /usr/lib/systemd/system/netward.service || fail "unit has no watchdog"
grep -q '^ProtectSystem=strict$' /usr/lib/systemd/system/netward.service || fail "unit has no ProtectSystem=strict"

# Upgrade (same package again): the admin's edit of the conffile stays.
echo '# edited by check-deb' >>/etc/netward/netward.toml
unshare -n dpkg -i --force-confold "$deb" >/dev/null
grep -q '# edited by check-deb' /etc/netward/netward.toml || fail "the edited config was replaced on upgrade"
expect_mode /var/lib/netward "700 root:root"

# Remove: the binary goes (prerm stopped the agent and ran cleanup), the
# config and the data stay; purge takes both.
touch /var/lib/netward/keep
removed=$(unshare -n dpkg -r netward 2>&1) || fail "dpkg -r: $removed"
echo "$removed" | grep -q "no netward rules" || fail "prerm did not run netward cleanup: $removed"
[ ! -e /usr/bin/netward ] || fail "/usr/bin/netward left after remove"
[ -e /etc/netward/netward.toml ] || fail "remove took the config"
[ -e /var/lib/netward/keep ] || fail "remove took the data directory"
unshare -n dpkg --purge netward >/dev/null
[ ! -e /etc/netward ] || fail "/etc/netward left after purge"
[ ! -e /var/lib/netward ] || fail "/var/lib/netward left after purge"
trap - EXIT
echo "check-deb: ok ($deb: files, modes, conffile kept on upgrade, --version, config, systemd-analyze verify, remove, purge)"
