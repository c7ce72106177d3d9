"""The spool: framing, torn tails, quarantine, exactly-once replay into a real store."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanloop.serve.spool import MAGIC, Spool, encode, scan
from leanloop.store import SQLStore


def records(start: int, n: int) -> list[dict]:
    return [{"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1",
             "features": {"x": i, "s": "LLS \u00e9"}, "prediction": 1, "probabilities": None}
            for i in range(start, start + n)]


def spool_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.spool"))


@given(st.lists(st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=20) | st.integers(), max_size=3),
                         min_size=1, max_size=4), max_size=6),
       st.integers(min_value=0, max_value=200))
@settings(max_examples=60, deadline=None)
def test_scan_keeps_every_whole_frame_and_drops_only_a_torn_tail(groups: list, cut: int) -> None:
    data = b"".join(encode(g) for g in groups)
    assert scan(data).frames == groups
    if groups:
        last = encode(groups[-1])
        cut = cut % len(last)
        torn = data[:len(data) - len(last) + cut]
        found = scan(torn)
        assert found.frames == groups[:-1]
        assert found.corrupt == [] and found.torn_bytes == cut


def test_magic_cannot_occur_inside_a_payload() -> None:
    frame = encode([{"s": "\xa7LLS \u00a7 LLS"}])
    assert frame.count(MAGIC) == 1


def test_replay_is_exactly_once_into_the_store(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    spool = Spool(tmp_path / "spool")
    spool.open()
    spool.append(records(0, 3))
    spool.append(records(3, 2))
    store.log_predictions(records(0, 2))  # some were committed before the store failed
    result = spool.replay(store.log_predictions)
    assert (result.records, result.inserted, spool.pending) == (5, 3, 0)
    assert store.count_predictions() == 5
    assert spool.replay(store.log_predictions).records == 0
    spool.close()
    assert spool_files(tmp_path / "spool") == []
    store.close()


def test_failed_replay_keeps_everything(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spool.append(records(0, 4))

    def down(_records: list) -> int:
        raise ConnectionError("store down")

    with pytest.raises(ConnectionError):
        spool.replay(down)
    assert spool.pending == 4
    received: list = []
    spool.replay(lambda r: received.extend(r) or len(r))
    assert [r["prediction_id"] for r in received] == [f"p{i}" for i in range(4)]


def test_a_dead_process_file_is_replayed_and_a_live_one_is_not(tmp_path: Path) -> None:
    crashed = Spool(tmp_path)
    crashed.append(records(0, 2))
    crashed.close()  # its lock is gone, like a killed process's; the file stays
    live = Spool(tmp_path)
    live.append(records(10, 1))  # holds its lock
    assert len(spool_files(tmp_path)) == 2
    newcomer = Spool(tmp_path)
    assert newcomer.open() == 2
    received: list = []
    newcomer.replay(lambda r: received.extend(r) or len(r))
    assert sorted(r["prediction_id"] for r in received) == ["p0", "p1"]
    assert spool_files(tmp_path) == [live._path]
    live.close()


def test_corrupt_frame_is_quarantined_and_counted_torn_tail_dropped(tmp_path: Path) -> None:
    crashed = Spool(tmp_path)
    crashed.append(records(0, 2))
    crashed.append(records(2, 2))
    crashed.append(records(4, 2))
    path = crashed._path
    crashed.close()
    data = bytearray(path.read_bytes())
    middle = len(encode(records(0, 2))) + 20
    data[middle] ^= 0xFF                       # a flipped bit in the second frame
    data += encode(records(6, 1))[:-5]         # and an append cut short by a crash
    path.write_bytes(bytes(data))

    spool = Spool(tmp_path)
    assert spool.open() == 4
    received: list = []
    result = spool.replay(lambda r: received.extend(r) or len(r))
    assert sorted(r["prediction_id"] for r in received) == ["p0", "p1", "p4", "p5"]
    assert (result.quarantined, spool.quarantined) == (1, 1)
    assert result.torn_bytes == len(encode(records(6, 1))) - 5
    [bad] = (tmp_path / "quarantine").iterdir()
    assert scan(bad.read_bytes()).corrupt  # the damaged frame is kept, byte for byte
    assert bytes(data[len(encode(records(0, 2))):2 * len(encode(records(0, 2)))]) == bad.read_bytes()
    assert spool_files(tmp_path) == []


def test_failed_append_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    import resource
    import signal

    spool = Spool(tmp_path)
    spool.append(records(0, 1))
    size = spool._path.stat().st_size
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 50, old_limit[1]))
    try:
        with pytest.raises(OSError, match="File too large"):
            spool.append(records(1, 50))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert spool._path.stat().st_size == size and spool.pending == 1
    spool.append(records(1, 1))
    assert [len(f) for f in scan(spool._path.read_bytes()).frames] == [1, 1]
    fd = os.open(spool._path, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):  # held by its process while it lives
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    spool.close()


def test_replay_oldest_goes_file_by_file_while_appends_continue(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import leanloop.serve.spool as spool_module

    monkeypatch.setattr(spool_module, "ROTATE_BYTES", 200)  # a new file every few frames
    spool = Spool(tmp_path)
    spool.open()
    for i in range(10):
        spool.append(records(i, 1))
    assert spool.pending == 10 and spool.size == sum(len(encode(records(i, 1))) for i in range(10))
    assert spool.age(now=time.time() + 5) >= 5
    files = len(spool_files(tmp_path))
    assert files > 2  # rotated
    received: list = []
    first = spool.replay_oldest(lambda r: received.extend(r) or len(r))
    assert first is not None and 0 < first.records < 10
    spool.append(records(10, 1))  # arrives meanwhile, behind everything spooled before
    while spool.replay_oldest(lambda r: received.extend(r) or len(r)) is not None:
        pass
    assert [r["prediction_id"] for r in received] == [f"p{i}" for i in range(11)]  # oldest first, once each
    assert (spool.pending, spool.size, spool.age()) == (0, 0, 0.0)
    spool.close()
    assert spool_files(tmp_path) == []
