#!/usr/bin/env bash
# One GPU session in one call: check the Python packages, show the GPU, train the reference runs still
# missing from the `quick` set (every seed; the source's ResNet-18 and its source-recipe twin are the
# ones a CPU cannot afford), then that pair at the `full` budget, then the rest of the `full` set, with
# N runs in parallel, and leave results and timings in $OUT.
#
#   OUT=/path/for/results CNNBOOK_DATA=/path/to/data scripts/gpu_session.sh [--dry-run] [--jobs N]
#   OUT=/path/for/results scripts/gpu_session.sh --data-archive cifar10.tar.gz [--jobs N]
#
# --data-archive unpacks a tar.gz of the data folder first (`tar -czf cifar10.tar.gz -C ../shared/data
# cifar10` is 20 MB: it travels to a GPU machine that cannot download). --dry-run prints every command
# and runs none. Environment: PYTHON (default .venv/bin/python, else python3), WORK (scratch folder,
# default /tmp/gpu_session), REPRODUCE_SECONDS (time limit of the training, default 540 s, under a
# 600 s call; an interrupted reference run resumes from its last epoch when the script runs again).
# $OUT receives nvidia-smi.txt, timings.json, logs.tar.gz (every run's log) and results.tar.part-aa, -ab, ...
# (the runs this session stored, in parts of 15 MB, under the device tool's 16 MB a file; unpack them into
# cnnbook/results/ with `cat results.tar.part-* | tar -xf - -C cnnbook/results`). Fetch them from the call
# that trained them: a later call sends the working tree again and removes the runs it does not hold.
# The device tool sends the working tree and the data archive together, 64 MiB at most: the two stored
# ResNet-18 checkpoints (22 MB each) do not fit beside the 20 MB archive, and `--missing` needs only
# their history and provenance. Remove them for the call and restore them after:
#   rm cnnbook/results/*/resnet18/checkpoint.pt   (then, after the call)   git checkout -- cnnbook/results
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
jobs=16  # every reference run at once (min of N and the runs): tiny models leave a large GPU mostly idle
archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --jobs) jobs="$2"; shift ;;
    --data-archive) archive="$2"; shift ;;
    *) echo "gpu_session: unknown option $1 (use --dry-run, --jobs N, --data-archive FILE)" >&2; exit 2 ;;
  esac
  shift
done
: "${OUT:?set OUT to the folder that receives results and timings}"
work=${WORK:-/tmp/gpu_session}  # outside $OUT: only the files named above come back
if [ -n "$archive" ]; then CNNBOOK_DATA="$work/data"; fi
: "${CNNBOOK_DATA:?set CNNBOOK_DATA to the folder holding CIFAR-10, or pass --data-archive FILE}"
export CNNBOOK_DATA
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # cnnbook from this checkout, installed or not
source_runs="resnet18 source-resnet18"  # a CPU's hours each: first at every budget
reproduce_seconds=${REPRODUCE_SECONDS:-540}  # under a 600 s call, with the packing after it

run() {
  echo "+ $1"
  if [ "$dry_run" = 0 ]; then eval "$1"; fi
}

run "rm -rf '$work' && mkdir -p '$work' '$OUT'"
if [ -n "$archive" ]; then run "mkdir -p '$CNNBOOK_DATA' && tar -xzf '$archive' -C '$CNNBOOK_DATA'"; fi
run "$PYTHON -c 'import torch, torchvision, matplotlib, tqdm' || $PYTHON -m pip install -q -r requirements.txt"
run "nvidia-smi | tee '$OUT/nvidia-smi.txt'"
run "$PYTHON -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())' | tee -a '$OUT/nvidia-smi.txt'"
run "start=\$(date +%s) && touch '$work/started'"
run "timeout --signal=INT $reproduce_seconds bash -c '$PYTHON -m cnnbook reproduce --budget quick --missing \
  --jobs $jobs && $PYTHON -m cnnbook reproduce --budget full --missing --only $source_runs --jobs $jobs \
  && $PYTHON -m cnnbook reproduce --budget full --missing --jobs $jobs' 2>&1 | tee '$work/reproduce.log' || true"
run "reproduce_seconds=\$(( \$(date +%s) - start ))"
run "$PYTHON scripts/session_timings.py --reproduce-seconds \$reproduce_seconds --jobs $jobs > '$OUT/timings.json'"
run "cat '$OUT/timings.json'"
run "results=\$($PYTHON -c 'from cnnbook.runs.reference import RESULTS; print(RESULTS)')"
# Logs first: whatever failed above, they say why.
run "tar -czf '$OUT/logs.tar.gz' -C '$work' --exclude=./data --exclude=checkpoint.pt . -C \"\$PWD\" runs || true"
run "(cd \"\$results\" && find quick full -name provenance.json -newer '$work/started' -printf '%h\\n' | \
  tar -cf - --exclude=resume.pt -T - | split -b 15M - '$OUT/results.tar.part-') || true"
run "ls -l '$OUT'"
