#!/usr/bin/env bash
# Retrain every shipped checkpoint with the project's own CLI (the exact commands used).
# Usage: bash checkpoints/train_all.sh [OUT_DIR] [DATA_DIR]   (runs in parallel; a GPU makes it minutes)
set -euo pipefail
out="${1:-checkpoints}"
data="${2:-${GENAI_DATA_DIR:-../shared/datasets/mnist}}"
py="${PYTHON:-python}"
common=(--dataset mnist --data-dir "$data" --seed 0 --device auto)
run() {  # name, then train arguments
  local name=$1; shift
  "$py" -m genai train "$@" "${common[@]}" --out "$out/$name" > "$out/$name.log" 2>&1 &
}
mkdir -p "$out"
run gan-mlp         --model gan --arch mlp   --epochs 200 --batch-size 64 --lr 2e-4
run gan-dcgan       --model gan --arch dcgan --epochs 60  --batch-size 64 --lr 2e-4
run gan-conditional --model gan --arch dcgan --conditional --epochs 60 --batch-size 64 --lr 2e-4
run vae-mlp         --model vae --arch mlp   --latent-dim 20 --epochs 100 --batch-size 128 --lr 1e-3
run vae-2d          --model vae --arch mlp   --latent-dim 2  --epochs 100 --batch-size 128 --lr 1e-3
run vae-conditional --model vae --arch mlp   --conditional --latent-dim 16 --epochs 100 --batch-size 128 --lr 1e-3
wait
for log in "$out"/*.log; do echo "== $log"; tr '\r' '\n' < "$log" | grep -v '^ *$' | tail -n 3; done
