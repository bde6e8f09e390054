#!/usr/bin/env bash
# Create the peers venv (.venv-peers at the repository root, git-ignored) with python3.11 and
# install the pinned peer tools from bench/requirements-peers.txt (Kedro, MLflow, DVC,
# Evidently, ...). The benchmarks run the peer side of each comparison in this venv, so the
# project venv never sees the peers' dependencies.
#
# Idempotent: when the venv exists, was built from the same requirements file and
# `pip check` passes, nothing is done. Otherwise the venv is (re)built; this takes minutes.
#
# Usage: bash bench/setup_peers.sh            (PYTHON=python3.11, SHIPYARD_PEERS_VENV=<dir>)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENV=${SHIPYARD_PEERS_VENV:-$ROOT/.venv-peers}
PYTHON=${PYTHON:-python3.11}
REQS=$HERE/requirements-peers.txt
STAMP=$VENV/.requirements-sha256

# Telemetry of every peer tool stays off, during the install and in the venv's use.
export DO_NOT_TRACK=true MLFLOW_DISABLE_TELEMETRY=true KEDRO_DISABLE_TELEMETRY=true
export DVC_NO_ANALYTICS=1 ITERATIVE_DO_NOT_TRACK=1 PIP_DISABLE_PIP_VERSION_CHECK=1

want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ -x $VENV/bin/python && -f $STAMP && $(cat "$STAMP") == "$want" ]] \
    && "$VENV/bin/python" -m pip check >/dev/null 2>&1; then
  echo "peers venv $VENV is up to date (pip check passes); nothing to do" >&2
  exit 0
fi

if [[ -e $VENV ]]; then
  echo "rebuilding $VENV (requirements changed or pip check failed)" >&2
  rm -rf "$VENV"
fi
echo "creating $VENV with $($PYTHON --version 2>&1)" >&2
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$REQS"
"$VENV/bin/python" -m pip check
printf '%s\n' "$want" >"$STAMP"
"$VENV/bin/python" - <<'EOF' >&2
from importlib.metadata import version
tools = ("kedro", "mlflow", "dvc", "evidently", "scikit-learn", "pandas", "pyarrow", "httpx")
print("peers venv ready:", ", ".join(f"{d} {version(d)}" for d in tools))
EOF
