"""A load collects cyclic garbage by batch, and leaves the collector as it found it."""

from __future__ import annotations

import gc
import weakref

from app.services.batch_gc import batch_collection


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_garbage_of_a_load_is_collected_every_nth_batch_and_the_collector_is_restored():
    assert gc.isenabled()
    with batch_collection(every=2) as after_batch:
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # what was alive before the load is not scanned
        probe = Cycle()
        alive = weakref.ref(probe)
        del probe
        after_batch()
        assert alive() is not None  # one batch: no pass yet
        after_batch()
        assert alive() is None  # the second batch's pass freed the cycle
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
