#!/usr/bin/env bash
# The Debian packages some tests and the demo use: PostgreSQL, Prometheus (with promtool),
# Alertmanager (with amtool) and Chromium (renders the HTML report in a test).
# Installs the missing ones when run as root with apt-get; otherwise lists them and how to
# install them. Under CI=true a package that cannot be installed is an error.
set -euo pipefail
packages=(postgresql prometheus prometheus-alertmanager chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing system packages: ${missing[*]} (install: sudo apt-get install ${missing[*]})" >&2
if [ "${CI:-}" = "true" ]; then
  exit 1
fi
echo "the tests that need them are skipped (outside CI only)" >&2
