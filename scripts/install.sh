#!/usr/bin/env bash
# Install the project into ./.venv: torch (CPU, pinned, first), then the package and its pinned deps.
# Usage: bash scripts/install.sh            (runtime + dev/test extras, and the cluster extra the tests need:
#                                           Ray Data for embedding.engine = "ray"; the chat never imports it)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/pip"
"$PIP" install -q --disable-pip-version-check --upgrade pip
# A bare `torch` requirement would pull a multi-GB CUDA build; 2.13.0 is a CPU build on this machine's disk.
"$PIP" install -q --disable-pip-version-check "torch==2.13.0"
"$PIP" install -q --disable-pip-version-check -c constraints.txt -e ".[st,ui,dev,cluster]"
echo "installed into .venv ($(.venv/bin/python --version))"
