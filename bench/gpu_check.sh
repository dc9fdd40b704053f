#!/usr/bin/env bash
# The GPU check of issue #20, as one prepared script: engine tests, the in-process engine benchmark on
# CUDA (bench/engine_speed.py: embedded engine with the float vocoder, random-weight XTTS-v2 and F5-TTS,
# first chunk and RTF per engine next to the embedded engine on the CPU), and, where the local stack
# starts, bench/synthesis_latency through the gateway.
#
# Run from the repository root on a machine where the venv (.venv) is already installed: a GPU machine
# may reach no package registry, so nothing here installs anything. The embedded engine (its tests and
# its rows, which are also the benchmark's baseline) needs the model store (`timbre models fetch`,
# ~700 MB, at TIMBRE_MODEL_PATH or ~/.cache/timbre/models) already there; without it those are
# skipped or fail, and the random-weight XTTS/F5 figures are still measured. Output: every step's log under
# $OUT (default ./.run/gpu-check; the device tool sets $OUT), a summary at the end. Each step has its
# own timeout so the whole run stays under ~10 minutes on an H200.
#
#   bash bench/gpu_check.sh            # exit 0: every step that ran passed; 2: no CUDA; 1: a step failed
#
# Knobs (environment): OUT, RUNS (engine_speed runs per engine and language, default 5),
# SYNTH_ENGINE (TIMBRE_ENGINE for the stack's synthesis service, default embedded).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${OUT:-./.run/gpu-check}"
RUNS="${RUNS:-5}"
SYNTH_ENGINE="${SYNTH_ENGINE:-embedded}"
PY=.venv/bin/python
mkdir -p "$OUT"

declare -a SUMMARY=()
FAILED=0

# step NAME TIMEOUT_S COMMAND...: runs COMMAND under `timeout`, its stdout and stderr teed into
# $OUT/NAME.log; a failure is recorded (not fatal) so one broken step does not hide the others' figures.
step() {
    local name="$1" limit="$2"
    shift 2
    local started rc
    started=$(date +%s)
    echo "=== $name (timeout ${limit}s): $*" | tee "$OUT/$name.log"
    set +e
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$OUT/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    local took=$(($(date +%s) - started))
    if [[ $rc -eq 0 ]]; then
        SUMMARY+=("ok      $name (${took}s)")
    elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
        SUMMARY+=("TIMEOUT $name after ${limit}s: $OUT/$name.log")
        FAILED=1
    else
        SUMMARY+=("FAILED  $name (exit $rc, ${took}s): $OUT/$name.log")
        FAILED=1
    fi
    return 0
}

summary() {
    echo
    echo "=== summary ($OUT)"
    printf '%s\n' "${SUMMARY[@]}"
}

if [[ ! -x "$PY" ]]; then
    echo "gpu_check: no $PY here; install the venv first (make setup) on a machine that reaches the registries" >&2
    exit 2
fi

# 1. The GPU as the driver sees it (absent on CPU machines: said, not fatal; torch decides below).
if command -v nvidia-smi >/dev/null 2>&1; then
    step nvidia-smi 30 nvidia-smi
else
    echo "nvidia-smi: not installed" | tee "$OUT/nvidia-smi.log"
    SUMMARY+=("absent  nvidia-smi")
fi

# 2. CUDA as torch sees it: everything after this measures the GPU, so without it there is nothing to run.
if ! "$PY" - >"$OUT/cuda.log" 2>&1 <<'EOF'; then
import sys
import torch
print(f"torch {torch.__version__}, built for CUDA {torch.version.cuda}")
if not torch.cuda.is_available():
    sys.exit(1)
print(f"CUDA available: {torch.cuda.device_count()} device(s), {torch.cuda.get_device_name(0)}")
EOF
    cat "$OUT/cuda.log"
    echo "gpu_check: NO CUDA: torch.cuda.is_available() is False here (or torch failed to load: above); no GPU check was run" | tee -a "$OUT/cuda.log" >&2
    SUMMARY+=("STOPPED no CUDA (torch.cuda.is_available() is False)")
    summary
    exit 2
fi
cat "$OUT/cuda.log"
SUMMARY+=("ok      cuda: $(tail -n 1 "$OUT/cuda.log")")

# The model store, said up front: its absence explains the embedded engine's failures below.
if ! "$PY" -c 'from kit.models import ModelStore; ModelStore().require("hifigan"); ModelStore().require("kokoro")' \
    >"$OUT/model-store.log" 2>&1; then
    echo "gpu_check: the model store lacks the embedded engine's models; its tests fail and its rows are skipped:"
    tail -n 1 "$OUT/model-store.log"
    SUMMARY+=("absent  model store (embedded engine): $(tail -n 1 "$OUT/model-store.log")")
fi

# 3. Engine tests. They pin on="cpu" where they construct engines directly (reproducible figures on any
# machine); what they build through make_engine or CoquiEngine/F5Engine without `on` runs on CUDA,
# since coqui.device() and f5.device() pick cuda whenever torch sees one.
step engine-tests 240 .venv/bin/pytest tests/engine -q -p no:cacheprovider

# 4. First chunk and RTF per engine on CUDA, next to the embedded engine on the CPU in the same run.
step engine-speed 300 "$PY" -m bench.engine_speed --device cuda --runs "$RUNS" --json "$OUT/engine_speed.json"

# 5. Through the platform, where the local stack (PostgreSQL, Kafka) can start on this machine.
# The stack's synthesis service makes its engine with factory.make_engine: XTTS/F5 (SYNTH_ENGINE) take
# CUDA on their own; the embedded engine is made without a device there, so it speaks on the CPU. A
# stack already up keeps the engine it started with (`up` is idempotent).
if TIMBRE_ENGINE="$SYNTH_ENGINE" timeout 120 .venv/bin/timbre stack up >"$OUT/stack-up.log" 2>&1; then
    SUMMARY+=("ok      stack up (TIMBRE_ENGINE=$SYNTH_ENGINE)")
    step synthesis-latency 240 env TIMBRE_ENGINE="$SYNTH_ENGINE" \
        "$PY" -m bench.synthesis_latency --requests 10 --concurrency 1,4,16
    # Left up: `.venv/bin/timbre stack down` stops exactly what `up` started.
else
    echo "stack up failed (no PostgreSQL/Kafka here?): synthesis_latency skipped; see $OUT/stack-up.log"
    tail -n 5 "$OUT/stack-up.log" || true
    SUMMARY+=("skipped synthesis-latency: timbre stack up failed ($OUT/stack-up.log)")
fi

summary
if [[ -f "$OUT/engine_speed.json" ]]; then
    echo
    # The engine table again, last, so it is what a reader of the tail sees.
    grep -E '^\|' "$OUT/engine-speed.log" || true
fi
exit "$FAILED"
