#!/usr/bin/env bash
# Hostile input, timed: per attack of the hardening issue, the cost of one
# flow through the sensor beside an ordinary flow of the same protocol and
# about the same size, as a ratio (goal: each within 10x). The counted work
# (SensorStats::work) is printed as a ratio too; the tests hold that count to
# the stated bounds (crates/wire/tests/hostile.rs, crates/sensor/tests/hostile.rs).
#
#   bench/hostile.sh            # release build, then the table
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p netward-sensor --bench hostile "$@"
