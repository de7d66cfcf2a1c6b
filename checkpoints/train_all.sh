#!/usr/bin/env bash
# Retrain every shipped checkpoint with the project's own CLI (the exact commands used), then
# measure each one against the MNIST test split and write its model card (README.md) from `eval`.
# Models learn from the 60,000 training images only (the CLI's default).
#
# Usage: bash checkpoints/train_all.sh [OUT_DIR] [DATA_DIR]        (ONLY="gan-mlp vae-2d": just those)
# Two lanes run side by side (GENAI_CPU_THREADS=1 each on a CPU: about 4 h 50 min on 2 cores before the unconditional
# diffusion model took its GPU recipe, which adds hours there; a few minutes on a GPU).
# Step counts, not seconds, bound each run, so a rerun gives the same model;
# every setting is spelled out, so a change of the default recipes (genai/recipes.py) changes nothing here.
set -euo pipefail
out="${1:-checkpoints}"
data="${2:-${GENAI_DATA_DIR:-../shared/datasets/mnist}}"
py="${PYTHON:-python}"
export GENAI_CPU_THREADS="${GENAI_CPU_THREADS:-1}"
common=(--dataset mnist --data-dir "$data" --seed 0 --device auto)
run() {  # name, then train arguments; then its eval (JSON in OUT_DIR/eval/) and model card
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  "$py" -m genai train "$@" "${common[@]}" --out "$out/$name" > "$out/$name.log" 2>&1
  if [ -n "${GUIDE:-}" ]; then  # diffusion: a smaller, shorter run guides it (autoguidance), stored inside it
    local work; work=$(mktemp -d)
    "$py" -m genai train $GUIDE "${common[@]}" --out "$work/guide" >> "$out/$name.log" 2>&1
    mv "$out/$name" "$work/unguided"
    "$py" -m genai add-guide --checkpoint "$work/unguided" --guide "$work/guide" --out "$out/$name" >> "$out/$name.log" 2>&1
    rm -rf "$work"  # both runs live on in the guided checkpoint (the guide's record in its config.json)
  fi
  if [ -n "${TUNE_GUIDANCE:-}" ]; then  # guided diffusion: the guidance scale, chosen against training images
    "$py" -m genai tune-guidance --checkpoint "$out/$name" --scales $TUNE_GUIDANCE ${TUNE_INTERVAL:+--interval $TUNE_INTERVAL} \
      ${TUNE_MIN_RECOGNIZABLE:+--min-recognizable $TUNE_MIN_RECOGNIZABLE} --n 2000 --seed 0 --data-dir "$data" >> "$out/$name.log" 2>&1
  fi
  "$py" -m genai eval --checkpoint "$out/$name" --n 2000 --seed 0 --data-dir "$data" --json "$out/eval/$name.json" \
    --card >> "$out/$name.log" 2>&1
}
mkdir -p "$out/eval"
# First the judge: the digit classifier behind every figure (eval uses the one in checkpoints/classifier).
if [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" classifier "* ]]; then
  GENAI_CPU_THREADS=2 "$py" -m genai train-classifier --out "$out/classifier" --epochs 15 --seed 0 --data-dir "$data" \
    > "$out/classifier.log" 2>&1
fi
(
  run gan-conditional --model gan --arch dcgan --channels 32 --conditional --ema-decay 0.999 --max-steps 10000 --batch-size 64 --lr 5e-4
  run gan-dcgan       --model gan --arch dcgan --channels 32 --extra-layers 1 --r1-gamma 1 --no-conditional --ema-decay 0.999 --max-steps 24000 --batch-size 64 --lr 5e-4
  run vae-conv        --model vae --arch conv --channels 32 --no-conditional --latent-dim 16 --beta 1 --prior-components 10 --max-steps 8000 --batch-size 128 --lr 1e-3
  run vae-2d          --model vae --arch mlp --no-conditional --latent-dim 2 --beta 1 --prior-components 100 --learned-prior --max-steps 45000 --batch-size 128 --lr 1e-3
  run autoregressive-conditional --model autoregressive --arch pixelcnn --channels 32 --layers 6 --conditional --max-steps 2000 --batch-size 64 --lr 1e-3
  # The shipped one was trained on a GPU (an H200: 338 s, in two time-limited runs, the second a --resume of the
  # first; its config.json records both): about 5 h on 2 CPU threads, by the 1.4 steps/s of a short run there.
  GUIDE="--model diffusion --arch unet --channels 16 --no-conditional --ema-decay 0.999 --max-steps 6000 --batch-size 64 --lr 1e-3" \
  TUNE_GUIDANCE="2.5 3 3.5" TUNE_INTERVAL="0.3 0.8" TUNE_MIN_RECOGNIZABLE=0.95 \
  run diffusion       --model diffusion --arch unet --channels 24 --extra-layers 2 --no-conditional --ema-decay 0.999 --max-steps 24601 --batch-size 256 --lr 1e-3
) &
(
  run vae-mlp         --model vae --arch mlp --no-conditional --latent-dim 16 --beta 1 --prior-components 10 --max-steps 15000 --batch-size 128 --lr 1e-3
  run vae-conditional --model vae --arch mlp --conditional --latent-dim 16 --beta 3 --max-steps 15000 --batch-size 128 --lr 1e-3
  run gan-mlp         --model gan --arch mlp --no-conditional --latent-dim 72 --categories 10 --ema-decay 0.999 --max-steps 40000 --batch-size 64 --lr 5e-4
  GUIDE="--model diffusion --arch unet --channels 8 --conditional --ema-decay 0.999 --max-steps 2000 --batch-size 64 --lr 1e-3" \
  TUNE_GUIDANCE="1.5 2 2.5" TUNE_INTERVAL="0.3 0.8" \
  run diffusion-conditional --model diffusion --arch unet --channels 16 --conditional --ema-decay 0.999 --max-steps 24000 --batch-size 64 --lr 1e-3
  run autoregressive  --model autoregressive --arch pixelcnn --channels 32 --layers 6 --no-conditional --max-steps 5000 --batch-size 64 --lr 1e-3
) &
wait
for log in "$out"/*.log; do echo "== $log"; tr '\r' '\n' < "$log" | grep -v '^ *$' | tail -n 12; done
"$py" checkpoints/figures.py "$out/eval"  # the table of README.md
