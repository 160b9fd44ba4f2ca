#!/usr/bin/env bash
# Rewrite constraints.txt from the current .venv (after adding or upgrading a dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Pinned versions that resolve quickly here (pip -c constraints.txt). Regenerate with"
  echo "# scripts/freeze.sh after changing dependencies. torch is installed first, pinned, as a CPU build."
  .venv/bin/pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu$/torch==\1/' | grep -v "report-rag"
} > constraints.txt
