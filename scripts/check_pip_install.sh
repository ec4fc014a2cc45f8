#!/usr/bin/env bash
# `pip install .` alone gives the same offline tool as `make`: a fresh venv, no `rag setup`, no model
# packages installed by hand; then ingest and answer with every non-loopback connection refused and an
# empty HOME (no caches to lean on). Run by .ci/run; takes a few minutes (pip's cache makes it faster).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --upgrade pip
"$work/venv/bin/pip" install -q -c constraints.txt .
mkdir -p "$work/guard" "$work/home"
python3 - "$work/guard/sitecustomize.py" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.test_offline import GUARD
Path(sys.argv[1]).write_text(GUARD)
PY
export PYTHONPATH="$work/guard" NET_GUARD_LOG="$work/net.log" HOME="$work/home" RAG_DATA_DIR="$work/data"
unset OPENAI_API_KEY OPENAI_BASE_URL
cd "$work"  # not the checkout: the installed package, not the source tree, must do the work
"$work/venv/bin/rag" ingest "$OLDPWD/knowledge_base" --quiet
answer=$("$work/venv/bin/rag" ask "My internet is not working. What should I do?" --no-log)
echo "$answer" | head -3
echo "$answer" | grep -q "Extractive answer"
if [ -s "$work/net.log" ]; then echo "network attempts:"; cat "$work/net.log"; exit 1; fi
"$work/venv/bin/pip" list 2>/dev/null | grep -qi "^en.core.web.sm " && { echo "en_core_web_sm was installed"; exit 1; }
echo "pip install . works offline"
