"""Each grading worker's share of the cores, and the thread-pool sizes its kernels are told."""
import pytest

from autograder.cores import THREAD_VARIABLES, thread_env, worker_cores
from autograder.executor.session import kernel_env


@pytest.mark.parametrize("cores, jobs", [(2, 2), (4, 2), (8, 3), (16, 4), (3, 2)])
def test_workers_get_disjoint_equal_shares_while_there_are_enough_cores(cores, jobs):
    available = list(range(100, 100 + cores))  # ids need not start at 0 (a Slurm allocation)
    shares = [worker_cores(slot, jobs, available) for slot in range(jobs)]
    assert all(len(share) == cores // jobs for share in shares)
    assert len(set().union(*shares)) == jobs * (cores // jobs), "no core is shared"
    assert set().union(*shares) <= set(available)


def test_more_workers_than_cores_take_one_core_each_in_turn():
    assert [worker_cores(slot, 5, [0, 1]) for slot in range(5)] == [[0], [1], [0], [1], [0]]


def test_the_kernel_is_told_its_share_and_nothing_when_unpinned(tmp_path):
    env = kernel_env(tmp_path, [], {}, threads=2)
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "2")
    assert not set(THREAD_VARIABLES) & set(kernel_env(tmp_path, [], {}))
    assert thread_env(None) == {}


def test_a_workers_budget_stretches_with_its_share_and_the_instructors_limits_do_not():
    from autograder.grade import GradingOptions

    class Checks:
        budget = {"cell_timeouts": (("train", 40.0),), "cell_timeout_s": 40.0, "notebook_timeout_s": 100.0,
                  "memory_mb": 2048}

    half = GradingOptions(budget_time_scale=2.0).limits_for(Checks)
    assert (half.cell_timeouts, half.cell_timeout_s, half.notebook_timeout_s, half.memory_mb) == \
        ((("train", 80.0),), 80.0, 200.0, 2048)
    told = GradingOptions(budget_time_scale=2.0, overrides={"notebook_timeout_s": 50}).limits_for(Checks)
    assert told.notebook_timeout_s == 50 and told.cell_timeout_s == 80.0
