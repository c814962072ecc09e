#!/usr/bin/env bash
# One GPU session in one call: check the Python packages, show the GPU, train the `full` reference set
# with N runs in parallel, time the source's ResNet-18 towards 94 %, and leave results and timings in $OUT.
#
#   OUT=/path/for/results CNNBOOK_DATA=/path/to/data scripts/gpu_session.sh [--dry-run] [--jobs N]
#
# --dry-run prints every command and runs none. Environment: PYTHON (default .venv/bin/python, else
# python3), WORK (scratch folder, default /tmp/gpu_session), REPRODUCE_SECONDS and RESNET18_SECONDS (time limits of the two trainings; an interrupted
# reference run resumes from its last epoch when the script runs again), RESNET18_EPOCHS.
# $OUT receives at most 5 files: nvidia-smi.txt, timings.json, results-full.tar.gz (the reference runs,
# to unpack into the repository), logs.tar.gz (every run's log and ResNet-18's history).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
jobs=7
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --jobs) jobs="$2"; shift ;;
    *) echo "gpu_session: unknown option $1 (use --dry-run, --jobs N)" >&2; exit 2 ;;
  esac
  shift
done
: "${OUT:?set OUT to the folder that receives results and timings}"
: "${CNNBOOK_DATA:?set CNNBOOK_DATA to the folder holding CIFAR-10}"
export CNNBOOK_DATA
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # cnnbook from this checkout, installed or not
reproduce_seconds=${REPRODUCE_SECONDS:-420}
resnet18_seconds=${RESNET18_SECONDS:-150}
resnet18_epochs=${RESNET18_EPOCHS:-30}
work=${WORK:-/tmp/gpu_session}  # outside $OUT: only the files named above come back

run() {
  echo "+ $1"
  if [ "$dry_run" = 0 ]; then eval "$1"; fi
}

run "rm -rf '$work' && mkdir -p '$work' '$OUT'"
run "$PYTHON -c 'import torch, torchvision, matplotlib, tqdm' || $PYTHON -m pip install -q -r requirements.txt"
run "nvidia-smi | tee '$OUT/nvidia-smi.txt'"
run "$PYTHON -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())' | tee -a '$OUT/nvidia-smi.txt'"
run "start=\$(date +%s)"
run "timeout --signal=INT $reproduce_seconds $PYTHON -m cnnbook reproduce --budget full --jobs $jobs \
  2>&1 | tee '$work/reproduce.log' || true"
run "reproduce_seconds=\$(( \$(date +%s) - start ))"
run "start=\$(date +%s)"
run "timeout --signal=INT $resnet18_seconds $PYTHON -m cnnbook train --model resnet18 --budget full \
  --epochs $resnet18_epochs --out '$work/resnet18' --no-progress 2>&1 | tee '$work/resnet18.log' || true"
run "resnet18_seconds=\$(( \$(date +%s) - start ))"
run "$PYTHON scripts/session_timings.py --reproduce-seconds \$reproduce_seconds --jobs $jobs \
  --resnet18 '$work/resnet18' --resnet18-seconds \$resnet18_seconds > '$OUT/timings.json'"
run "cat '$OUT/timings.json'"
run "results=\$($PYTHON -c 'from cnnbook.reference import RESULTS; print(RESULTS)')"
run "tar -czf '$OUT/results-full.tar.gz' -C \"\$results\" --exclude=resume.pt full"
run "tar -czf '$OUT/logs.tar.gz' -C '$work' --exclude=checkpoint.pt . -C \"\$PWD\" runs/reproduce-full"
run "ls -l '$OUT'"
