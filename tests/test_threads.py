"""lipexact.threads: the scope restores torch's and threadpoolctl's settings; overrides and bad values.

No timing here: the speed targets live in ``python -m benchmarks.threads``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from lipexact import threads as th
from lipexact.bounds import lower_bound, upper_bound, validate_request
from lipexact.exact.arrangement import small_blas
from reductions.validation import InvalidInputError


def _pools() -> list[tuple[str, int]]:
    return sorted((p["filepath"], p["num_threads"]) for p in threadpool_info())


@pytest.fixture
def three_threads(monkeypatch):
    """torch and every pool at 3 threads (not the count any scope below asks for), restored afterwards; scipy's
    own BLAS loaded first (a scope loads it, so that its limit covers it)."""
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    monkeypatch.delenv(th.ENV_VAR, raising=False)
    before = torch.get_num_threads()
    limits = threadpool_limits(limits=3)
    torch.set_num_threads(3)
    yield
    limits.restore_original_limits()
    torch.set_num_threads(before)


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2)).double()


def test_scope_sets_and_restores_after_normal_exit(three_threads):
    before = _pools()
    with th.thread_scope(threads=1) as count:
        assert count == 1 and torch.get_num_threads() == 1
        assert all(n == 1 for _, n in _pools())
    assert torch.get_num_threads() == 3 and _pools() == before


def test_scope_restores_after_an_exception(three_threads):
    before = _pools()
    with pytest.raises(RuntimeError, match="boom"):
        with th.thread_scope(threads=2):
            assert torch.get_num_threads() == 2
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 3 and _pools() == before
    assert th.current_threads() is None


def test_small_work_gets_one_thread_and_nested_scopes_keep_the_outer_count(three_threads):
    with th.thread_scope(work=10) as count:
        assert count == 1 and torch.get_num_threads() == 1
        with small_blas():
            assert torch.get_num_threads() == 1
    with th.thread_scope(threads=2):
        with small_blas() as inner:  # the outer call knew the workload
            assert inner == 2 and torch.get_num_threads() == 2
        with th.thread_scope(threads=1):  # an explicit count still applies
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 3


def test_large_work_uses_the_idle_cores(three_threads, monkeypatch):
    monkeypatch.setattr(th, "idle_cpus", lambda: 7)
    assert th.choose_threads(work=th.CROSSOVER_WORK) == 7
    assert th.choose_threads(work=th.CROSSOVER_WORK - 1) == 1
    assert th.choose_threads(work=None) == 1


def test_environment_variable_and_argument_override_the_rule(three_threads, monkeypatch):
    monkeypatch.setattr(th, "idle_cpus", lambda: 7)
    monkeypatch.setenv(th.ENV_VAR, "2")
    assert th.choose_threads(work=10) == 2 and th.choose_threads(work=1e12) == 2
    assert th.choose_threads(work=10, threads=4) == 4  # the argument wins over the environment
    monkeypatch.setenv(th.ENV_VAR, "auto")
    assert th.choose_threads(work=10) == 1 and th.choose_threads(work=1e12) == 7
    monkeypatch.setenv(th.ENV_VAR, "2")
    with small_blas() as count:
        assert count == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "two", "0", "-2", [1]])
def test_bad_values_are_refused_naming_the_field(value, monkeypatch):
    monkeypatch.delenv(th.ENV_VAR, raising=False)
    with pytest.raises(InvalidInputError) as error:
        th.choose_threads(work=10, threads=value)
    assert error.value.field == "threads"
    with pytest.raises(InvalidInputError) as error:
        upper_bound(_mlp(), "autolip", device="cpu", threads=value)
    assert error.value.field == "threads"
    with pytest.raises(InvalidInputError) as error:
        validate_request("autolip", _mlp(), device="cpu", threads=value)
    assert error.value.field == "threads"


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "many"])
def test_bad_environment_variable_is_refused_naming_it(value, monkeypatch):
    monkeypatch.setenv(th.ENV_VAR, value)
    before = torch.get_num_threads()
    with pytest.raises(InvalidInputError) as error:
        th.choose_threads(work=10)
    assert error.value.field == th.ENV_VAR
    with pytest.raises(InvalidInputError) as error:
        upper_bound(_mlp(), "seqlip_greedy", device="cpu")
    assert error.value.field == th.ENV_VAR
    assert th.choose_threads(work=10, threads=1) == 1  # an explicit argument does not read the variable
    assert torch.get_num_threads() == before


def test_bounds_record_and_restore_their_thread_count(three_threads, monkeypatch):
    model = _mlp()
    result = upper_bound(model, "seqlip_greedy", device="cpu")
    assert result.stats["threads"] == 1 and torch.get_num_threads() == 3
    result = upper_bound(model, "autolip", device="cpu", threads=2)
    assert result.stats["threads"] == 2 and torch.get_num_threads() == 3
    monkeypatch.setenv(th.ENV_VAR, "2")
    low = lower_bound(model, "data", data=torch.randn(8, 3, dtype=torch.float64), device="cpu")
    assert low.stats["threads"] == 2 and torch.get_num_threads() == 3


def test_bound_failure_inside_the_scope_restores(three_threads):
    with pytest.raises(InvalidInputError):
        upper_bound(_mlp(), "power", device="cpu", threads=1)  # not an affine model
    assert torch.get_num_threads() == 3


def test_model_work_counts_the_largest_layer():
    mlp = torch.nn.Sequential(torch.nn.Linear(10, 200), torch.nn.ReLU(), torch.nn.Linear(200, 200),
                              torch.nn.ReLU(), torch.nn.Linear(200, 10))
    assert th.model_work(mlp, (10,)) == 40_000
    assert th.model_work(mlp, (10,), batch=16) == 640_000
    assert th.model_work(mlp) == 40_000  # no shape: the largest weight
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(64 * 28 * 28, 10))
    assert th.model_work(cnn, (1, 28, 28)) == 32 * 64 * 9 * 28 * 28  # the second convolution
    from lipexact.network import TwoLayerReLU

    assert th.model_work(TwoLayerReLU(np.ones((5, 3)), np.ones((1, 5)))) == 15


def test_idle_cpus_within_range():
    assert 1 <= th.idle_cpus() <= th.available_cpus()
    assert th.busy_cpus(samples=1) >= 0


def test_thread_limit_refuses_none():
    with pytest.raises(InvalidInputError) as error:
        with th.thread_limit(None):
            pass
    assert error.value.field == "threads"


def test_a_limit_covers_scipys_blas_first_loaded_inside_the_block():
    """scipy.linalg brings its own OpenBLAS, loaded on its first import: a limit entered before that import
    must cover it too (the global deep searches import it inside their block, through the LipSDP bounds). In a
    fresh interpreter with two BLAS threads asked for outside, so that the check can fail on any machine."""
    import ast
    import os
    import subprocess
    import sys

    code = ("from threadpoolctl import threadpool_info, threadpool_limits\n"
            "import numpy\n"
            "threadpool_limits(2)\n"
            "from lipexact.threads import small_blas\n"
            "with small_blas():\n"
            "    import scipy.linalg\n"
            "    print(sorted({(i['filepath'].rsplit('/', 1)[-1], i['num_threads']) for i in threadpool_info()"
            " if i['user_api'] == 'blas'}))\n")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "OPENBLAS_NUM_THREADS": "2"}).stdout
    libraries = ast.literal_eval(found)
    assert libraries and all(count == 1 for _, count in libraries), found  # (one library where scipy shares numpy's)
