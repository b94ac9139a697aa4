#!/usr/bin/env bash
# Node.js and the npm packages of the identity providers the SSO tests start (tests/idp:
# oidc-provider and saml-idp). Installs nodejs + npm from Debian when missing (root, Debian 12),
# then `npm ci` when tests/idp/node_modules is missing or older than the lockfile.
# A warm machine runs neither apt nor npm.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing system packages: ${need[*]} (run as root)" >&2; exit 1; fi
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
idp=tests/idp
stamp=$idp/node_modules/.package-lock.json   # written by npm on every install
if [ ! -f "$stamp" ] || [ "$idp/package-lock.json" -nt "$stamp" ]; then
  echo "installing the test identity providers: npm ci in $idp"
  (cd "$idp" && npm ci --no-audit --no-fund --loglevel=error)
fi
