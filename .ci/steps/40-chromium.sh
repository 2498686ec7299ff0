#!/usr/bin/env bash
# Debian's chromium for the status page's browser test (bulwarkhttp/browsertest). .ci/run
# runs the steps before the tests, so the nested module's `go test -race ./...` finds it;
# with CI set, that test fails rather than skips when chromium is missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null || echo present)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium
chromium --version
