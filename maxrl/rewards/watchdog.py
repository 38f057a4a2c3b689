"""The per-item time limit inside a reward worker: a hanging item is interrupted at its own deadline.

Killing the worker from the parent would cost a whole chunk and a fresh process (imports, warm-up: seconds).
Instead a watcher thread sends a signal to the worker's main thread when the current item passes its limit;
the handler raises ``ItemTimeout`` there, so Python code (sympy included) and blocking calls such as
``time.sleep`` stop at once and the chunk goes on with its next item. SIGALRM is left to the scorer (verl's
scorers use ``signal.alarm`` for their own limits). Code that never returns to the interpreter (a C loop),
or a scorer that catches ``BaseException``, is not stopped here: the pool's task limit in the parent kills it.
"""

from __future__ import annotations

import signal
import threading
import time

INTERRUPT_SIGNAL = signal.SIGUSR2


class ItemTimeout(BaseException):
    """Raised in the main thread at an item's deadline; a BaseException, so ``except Exception`` in a scorer
    does not swallow it."""


class Watchdog:
    """Arm before an item, disarm after it; must be created in the process's main thread."""

    def __init__(self):
        self._deadline: float | None = None
        self._signalled: float | None = None
        self._changed = threading.Condition()
        self._main_thread = threading.main_thread().ident
        signal.signal(INTERRUPT_SIGNAL, self._on_signal)
        threading.Thread(target=self._watch, name="reward-item-watchdog", daemon=True).start()

    def arm(self, seconds: float) -> None:
        with self._changed:
            self._deadline = time.monotonic() + seconds
            self._changed.notify()

    def disarm(self) -> None:
        with self._changed:
            self._deadline = None
            self._changed.notify()

    def _on_signal(self, signum, frame) -> None:
        """Runs in the main thread. A late signal (the item already finished) is ignored."""
        deadline = self._deadline
        if deadline is not None and time.monotonic() >= deadline:
            self._deadline = None  # raise once per item, wherever the exception lands
            raise ItemTimeout()

    def _watch(self) -> None:
        with self._changed:
            while True:
                deadline = self._deadline
                if deadline is None or deadline == self._signalled:
                    self._changed.wait()
                elif time.monotonic() < deadline:
                    self._changed.wait(deadline - time.monotonic())
                else:
                    self._signalled = deadline
                    signal.pthread_kill(self._main_thread, INTERRUPT_SIGNAL)
