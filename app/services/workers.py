"""Worker processes of the command line's long runs (the load's renderer, the import's
mapper): spawned, and gone when the process that started them is, even after a kill -9.

A worker blocked on its task queue never sees its parent die (it holds the queue's pipe both
ways), so each one watches its parent and exits when it has been re-parented.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

# How often a worker looks for its parent, in seconds.
WATCH_EVERY = 0.5


def pool() -> ProcessPoolExecutor:
    """A pool of one spawned worker that exits with this process."""
    return ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=_watch,
                               initargs=(os.getpid(),))


def _watch(parent: int) -> None:
    threading.Thread(target=_exit_without, args=(parent,), daemon=True,
                     name="parent-watch").start()


def _exit_without(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY)
    os._exit(1)
