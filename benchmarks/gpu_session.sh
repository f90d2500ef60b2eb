#!/usr/bin/env bash
# Everything a short GPU loan is for, as one script whose parts cannot take each other down:
#   1. the machine (nvidia-smi, torch) and an AV-MNIST-lite build from the shared real data;
#   2. benchmarks.gpu: ResNet-18 on CREMA-D-shaped tensors, batch 16 and 128, paper profile,
#      the eager and the sync-free step;
#   3. a short paper-profile run on real data: AV-MNIST, full 112x112 spectrograms, ResNet-18,
#      teachers + joint + G²D through benchmarks.imbalance (EPOCHS epochs, not the paper's 300);
#   4. benchmarks.gpu with torch.compile at batch 16 (last: compilation is the slowest part).
# Each part has its own time limit and log; logs and JSON land in $OUT (at most 8 files).
#
#   OUT=runs/gpu_session bash benchmarks/gpu_session.sh [SHARED_DATA_DIR]
#   QUICK=1 OUT=/tmp/check bash benchmarks/gpu_session.sh   # the same parts on a CPU, tiny
#
# SHARED_DATA_DIR holds mnist/ and fsdd/recordings/ (default ../shared/data). PYTHON picks the
# interpreter (default python3); the repository root is put on PYTHONPATH, nothing is installed.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_session}
DATA=${1:-../shared/data}
EPOCHS=${EPOCHS:-4}
PY=${PYTHON:-python3}
# QUICK=1 checks the script without a GPU: tiny shapes, a 5 % AV-MNIST build, one epoch, CPU.
if [ "${QUICK:-0}" = 1 ]; then
    DEVICE=cpu GPU_ARGS="--device cpu --quick" SUBSET=0.05 EPOCHS=1
else
    DEVICE=cuda GPU_ARGS="" SUBSET=1.0
fi
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 G2D_LITE_PROGRESS=0 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

part() {  # part NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.log, show its tail
    local name=$1 limit=$2 started=$SECONDS rc
    shift 2
    echo "=== $name (limit ${limit}s): $*"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    tail -n "${TAIL:-45}" "$OUT/$name.log"
    echo "=== $name: exit $rc after $((SECONDS - started)) s"
}

part setup 90 bash -c "
    nvidia-smi || true; date -u
    $PY -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__,
        torch.cuda.is_available() and torch.cuda.get_device_name(0), torch.backends.cudnn.version())'
    $PY -m g2d_lite.data.prepare avmnist --mnist-dir '$DATA/mnist' \
        --fsdd-dir '$DATA/fsdd/recordings' --out '$OUT/avmnist' --subset $SUBSET --no-progress"
# shellcheck disable=SC2086  # GPU_ARGS is a list of words
part gpu 180 "$PY" -m benchmarks.gpu --modes autotune,sync_free $GPU_ARGS --out "$OUT/gpu.json"
part paper_avmnist 200 "$PY" -m benchmarks.imbalance --profile paper --device "$DEVICE" \
    --dataset avmnist --data-root "$OUT/avmnist" --seeds 0 --methods joint,g2d \
    --set "epochs=$EPOCHS" "balance_end_epoch=$((EPOCHS / 2))" "step_mode=sync_free" \
    --out "$OUT/paper_avmnist.json"
if [ "${QUICK:-0}" != 1 ]; then  # compiling for a CPU is slow and says nothing of a GPU
    part gpu_compile 150 "$PY" -m benchmarks.gpu --batch-sizes 16 --modes compile \
        --out "$OUT/gpu_compile.json"
fi
