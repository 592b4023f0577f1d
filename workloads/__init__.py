"""Caller behaviours for vmsim: each registers itself in ``REGISTRY``.

Modules import in a fixed order so that ``REGISTRY`` order is stable.
"""

from .base import REGISTRY, Caller, Workload, WorkloadParams, get, register

# registration order = REGISTRY order (``vmsim list``)
from . import seed  # noqa: E402,F401  isort: skip
from . import lib_test_vmalloc  # noqa: E402,F401  isort: skip
from . import background  # noqa: E402,F401  isort: skip
from . import random_workload  # noqa: E402,F401  isort: skip
from . import trace_replay  # noqa: E402,F401  isort: skip

__all__ = ["REGISTRY", "Caller", "Workload", "WorkloadParams", "get", "register"]
