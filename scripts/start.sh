#!/usr/bin/env bash
# Launch avatar-cam on built-in defaults: the bundled default style, camera 0 or the generated
# demo clip when there is no camera, the virtual camera when a backend exists (else preview only).
# Extra arguments go to `avatar-cam` (e.g. --input 1, --style NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/avatar-cam "$@"
