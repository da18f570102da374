#!/usr/bin/env bash
# Run the linter and the test suite (installs the train + dev extras into .venv on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=train,dev bash scripts/bootstrap.sh
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
