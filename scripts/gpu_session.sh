#!/usr/bin/env bash
# The measurements that need a GPU, in phases that each fit one 10-minute call of the device tool.
#
#   scripts/gpu_session.sh check            CUDA tests: graphed steps train as eager ones, no host syncs
#   scripts/gpu_session.sh bench            training speed of every family and technique, and profiles
#   scripts/gpu_session.sh bench-short      the default engine and CUDA graphs at batch 64 (StyleGAN2 32) only
#   scripts/gpu_session.sh train MINUTES    start (or continue) the five quality runs, side by side on the
#                                           one GPU, for MINUTES more minutes of training each
#   scripts/gpu_session.sh eval             score the quality runs against the 2,000 held-out faces; their
#                                           nearest real faces, faces found for held-out and training files
#
# Phases can be chained in one call: `scripts/gpu_session.sh check bench`. With 15 minutes of GPU time a
# session fits `check bench` (one call) or the quality runs (`train 5`, then `train 5 eval`), not both;
# `check bench-short train 4` then `train 6 eval` squeezes a first look at everything into one session.
# Data: .devdata/anime-faces-64.zip (made here with `cd ../shared/datasets && zip -0 -r $REPO/.devdata/anime-faces-64.zip anime-faces-64`
# and carried with the call). Runs live in runs/gpu/, which stays on the machine between calls only while it
# is warm: the device tool gives an idle machine back 30 s after a call ends, so make the next call at once. Results go to $OUT (the device tool brings them back). GRAPHS=1 trains the quality runs with
# --cuda-graphs. FAMILIES overrides the families of `train` and `eval`; HOLDOUT the 2,000 held-out files; DEVICE=cpu
# runs the phases without a GPU, to try the script out.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu/out}
mkdir -p "$OUT" runs/gpu
export PYTHONUNBUFFERED=1 PYTHONPATH=. GAN_STUDIO_CACHE=runs/gpu/cache
DATA=runs/gpu/anime-faces-64
FAMILIES=${FAMILIES:-"stylegan2 dcgan dcgan-tutorial wgan-clip wgan-gp"}
HOLDOUT=${HOLDOUT:-2000}  # the last files of the folder, never trained on, scored against
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu tries the phases out on a machine with no GPU (the figures mean nothing there)
# Python unpacks it: the device image is not said to have `unzip`.
[ -d "$DATA" ] || python3 -m zipfile -e .devdata/anime-faces-64.zip runs/gpu || { echo "no .devdata/anime-faces-64.zip"; exit 2; }
[ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/session.log"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$OUT/session.log"
date -u | tee -a "$OUT/session.log"

phase_check() {
    python3 -m pytest -q -p no:cacheprovider tests/trainers/test_speed_options.py 2>&1 | tee "$OUT/check.log" | tail -15
}

phase_bench() {
    python3 bench/train_speed.py --device "$DEVICE" --data "$DATA" --variants all --batches 64 2>&1 | tee "$OUT/train_speed.txt"
    python3 bench/train_speed.py --device "$DEVICE" --data "$DATA" --variants eager,graphs,graphs+bf16 --batches 256 \
        --families dcgan,dcgan-tutorial,wgan-clip,wgan-gp 2>&1 | tee -a "$OUT/train_speed.txt"
    for family in dcgan wgan-gp stylegan2; do
        batch=64; [ "$family" = stylegan2 ] && batch=32
        for variant in eager graphs; do
            python3 bench/profile_step.py --device "$DEVICE" --family "$family" --batch "$batch" --variant "$variant" \
                --steps 16 --top 8 2>&1 | grep -v "^STAGE:"
        done
    done > "$OUT/profiles.txt"
    grep -A3 "wall per step" "$OUT/profiles.txt"
}

phase_bench_short() {
    python3 bench/train_speed.py --device "$DEVICE" --data "$DATA" --variants eager,graphs --batches 64 --steps 30 \
        2>&1 | tee "$OUT/train_speed_short.txt"
}

phase_train() {
    local minutes=$1 pids=()
    # Decode once into the shared cache, so that the five runs do not all decode at once.
    python3 -c "from trainers.data import load_folder; print(load_folder('$DATA', 64).images.shape)"
    for family in $FAMILIES; do
        run=runs/gpu/q-$family
        if [ -f "$run/checkpoints/latest" ]; then
            args=(--resume --out "$run" --minutes "$minutes")
        else
            args=("$DATA" --model "$family" --holdout "$HOLDOUT" --minutes "$minutes" --out "$run" --log-every 100
                  --sample-every 5000 --checkpoint-every 20000)
        fi
        [ "${GRAPHS:-0}" = 1 ] && args+=(--cuda-graphs)
        python3 -m trainers train "${args[@]}" --quiet >>"runs/gpu/q-$family.log" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || echo "a run ended with status $?"; done
    for family in $FAMILIES; do
        echo "== $family"; tail -3 "runs/gpu/q-$family.log"; tail -1 "runs/gpu/q-$family/log.jsonl"
        # the latest snapshot comes back with every call, in case the machine is gone before `eval`
        last=$(ls runs/gpu/q-$family/samples/step-*.png 2>/dev/null | tail -1)
        [ -n "$last" ] && cp "$last" "$OUT/latest-$family.png"
    done | tee -a "$OUT/train.log"
}

phase_eval() {
    local runs=()
    for family in $FAMILIES; do runs+=("runs/gpu/q-$family"); done
    # "$DATA" itself gives the floor: the held-out faces against as many training files
    python3 -m trainers eval "${runs[@]}" "$DATA" --real "$DATA" --real-last "$HOLDOUT" --metric swd --n 2048 \
        --json "$OUT/quality.json" 2>&1 | tee "$OUT/eval.txt"
    python3 - "$OUT/grids.png" $FAMILIES <<'EOF'
import glob, sys
from PIL import Image
grids = [Image.open(sorted(glob.glob(f"runs/gpu/q-{f}/samples/step-*.png"))[-1]) for f in sys.argv[2:]]
sheet = Image.new("RGB", (sum(g.width for g in grids), max(g.height for g in grids)), "white")
x = 0
for g in grids:
    sheet.paste(g, (x, 0)); x += g.width
sheet.save(sys.argv[1])
print("last snapshot grids, left to right:", " ".join(sys.argv[2:]))
EOF
    for family in $FAMILIES; do tail -1 "runs/gpu/q-$family/log.jsonl"; done > "$OUT/last_progress.jsonl"
    for family in $FAMILIES; do  # does a run copy its training faces? (each face's nearest real images)
        echo "== $family: $(python3 -m trainers nearest "runs/gpu/q-$family" --n 32 --out "$OUT/nearest-$family.png" \
            2>/dev/null | tail -1)"
    done | tee "$OUT/nearest.txt"
    for set in "" --first; do  # faces found for held-out and for training pictures: memorised ones come closer
        timeout 150 python3 bench/projection_quality.py "${runs[@]}" --device "$DEVICE" --pictures "$DATA" $set --n 4 \
            2>&1 | tee -a "$OUT/projection.txt"
    done
    for family in $FAMILIES; do  # how each run's faces changed, for QUALITY.md's descriptions
        python3 -m trainers timelapse "runs/gpu/q-$family" --out "$OUT/timelapse-$family.gif" --max-frames 40 2>&1 | tail -1
    done
}

while [ $# -gt 0 ]; do
    case "$1" in
        check) phase_check ;;
        bench) phase_bench ;;
        bench-short) phase_bench_short ;;
        train) phase_train "$2"; shift ;;
        eval) phase_eval ;;
        *) echo "unknown phase $1 (check, bench, train MINUTES, eval)"; exit 2 ;;
    esac
    shift
done
