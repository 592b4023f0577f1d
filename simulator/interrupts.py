"""Signals and worker processes: SIGINT, SIGTERM and SIGHUP end vmsim promptly and cleanly.

``install()`` (called by ``vmsim``'s ``main``) makes the three signals raise
:class:`Interrupted` (a ``KeyboardInterrupt``) in the main thread, once: the
first signal is recorded (:func:`received`) and raised; later ones are only
recorded, so that clean-up (terminating workers, removing a temporary
results directory) is not itself interrupted.  A signal whose exception was
swallowed somewhere (an ``Exception ignored in ...`` finaliser) is still
seen: :func:`check` raises it again, and the results directory is committed
only if no signal came (:func:`commit_guard`).

Worker processes (:mod:`simulator.runner`'s local Dask workers) block these
signals (a terminal sends them to the whole process group: the parent
decides), die with their parent even when it is killed with SIGKILL
(``prctl(PR_SET_PDEATHSIG, SIGKILL)`` right after the fork), and are stopped
as soon as the parent stops waiting for them (an interrupt or an error).

Exit status: 128 + the signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1

_received: int | None = None

T = TypeVar("T")
R = TypeVar("R")


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived; ``exit_status`` is 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _handler(signum: int, frame: Any) -> None:  # noqa: ARG001
    global _received
    if _received is not None:             # already ending: let the clean-up finish
        return
    _received = signum
    raise Interrupted(signum)


def _unraisable(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    def quiet(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return            # swallowed by a finaliser: recorded, check() raises it again
        hook(unraisable)
    quiet.vmsim = True        # type: ignore[attr-defined]
    return quiet


def install() -> None:
    """SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread.

    An interrupt that lands in a finaliser (``__del__``, a weakref callback), where
    Python can only print ``Exception ignored in ...``, is not printed: it stays
    recorded and :func:`check` raises it at the next check point."""
    global _received
    _received = None
    for sig in SIGNALS:
        signal.signal(sig, _handler)
    if not getattr(sys.unraisablehook, "vmsim", False):
        sys.unraisablehook = _unraisable(sys.unraisablehook)


def received() -> int | None:
    """The first signal received since :func:`install`, if any."""
    return _received


def check() -> None:
    """Raise :class:`Interrupted` if a signal came (even one whose exception was swallowed)."""
    if _received is not None:
        raise Interrupted(_received)


def ignore_further() -> None:
    """Ignore the three signals from now on (vmsim is about to exit)."""
    for sig in SIGNALS:
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):      # not the main thread
            pass


@contextmanager
def commit_guard() -> Iterator[None]:
    """Block the three signals around a commit (the renames of a results
    directory); raise :class:`Interrupted` before committing if one came."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        check()
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


__all__ = ["Interrupted", "SIGNALS", "check", "commit_guard", "ignore_further", "install",
           "received"]
