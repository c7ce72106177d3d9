"""The group-commit logger: N rows or T ms per transaction, its stats, spool fallback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from leanloop.config import ServeConfig
from leanloop.errors import StoreError
from leanloop.serve.logger import PredictionLogger, Spool
from leanloop.store import SQLStore


def record(i: int) -> dict:
    return {"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1",
            "features": {"x": i}, "prediction": 1, "probabilities": None}


def burst(logger: PredictionLogger, n: int) -> None:
    async def run() -> None:
        await asyncio.gather(*[logger.log([record(i)]) for i in range(n)])

    logger.start()
    try:
        asyncio.run(run())
    finally:
        logger.stop()


@pytest.mark.parametrize(("max_rows", "max_wait_ms", "most_commits"), [(8, 50.0, 40), (1000, 20.0, 5)])
def test_a_burst_lands_in_few_transactions_of_at_most_n_rows(tmp_path: Path, max_rows: int, max_wait_ms: float,
                                                             most_commits: int) -> None:
    serve = ServeConfig(commit_max_rows=max_rows, commit_max_wait_ms=max_wait_ms)
    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    logger = PredictionLogger(store, Spool(tmp_path / "spool"), max_rows=serve.commit_max_rows,
                              max_wait_ms=serve.commit_max_wait_ms)
    burst(logger, 100)
    stats = logger.stats()
    assert store.count_predictions() == 100 == stats.rows_logged == stats.batch_rows_sum
    assert 100 / max_rows <= stats.commits <= most_commits
    bucket = next(b for b in stats.batch_sizes if b != "+Inf" and int(b) >= max_rows)
    assert stats.batch_sizes[bucket] == stats.batches == stats.commits  # no group above N rows
    assert stats.batch_sizes["+Inf"] == stats.batches
    assert (stats.spool_depth, stats.degraded, stats.failing) == (0, False, False)
    store.close()


def test_without_a_spool_a_store_failure_fails_the_request(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    store.log_predictions([record(0)])
    store.engine.dispose()
    (tmp_path / "s.db").unlink()
    (tmp_path / "s.db").mkdir()  # the database is gone: nothing can be committed
    logger = PredictionLogger(store)
    with pytest.raises(StoreError, match="the prediction was not served"):
        burst(logger, 1)
    assert logger.stats().failing and logger.stats().failed_batches == 1


def test_store_failure_spools_then_replays_when_it_returns(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    store.log_predictions([record(1000)])
    store.engine.dispose()
    (tmp_path / "s.db").rename(tmp_path / "away.db")
    (tmp_path / "s.db").mkdir()
    logger = PredictionLogger(store, Spool(tmp_path / "spool"), retry_seconds=0.05)

    async def run() -> None:
        await asyncio.gather(*[logger.log([record(i)]) for i in range(10)])

    logger.start()
    asyncio.run(run())  # answered: the records are in the fsynced spool
    stats = logger.stats()
    assert (stats.rows_spooled, stats.spool_depth, stats.degraded, stats.rows_logged) == (10, 10, True, 0)
    logger.stop()  # the store is still away: the spool file stays for the next start
    assert list((tmp_path / "spool").glob("*.spool"))

    (tmp_path / "s.db").rmdir()
    (tmp_path / "away.db").rename(tmp_path / "s.db")
    store.engine.dispose()
    logger.start()
    logger.stop()  # a start replays what is spooled
    assert logger.stats().spool_depth == 0 and store.count_predictions() == 11
    store.close()
