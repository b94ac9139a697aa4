#!/usr/bin/env bash
# Install what the test suite needs from Debian when it is missing (root, Debian 12).
# A warm machine runs no apt at all.
set -euo pipefail
need=()
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)                    # tests/browser: Playwright drives Debian's Chromium
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)  # tests/browser: the test CA goes into an NSS DB
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing system packages: ${need[*]} (run as root)" >&2; exit 1; fi
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
