#!/usr/bin/env bash
# Grade a homework on Slurm and merge: slurm/grade.sh HOMEWORK WORKSPACE TASKS [CPUS_PER_TASK]
# Submits slurm/grade-array.sbatch as an array of TASKS tasks, waits for it, then merges the shards.
# Run from the repository root, after `collect` into WORKSPACE.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: slurm/grade.sh HOMEWORK WORKSPACE TASKS [CPUS_PER_TASK]" >&2; exit 2
fi
homework=$1 workspace=$2 tasks=$3 cpus=${4:-1}
python=${PYTHON:-.venv/bin/python}
logs="$workspace/slurm-logs"
mkdir -p "$logs"
sbatch --wait --array="1-$tasks" --cpus-per-task="$cpus" --output="$logs/grade-%A_%a.out" \
  slurm/grade-array.sbatch "$homework" "$workspace"
"$python" -m autograder --workspace "$workspace" merge "$homework"
