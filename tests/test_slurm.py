"""Sharded grading on a real one-node Slurm cluster: the job array of slurm/grade.sh grades the same
submissions as one serial run, once merged. The cluster is brought up by slurm/local-cluster.sh
(apt installs slurm-wlm and munge where it can); the test is skipped where that cannot be done."""
import shutil
import subprocess

import pytest
from grading_support import HOMEWORK, recorded
from test_grade_scale import STUDENTS, outcome, submitted_course

from autograder.course import REPO_ROOT
from autograder.executor import sandbox_available
from autograder.grade import GradingOptions, grade_homework

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sandbox_available()[0], reason="bubblewrap unavailable")]


@pytest.fixture(scope="module")
def cluster():
    proc = subprocess.run([str(REPO_ROOT / "slurm" / "local-cluster.sh")], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip() or "no Slurm here")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shutil.which("sbatch")


def test_a_job_array_graded_and_merged_gives_the_serial_grades(cluster, tmp_path):
    serial = submitted_course(tmp_path, "serial")
    grade_homework(serial, HOMEWORK, GradingOptions())
    sharded = submitted_course(tmp_path, "slurm")
    proc = subprocess.run([str(REPO_ROOT / "slurm" / "grade.sh"), HOMEWORK, str(sharded.workspace), "2"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr + "".join(
        p.read_text() for p in (sharded.workspace / "slurm-logs").glob("*.out"))
    assert "merged" in proc.stdout
    shards = sorted(p.name for p in (sharded.workspace / "shards").iterdir())
    assert shards == ["1-of-2", "2-of-2"], "each array task graded its own share"
    assert outcome(sharded) == outcome(serial)
    assert {s for s, _ in outcome(sharded)} == set(STUDENTS)
    assert len(recorded(sharded)) == len(recorded(serial))
