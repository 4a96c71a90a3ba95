#!/usr/bin/env bash
# Train both stages on a GPU machine in about 9 minutes, from nothing:
#
#     scripts/train_on_device.sh OUT_DIR
#
# 1. builds OBJECTS procedural objects with WORKERS processes (`training.data build`; no real
#    meshes unless ASSETS names a carried asset cache: a device machine reaches no network);
# 2. stage 1 (`training.train_encoder`) for ENC_MINUTES on DEVICE (bf16 autocast when BF16=1);
# 3. stage 2 (`training.train_decoder`) on the best encoder for DEC_MINUTES (its feature
#    cache is built first and is not counted in DEC_MINUTES);
# 4. packages the weights (`training.package --no-onnx`).
#
# OUT_DIR then holds exactly 8 files (what a device call can bring back):
#     weights/model.safetensors, weights/config.json      the product's weights (no ONNX:
#                                                          `python -m core.export --weights
#                                                          OUT_DIR/weights --out OUT_DIR/weights`)
#     enc/last.pt, enc/history.jsonl, enc/history.png     stage 1: resumable state, curves
#     dec/last.pt, dec/history.jsonl, dec/history.png     stage 2: the same
# Data, run folders and the feature cache stay in WORK (default /tmp/s2am3d_device).
#
# Every size is an environment variable (defaults below); the test suite runs this script
# on the CPU at a tiny size (tests/test_train_device.py), so it runs the first time a GPU
# appears. UNTESTED ON A GPU so far: the defaults are estimates, not measurements; after a
# first run, set ENC_STEPS / DEC_STEPS from the steps_per_s in the histories so that each
# learning-rate schedule ends inside its budget.
#
# The device image has torch, numpy, scipy, scikit-learn, matplotlib, tqdm and safetensors
# but not trimesh / manifold3d: carry their wheels in WHEELS (default .whl, see
# /work/.library/device/README.md); when that folder exists they are installed to
# /tmp/s2am3d_site first.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
OUT_DIR=$1
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WORK=${WORK:-${TMPDIR:-/tmp}/s2am3d_device}
WHEELS=${WHEELS:-.whl}
# data
OBJECTS=${OBJECTS:-6000}
DATA_SEED=${DATA_SEED:-14}
WORKERS=${WORKERS:-$(nproc)}
POINTS=${POINTS:-10000}
ASSETS=${ASSETS:-}
REAL_FRACTION=${REAL_FRACTION:-0}
# both stages
DEVICE=${DEVICE:-cuda}
BF16=${BF16:-1}
THREADS=${THREADS:-0}
SEED=${SEED:-0}
VAL_FRACTION=${VAL_FRACTION:-0.03}
VAL_OBJECTS=${VAL_OBJECTS:-48}
CHECKPOINT_MINUTES=${CHECKPOINT_MINUTES:-1}
MODEL_JSON=${MODEL_JSON:-}
# stage 1
ENC_MINUTES=${ENC_MINUTES:-3.5}
ENC_STEPS=${ENC_STEPS:-4000}
ENC_BATCH=${ENC_BATCH:-8}
ENC_POINTS=${ENC_POINTS:-2048}
# the stage-1 recipe of make train since 2026-12-05 (MODEL_CARD: the SO(3) augmentation
# was what kept stage 1 from learning)
ENC_LEVELS=${ENC_LEVELS:-finest}
ENC_ROTATION=${ENC_ROTATION:-none}
# INPUT_NORMALS=1: the encoder also sees unoriented normals (train_encoder --input-normals)
INPUT_NORMALS=${INPUT_NORMALS:-0}
ENC_ARGS=${ENC_ARGS:-}
# stage 2
DEC_MINUTES=${DEC_MINUTES:-2.5}
DEC_STEPS=${DEC_STEPS:-4000}
DEC_OBJECTS=${DEC_OBJECTS:-16}
DEC_PROMPTS=${DEC_PROMPTS:-4}
CACHE_OBJECTS=${CACHE_OBJECTS:-1500}
CACHE_POINTS=${CACHE_POINTS:-10000}
DECODER_POINTS=${DECODER_POINTS:-4096}
DEC_MODEL_JSON=${DEC_MODEL_JSON:-'{"scale_prior": 4.0}'}
DEC_ARGS=${DEC_ARGS:-}

if [ -d "$WHEELS" ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/s2am3d_site "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/s2am3d_site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1

bf16_flag=()
if [ "$BF16" = 1 ]; then bf16_flag=(--bf16); fi
model_flag=()
if [ -n "$MODEL_JSON" ]; then model_flag=(--model-json "$MODEL_JSON"); fi
if [ "$INPUT_NORMALS" = 1 ]; then model_flag+=(--input-normals); fi
common=(--device "$DEVICE" --threads "$THREADS" --seed "$SEED" --val-fraction "$VAL_FRACTION"
        --val-objects "$VAL_OBJECTS" --checkpoint-minutes "$CHECKPOINT_MINUTES" "${bf16_flag[@]}")

t0=$(date +%s)
phase() { echo "[device] $1 at $(( $(date +%s) - t0 )) s" ; }
mkdir -p "$WORK" "$OUT_DIR"/weights "$OUT_DIR"/enc "$OUT_DIR"/dec
"$PYTHON" -c 'import torch; print("[device] torch", torch.__version__, "cuda",
    torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'

phase "data ($OBJECTS objects, $WORKERS workers)"
if [ ! -f "$WORK/data/meta.json" ]; then
    "$PYTHON" -m training.data build --out "$WORK/data" --objects "$OBJECTS" \
        --seed "$DATA_SEED" --workers "$WORKERS" --points "$POINTS" --assets "$ASSETS" \
        --real-fraction "$REAL_FRACTION"
fi

phase "stage 1 ($ENC_MINUTES min, $DEVICE, bf16=$BF16)"
# shellcheck disable=SC2086  # ENC_ARGS / DEC_ARGS are word lists on purpose
"$PYTHON" -m training.train_encoder --data "$WORK/data" --out "$WORK/enc" \
    --minutes "$ENC_MINUTES" --steps "$ENC_STEPS" --batch "$ENC_BATCH" \
    --points "$ENC_POINTS" "$ENC_POINTS" --levels "$ENC_LEVELS" --rotation "$ENC_ROTATION" \
    "${model_flag[@]}" "${common[@]}" --resume $ENC_ARGS
enc_ckpt="$WORK/enc/best.pt"
[ -f "$enc_ckpt" ] || enc_ckpt="$WORK/enc/last.pt"

phase "stage 2 ($DEC_MINUTES min after the feature cache)"
# shellcheck disable=SC2086
"$PYTHON" -m training.train_decoder --data "$WORK/data" --encoder "$enc_ckpt" \
    --out "$WORK/dec" --minutes "$DEC_MINUTES" --steps "$DEC_STEPS" --objects "$DEC_OBJECTS" \
    --prompts "$DEC_PROMPTS" --cache-objects "$CACHE_OBJECTS" --cache-points "$CACHE_POINTS" \
    --decoder-points "$DECODER_POINTS" --w-bce 0 --decoder-model-json "$DEC_MODEL_JSON" \
    --rotation "$ENC_ROTATION" "${common[@]}" --resume $DEC_ARGS

phase "packaging"
"$PYTHON" -m training.package --encoder "$enc_ckpt" --decoder "$WORK/dec" \
    --out "$OUT_DIR/weights" --data "$WORK/data" --no-onnx \
    --notes "scripts/train_on_device.sh: $OBJECTS objects, stage 1 $ENC_MINUTES min, stage 2 $DEC_MINUTES min on $DEVICE (bf16=$BF16)"
for stage in enc dec; do
    cp "$WORK/$stage/last.pt" "$WORK/$stage/history.jsonl" "$WORK/$stage/history.png" \
        "$OUT_DIR/$stage/"
done
phase "done: weights and histories in $OUT_DIR"
