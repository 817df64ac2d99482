#!/usr/bin/env bash
# GPU figures for the Fashion-MNIST seed config (configs/fashion_mnist.yaml) on a machine that has JAX and
# PyTorch with CUDA but no TensorFlow and no network (Python 3.12), in two steps:
#
#   bench/gpu.sh prepare    here, with the network: into .gpu/ (git-ignored) the wheels that machine lacks
#                           (keras, pydantic, pydantic-core, annotated-types, typing-inspection, natsort, namex,
#                           optree: Python 3.12, manylinux x86-64) and the full Fashion-MNIST as its four gzipped
#                           IDX files (uint8, 30 MB; from Debian's dataset-fashion-mnist:
#                           apt-get install dataset-fashion-mnist)
#   bench/gpu.sh run        there, in the repository root with .gpu/ beside it: installs the wheels with
#                           --no-deps into /tmp/cnn-site, then for each config (CONFIGS, default the seed net
#                           configs/fashion_mnist.yaml and the fast recipe configs/fashion_mnist_fast.yaml),
#                           backend (BACKENDS, default "jax torch") and batch size (BATCHES, default
#                           "32 256 1024") runs `cnn train` for EPOCHS (default 3) epochs and prints images/s and
#                           s/epoch (epochs after the first, which compiles), achieved TFLOP/s (3 x forward MACs
#                           x 2 per image) and the test accuracy. EXTRA: more arguments for every run (e.g.
#                           "--set distribute.strategy=data_parallel" on a host with several GPUs).
#                           To stay within a short GPU slot: EPOCHS=2 BATCHES="256 1024".
#
# With this workplace's device tool: `bench/gpu.sh prepare` here, then run `bench/gpu.sh run` there with
# carry [".gpu"]; the whole run takes a few minutes of GPU time.
set -euo pipefail
cd "$(dirname "$0")/.."

GPU_DIR=.gpu
WHEELS=(keras==3.15.1 pydantic==2.14.3 pydantic-core==2.50.4 annotated-types==0.8.0 typing-inspection==0.4.5
        natsort==8.4.0 namex==0.1.0 optree==0.20.0)
FASHION=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

prepare() {
  mkdir -p "$GPU_DIR/wheels" "$GPU_DIR/fashion-mnist"
  local platforms=()
  for n in 17 27 28; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" --platform manylinux2014_x86_64 -d "$GPU_DIR/wheels" "${WHEELS[@]}"
  if [ ! -f "$FASHION/train-images-idx3-ubyte.gz" ]; then
    echo "no Fashion-MNIST IDX files in $FASHION: apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR)" >&2
    exit 2
  fi
  cp "$FASHION"/*-ubyte.gz "$GPU_DIR/fashion-mnist/"
  du -sh "$GPU_DIR"
}

run() {
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/cnn-site \
    "$GPU_DIR"/wheels/*.whl
  export PYTHONPATH="/tmp/cnn-site:$PWD" PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  local out=${OUT:-/tmp}/cnn-gpu-runs
  mkdir -p "$out"
  for config in ${CONFIGS:-configs/fashion_mnist.yaml configs/fashion_mnist_fast.yaml}; do
   for backend in ${BACKENDS:-jax torch}; do
    for batch in ${BATCHES:-32 256 1024}; do
      local run_dir="$out/$(basename "$config" .yaml)-$backend-$batch"
      rm -rf "$run_dir"
      echo "== $config, $backend, batch $batch"
      # shellcheck disable=SC2086
      python3 -m cnn_cli train --backend "$backend" --config "$config" \
        --set "data.path=$GPU_DIR/fashion-mnist" --set "train.batch_size=$batch" --epochs "${EPOCHS:-3}" \
        --set train.callbacks.early_stopping=null ${SUBSET:+--subset "$SUBSET"} ${EXTRA:-} --run-dir "$run_dir" 2>&1 | grep -v "^[0-9]*/[0-9]* " || true
      python3 bench/gpu_figures.py "$run_dir" "$backend" "$batch"
    done
   done
  done
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bench/gpu.sh prepare|run" >&2; exit 2 ;;
esac
