"""The no-Redis Celery broker (config/broker.py) across real processes."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

import config.broker  # registers brutefs://


def _options(root: Path) -> dict[str, object]:
    for sub in ("out", "processed", "control"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(root / "out"),
        "data_folder_out": str(root / "out"),
        "processed_folder": str(root / "processed"),
        "store_processed": False,
        "control_folder": str(root / "control"),
    }


def _produce(root: str, start: int, count: int, name: str = "jobs") -> None:
    with Connection("brutefs://", transport_options=_options(Path(root))) as conn:
        queue = conn.SimpleQueue(name)
        for n in range(start, start + count):
            queue.put({"n": n, "pad": "x" * 2000})
        queue.close()


def _drain(root: Path, expected: int, name: str = "jobs") -> list[int]:
    # kombu keeps bindings per process, so each test in this process uses its own queue name.
    seen: list[int] = []
    with Connection("brutefs://", transport_options=_options(root)) as conn:
        queue = conn.SimpleQueue(name)
        while len(seen) < expected:
            message = queue.get(timeout=20)
            seen.append(message.payload["n"])
            message.ack()
        queue.close()
    return seen


def test_it_delivers_every_message_once_while_two_processes_write(tmp_path):
    _options(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_produce, args=(str(tmp_path), start, 150)) for start in (0, 1000)]
    for writer in writers:
        writer.start()
    seen = _drain(tmp_path, 300)
    for writer in writers:
        writer.join(timeout=30)
        assert writer.exitcode == 0
    assert sorted(seen) == [*range(150), *range(1000, 1150)]


def test_it_skips_a_half_written_message_and_keeps_it(tmp_path, caplog):
    options = _options(tmp_path)
    # What kombu's own transport let a consumer see: a message file whose body is not complete yet.
    torn = Path(str(options["data_folder_in"])) / "1_torn.torn.msg"
    torn.write_bytes(b'{"body": "eyJuIjog')
    _produce(str(tmp_path), 7, 1, name="torn")
    assert _drain(tmp_path, 1, name="torn") == [7]
    # Whichever of the two files the consumer met first, one more read finds the queue empty and the
    # torn file moved aside.
    with Connection("brutefs://", transport_options=options) as conn:
        queue = conn.SimpleQueue("torn")
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.5)
        queue.close()
    rejected = tmp_path / "rejected" / "1_torn.torn.msg"
    assert rejected.read_bytes() == b'{"body": "eyJuIjog'
    assert "undecodable message" in caplog.text


def test_messages_are_delivered_in_the_order_they_were_written(tmp_path):
    _produce(str(tmp_path), 0, 30, name="fifo")
    assert _drain(tmp_path, 30, name="fifo") == list(range(30))


def test_a_writer_never_exposes_a_partial_file_under_a_message_name(tmp_path):
    options = _options(tmp_path)
    _produce(str(tmp_path), 0, 5, name="whole")
    names = os.listdir(str(options["data_folder_in"]))
    assert len([n for n in names if n.endswith(".whole.msg")]) == 5
    assert not [n for n in names if n.startswith(config.broker.TEMP_PREFIX)]


@pytest.mark.parametrize("exchange_type", ["direct", "fanout"])
def test_binding_tables_stay_readable(tmp_path, exchange_type):
    with Connection("brutefs://", transport_options=_options(tmp_path)) as conn:
        exchange = Exchange(f"ex-{exchange_type}", type=exchange_type)
        for name in ("a", "b", "c"):
            Queue(f"{exchange_type}-{name}", exchange, routing_key=name)(conn.default_channel).declare()
        table = conn.default_channel.get_table(f"ex-{exchange_type}")
    assert sorted(q.queue for q in table) == [f"{exchange_type}-{n}" for n in "abc"]
