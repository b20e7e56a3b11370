"""Garbage collection for long batch jobs: by batch, not by allocation count."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def batch_collection(every: int = 10) -> Iterator[Callable[[], None]]:
    """Cyclic garbage collection every `every` batches rather than by allocation count, for
    the length of a load; the caller calls the function it is given after each batch.

    A batch's documents and rows are hundreds of thousands of live containers, and the
    collector's allocation-driven passes scan them (and every object imported before the
    load) again and again: that was most of the time spent validating. A batch leaves only a
    few dozen cyclic objects behind, which the periodic pass frees; the objects alive when
    the load starts are kept out of its scans meanwhile. Reference counting frees everything
    else as before."""
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    done = 0

    def after_batch() -> None:
        nonlocal done
        done += 1
        if done % every == 0:
            gc.collect()

    try:
        yield after_batch
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
