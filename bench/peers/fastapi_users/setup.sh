#!/usr/bin/env bash
# Creates the fastapi-users peer's own virtualenv (bench/peers/fastapi_users/.venv) with the pinned
# versions in requirements.txt, apart from Tenantry's: its pins never touch Tenantry's .venv.
# Idempotent: does nothing when the venv already holds exactly these pins.
# PYTHON picks the interpreter (default: python3); the benchmarks pass their own.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
"$venv/bin/python" -m pip check >/dev/null
echo "$want" > "$stamp"
echo "fastapi-users peer installed in ${venv#"$PWD/"}" >&2
