#!/usr/bin/env bash
# Validates everything in monitoring/: alert rules, their unit tests, the
# example Prometheus config and the Grafana dashboard.
# Run from anywhere:  bash monitoring/check.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."   # repo root, so the paths below are the documented ones

if ! command -v promtool >/dev/null 2>&1; then
  echo "==> promtool not found, installing Debian's prometheus package"
  if [ "$(id -u)" -ne 0 ]; then
    echo "promtool is missing and this is not root: install the 'prometheus' package (it ships promtool)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
echo "==> $(promtool --version 2>&1 | head -n 1)"

echo "==> promtool check rules monitoring/auth-alerts.yml monitoring/signing-key-alerts.yml"
promtool check rules monitoring/auth-alerts.yml monitoring/signing-key-alerts.yml

echo "==> promtool test rules monitoring/tests/*.test.yml"
promtool test rules monitoring/tests/*.test.yml

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "==> promtool check config monitoring/prometheus.yml"
# rule_files are resolved relative to the config file; check a copy so that
# promtool never depends on the caller's working directory.
cp monitoring/prometheus.yml monitoring/auth-alerts.yml monitoring/signing-key-alerts.yml "$tmp/"
promtool check config "$tmp/prometheus.yml"

echo "==> node monitoring/check-dashboard.mjs monitoring/grafana-auth-dashboard.json"
node monitoring/check-dashboard.mjs monitoring/grafana-auth-dashboard.json \
  --emit-rules "$tmp/dashboard-exprs.yml"

echo "==> promtool check rules (every dashboard expr, Grafana variables substituted)"
promtool check rules "$tmp/dashboard-exprs.yml"

echo "==> monitoring checks passed"
