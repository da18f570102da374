#!/usr/bin/env bash
# One-shot GPU recipe: train the shipped styles' recipes and the paper's comparison arms at 256 px
# in MINUTES (default 10) of GPU time, then write compact checkpoints, style files and their
# avatar-eval numbers to OUT (training/gpu_recipe.py; docs/training.md, "One GPU, N GPUs").
#
#   scripts/gpu_train.sh OUT [extra python -m training.gpu_recipe options]
#
# Environment: PACK (default runs/pack/train256.zip; packed from runs/prepared/*256 when missing,
# PACK_MB megabytes at most, default 60), MINUTES, PYTHON (default .venv/bin/python, else
# python3), HOLDOUT (default runs/judge when it exists), NPROC (processes; default: one per GPU,
# torchrun when more than one).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/gpu_train.sh OUT [gpu_recipe options]}
shift
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
PACK=${PACK:-runs/pack/train256.zip}
MINUTES=${MINUTES:-10}
HOLDOUT=${HOLDOUT:-runs/judge}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ ! -f "$PACK" ]; then
  # the prepared 256 px folders (docs/training.md, "The pack"); images per group scale with
  # PACK_MB (measured means: photo 15 kB, anime 20 kB, mesh drawing 8 kB, DiceBear pair 27 kB,
  # anime pair 36 kB: about 56 MB at 60). The judge's held-out photos stay out of the pack.
  P=runs/prepared
  MB=${PACK_MB:-60}
  exclude=()
  [ -f "$HOLDOUT/split.json" ] && exclude=(--exclude "$HOLDOUT/split.json")
  "$PY" -m training.pack "$PACK" photos="$P/photos256:$((800 * MB / 60))" \
    anime="../shared/datasets/selfie2anime/trainB:$((700 * MB / 60))" \
    photo_meshes="$P/photos_mesh256/meshes:$((900 * MB / 60))" \
    dicebear="$P/dicebear256:$((500 * MB / 60))" anime_pairs="$P/anime_mesh256:$((250 * MB / 60))" \
    "${exclude[@]}" --max-mb "$MB"
fi

evalargs=()
[ -f "$HOLDOUT/split.json" ] && evalargs=(--holdout "$HOLDOUT")
NPROC=${NPROC:-$("$PY" -c 'import torch; print(max(1, torch.cuda.device_count()))')}
if [ "$NPROC" -gt 1 ]; then
  exec "$PY" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" -m training.gpu_recipe \
    "$OUT" --pack "$PACK" --minutes "$MINUTES" "${evalargs[@]}" "$@"
fi
exec "$PY" -m training.gpu_recipe "$OUT" --pack "$PACK" --minutes "$MINUTES" "${evalargs[@]}" "$@"
