#!/usr/bin/env bash
# promtool: check the Prometheus rules in deploy/prometheus, run their unit tests, and
# run the deploy package's test, which checks that every query of the Grafana dashboard
# parses and that the rules and the dashboard name only series the collector exports.
# Debian's prometheus package provides promtool; it is installed when missing, without
# starting the Prometheus server the package also holds.
#
# `20-promtool.sh install` only installs promtool: the deploy test calls it that way when
# it runs under CI (CI set) and promtool is missing, so `go test ./...` in .ci/run does
# not depend on this step having run first.
set -euo pipefail
cd "$(dirname "$0")/../.."

install_promtool() {
  command -v promtool >/dev/null && return 0
  export DEBIAN_FRONTEND=noninteractive
  # Keep the package's postinst from starting a Prometheus server.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if ! apt-get install -y --no-install-recommends prometheus; then
    apt-get update
    apt-get install -y --no-install-recommends prometheus
  fi
  command -v promtool >/dev/null
}

install_promtool
[ "${1:-}" = install ] && exit 0

promtool --version 2>&1 | head -1
promtool check rules deploy/prometheus/bulwark-rules.yml
(cd deploy/prometheus && promtool test rules bulwark-rules.test.yml)
CI="${CI:-true}" go test -count=1 ./deploy/
