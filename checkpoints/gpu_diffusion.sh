#!/usr/bin/env bash
# The unconditional diffusion model, trained on a GPU: the same network and guide as train_all.sh's
# CPU lane, but four times the batch (256) and as many steps as SECONDS allow (at most 60,000).
# The GPU turns the step count the CPU cannot afford into minutes; the network stays the size the
# CPU can sample from in under 2 s, so the shipped model still runs on a laptop or a free Space.
#
# Usage: bash checkpoints/gpu_diffusion.sh OUT_DIR DATA_DIR SECONDS    (smoke test: DEVICE=cpu GUIDE_STEPS=20)
# It writes OUT_DIR/guide and OUT_DIR/diffusion-unguided, each a checkpoint with its own log. Then, on
# any machine: python -m genai add-guide, tune-guidance and eval, as train_all.sh does for the CPU lane.
set -euo pipefail
out="$1"; data="$2"; seconds="$3"
py="${PYTHON:-python3}"
common=(--dataset mnist --data-dir "$data" --seed 0 --device "${DEVICE:-cuda}")
mkdir -p "$out"
started=$SECONDS
"$py" -m genai train --model diffusion --arch unet --channels 16 --no-conditional --ema-decay 0.999 --max-steps "${GUIDE_STEPS:-1500}" \
  --batch-size 64 --lr 1e-3 "${common[@]}" --out "$out/guide" > "$out/guide.log" 2>&1
left=$(( seconds - (SECONDS - started) - 15 ))  # 15 s for starting up and saving
if [ "$left" -lt 10 ]; then echo "only $left s left for the main run: stopped" >&2; exit 1; fi
"$py" -m genai train --model diffusion --arch unet --channels 24 --extra-layers 2 --no-conditional --ema-decay 0.999 \
  --max-steps 60000 --batch-size 256 --lr 1e-3 --time-limit "$left" "${common[@]}" --out "$out/diffusion-unguided" \
  > "$out/diffusion-unguided.log" 2>&1
