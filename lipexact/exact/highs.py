"""HiGHS models in this process: the region LPs of the tree searches and the MILPs share one thread scheduler.

HiGHS keeps a process-wide thread scheduler sized by the first solve that starts it; a later solve whose
``threads`` option differs refuses to run ("the scheduler has already been initialized"), which turned a MILP
solved after a branch and bound in the same process into an error. Every solve here therefore starts from a
fresh scheduler of the size it asks for.
"""

from __future__ import annotations

__all__ = ["new_highs", "reset_scheduler"]


def reset_scheduler() -> None:
    """Drop HiGHS's process-wide thread scheduler; the next solve starts one with its own ``threads``."""
    import highspy

    highspy.Highs.resetGlobalScheduler(True)


def new_highs(threads: int = 1):
    """A silent ``highspy`` model for ``threads`` threads, the scheduler reset to match.

    Examples
    --------
    >>> model = new_highs()
    >>> _ = model.addVar(0.0, 2.0), model.changeColCost(0, -1.0), model.run()
    >>> model.getInfo().objective_function_value
    -2.0
    """
    try:
        from highspy._core import _Highs as Highs  # no banner on construction
    except ImportError:  # pragma: no cover - other highspy layouts
        from highspy import Highs
    reset_scheduler()
    model = Highs()
    model.setOptionValue("output_flag", False)
    model.setOptionValue("threads", int(threads))
    return model
