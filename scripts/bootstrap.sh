#!/usr/bin/env bash
# Create .venv with avatar-cam and its pinned dependencies (once; later calls are instant).
# EXTRAS=train,dev adds torch (CPU wheel) and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${EXTRAS:-}"
stamp=".venv/.installed-${extras:-app}"
if [ ! -x .venv/bin/python ]; then
  py=""
  for c in python3.12 python3.11 python3.10 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(not (3,10) <= sys.version_info[:2] <= (3,12))'; then
      py="$c"; break
    fi
  done
  [ -n "$py" ] || { echo "avatar-cam needs Python 3.10-3.12 (mediapipe 0.10.21 has no newer wheels)" >&2; exit 1; }
  "$py" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  spec="."
  [ -n "$extras" ] && spec=".[${extras}]"
  .venv/bin/python -m pip install -q -e "$spec"
  case ",$extras," in
    # FID/KID: torch-fidelity without its torchvision dependency (PyPI torchvision does not
    # import beside the pinned CPU torch; training/evaluate.py stands in for the bits it uses)
    *,train,*) .venv/bin/python -m pip install -q --no-deps "torch-fidelity==0.4.0" ;;
  esac
  touch "$stamp"
fi
