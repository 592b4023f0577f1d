"""Caller behaviours for vmsim: each registers itself in ``REGISTRY``.

Modules import in a fixed order so that ``REGISTRY`` order is stable.
"""

from .base import REGISTRY, Caller, Workload, WorkloadParams, get, register

__all__ = ["REGISTRY", "Caller", "Workload", "WorkloadParams", "get", "register"]
