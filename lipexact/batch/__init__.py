"""Many exact solves at once: instance libraries and sweeps, in this process or on Dask.

``python -m lipexact.batch INPUTS... --methods auto,bnb --norm 2 --time-limit 600 [--scheduler local:N |
ADDRESS] -o results.jsonl`` and :func:`solve_many` solve every (input, method, norm) and write one JSON line
per task as it finishes; a run with the same ``-o`` skips the finished tasks. Modules: :mod:`.tasks`
(inputs, keys), :mod:`.work` (one task), :mod:`.store` (the results file), :mod:`.local` (in-process),
:mod:`.cluster` (Dask), :mod:`.progress`, :mod:`.api`, :mod:`.cli`. Dask is imported only with a scheduler.
"""

from lipexact.batch.api import execute, plan_batch, solve_many
from lipexact.batch.tasks import InputFile, Task
from lipexact.batch.work import run_task

__all__ = ["solve_many", "plan_batch", "execute", "run_task", "Task", "InputFile"]
