"""Executors of independent units of work (backtest days) on a Dask cluster.

``dask_map(func, par, items, on_result)`` runs ``func(par, item)`` for every item on a Dask
cluster (a ``LocalCluster`` of single-threaded worker processes by default, or the scheduler at
``scheduler``) and calls ``on_result(item, result)`` in *this* process as results arrive, so
the caller stores each result itself (one writer, one transaction per result). A worker that
dies mid-task has its task rerun on another worker (Dask's ``allowed-failures``; a task that
kills :data:`MAX_TASK_RETRIES` workers in a row fails the run). Dask is imported only here and
only when used (the ``dask`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from data.errors import InvalidParameterError, StorageError

__all__ = ["MAX_TASK_RETRIES", "dask_map"]

MAX_TASK_RETRIES = 3
"""Reruns of a task that raised (on top of Dask's reruns of tasks whose worker died)."""


def _client(scheduler: str | None, n_workers: int | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise InvalidParameterError(
            "--executor dask needs Dask: pip install 'btut[dask]'"
        ) from None
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise StorageError(
                f"cannot reach the Dask scheduler at {scheduler}: {type(exc).__name__}"
            ) from None
    workers = n_workers or os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=50,  # CRITICAL only: progress is the caller's
    )
    return Client(cluster), cluster


def dask_map(
    func: Callable[[Any, Any], Any],
    par: Any,
    items: Sequence[Any],
    on_result: Callable[[Any, Any], None],
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
) -> None:
    """Run ``func(par, item)`` for each item on Dask; ``on_result(item, result)`` here, in the
    order results arrive (module doc). Exceptions of a task propagate (after the retries);
    ``BTUTError`` keep their one-line message."""
    from distributed import as_completed

    client, cluster = _client(scheduler, n_workers)
    try:
        futures = {
            client.submit(
                func, par, item, key=f"btut-{i}-{item}", pure=False, retries=MAX_TASK_RETRIES
            ): item
            for i, item in enumerate(items)
        }
        for future in as_completed(futures):
            on_result(futures[future], future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
