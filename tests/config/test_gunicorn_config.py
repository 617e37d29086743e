"""config/gunicorn.py's hooks: the shared connection counts behind FairThreadWorker, and the heap
frozen out of the garbage collector once a worker has loaded the app."""

from __future__ import annotations

import gc
import time
from types import SimpleNamespace

import pytest

from config import gunicorn as conf


@pytest.fixture(autouse=True)
def _free_slots():
    for i in range(conf.SLOTS):
        conf._connections[i] = -1
    yield
    for i in range(conf.SLOTS):
        conf._connections[i] = -1


def _fork(server: SimpleNamespace, pid: int) -> SimpleNamespace:
    worker = SimpleNamespace(pid=pid)
    conf.pre_fork(server, worker)
    server.WORKERS[pid] = worker
    return worker


def test_each_worker_gets_its_own_slot_and_a_dead_one_frees_it():
    server = SimpleNamespace(WORKERS={})
    first, second = _fork(server, 101), _fork(server, 102)
    assert {first.slot, second.slot} == {0, 1}
    conf.child_exit(server, first)
    del server.WORKERS[101]
    assert conf._connections[first.slot] == -1
    assert _fork(server, 103).slot == first.slot  # the freed slot is reused


def test_a_worker_accepts_only_while_it_holds_at_most_one_more_than_the_least_loaded():
    server = SimpleNamespace(WORKERS={})
    busy, quiet = _fork(server, 201), _fork(server, 202)
    conf._connections[quiet.slot] = 3
    conf._written[quiet.slot] = time.monotonic()
    turn = conf.FairThreadWorker._my_turn
    assert turn(SimpleNamespace(slot=busy.slot, nr_conns=4))
    assert not turn(SimpleNamespace(slot=busy.slot, nr_conns=5))
    assert turn(SimpleNamespace(slot=quiet.slot, nr_conns=3))


def test_a_worker_that_stopped_writing_does_not_hold_the_others_back():
    server = SimpleNamespace(WORKERS={})
    live, stuck = _fork(server, 301), _fork(server, 302)
    conf._connections[stuck.slot] = 0
    conf._written[stuck.slot] = time.monotonic() - conf.STALE_S - 1
    assert conf.FairThreadWorker._my_turn(SimpleNamespace(slot=live.slot, nr_conns=40))


def test_the_loaded_app_is_frozen_out_of_the_collector():
    try:
        conf.post_worker_init(SimpleNamespace())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
