"""Executors on a Dask cluster: independent units of work (backtest days) and population
shards of very large markets.

* ``dask_map(func, par, items, on_result)`` runs ``func(par, item)`` for every item on the
  cluster and calls ``on_result(item, result)`` in *this* process as results arrive, so the
  caller stores each result itself (one writer, one transaction per result).
* ``dask_market_statistics(client, equilibrium, population, shapes, ...)`` clears a market
  day's population in shards of :data:`SHARD_AGENTS` agents: each task gets the equilibrium
  (sent once, as a task the scheduler can run again if its workers die) and its slice of
  the population, draws its agents' own noise (:func:`agents.profiles.iter_net_demand`,
  seeded by absolute agent index) and sends back :class:`market.clearing.ChunkStatistics`
  only: O(blocks x intervals) numbers per chunk, never its agents.
  :func:`market.clearing.settle_market` of them, in order, equals the one-process clearing
  bit for bit.

A cluster is a ``LocalCluster`` of single-threaded worker processes by default, or the
scheduler at ``scheduler``. A worker that dies mid-task has its task rerun on another worker
(Dask's ``allowed-failures``); a task that raises is retried :data:`MAX_TASK_RETRIES` times.
Dask is imported only here and only when used (``pip install 'btut[dask]'``).
"""

from __future__ import annotations

import contextlib
import numbers
import os
import re
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from data.errors import InvalidParameterError, StorageError

__all__ = [
    "EXECUTORS",
    "MAX_TASK_RETRIES",
    "SHARD_AGENTS",
    "check_executor",
    "dask_client",
    "dask_map",
    "dask_market_statistics",
]

MAX_TASK_RETRIES = 3
"""Reruns of a task that raised (on top of Dask's reruns of tasks whose worker died)."""

SHARD_AGENTS = 4 * 65_536
"""Agents per population shard: the clearing's chunk size (4 noise blocks), so shards cut the
population where the one-process clearing cuts its chunks."""


EXECUTORS = ("local", "dask")
"""Where the work runs: this process, or a Dask cluster."""

_ADDRESS = re.compile(r"^\S+$")  # a non-empty word: Dask parses the rest


def check_executor(executor: str, scheduler: str | None, n_workers: int | None) -> None:
    """The executor options (CLI ``--executor``, ``--scheduler``, ``--workers``), checked
    before any work (one-line ``InvalidParameterError``): a known executor; a scheduler
    address (e.g. ``tcp://host:8786``; reachability is Dask's to say) and ``n_workers``
    (>= 1, the size of a new local cluster) only with ``"dask"``, and not both (a running
    scheduler has its own workers)."""
    if executor not in EXECUTORS:
        raise InvalidParameterError(
            f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}"
        )
    if scheduler is not None and executor != "dask":
        raise InvalidParameterError("a scheduler (--scheduler) needs the dask executor")
    if n_workers is not None and executor != "dask":
        raise InvalidParameterError("n_workers (--workers) needs the dask executor")
    if n_workers is not None and scheduler is not None:
        raise InvalidParameterError(
            "n_workers (--workers) sizes a new local cluster; a scheduler brings its own workers"
        )
    if n_workers is not None and (
        isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1
    ):
        raise InvalidParameterError(
            f"n_workers (--workers) must be an integer >= 1, got {n_workers!r}"
        )
    if scheduler is not None and (not isinstance(scheduler, str) or not _ADDRESS.match(scheduler)):
        raise InvalidParameterError(
            f"the scheduler must be a Dask address such as tcp://host:8786, got {scheduler!r}"
        )


#: Run by each local worker process as it starts (Dask "preload" text): SIGINT ignored.
_WORKER_PRELOAD = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None, n_workers: int | None = None, *, timeout_s: float = 20.0
) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, or of a new
    ``LocalCluster`` of ``n_workers`` (default: CPUs) single-threaded worker processes, closed
    (with the cluster) at the end of the block. One-line errors for a missing Dask or an
    unreachable scheduler."""
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise InvalidParameterError(
            "the dask executor needs Dask: pip install 'btut[dask]'"
        ) from None
    if n_workers is not None and (isinstance(n_workers, bool) or int(n_workers) < 1):
        raise InvalidParameterError(
            f"n_workers (--workers) must be an integer >= 1, got {n_workers!r}"
        )
    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{float(timeout_s)}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise StorageError(
                f"cannot reach the Dask scheduler at {scheduler}: {type(exc).__name__}"
            ) from None
    else:
        # The worker processes ignore SIGINT from their start (a preload, also for workers
        # the nanny restarts): a Ctrl-C at the terminal reaches the whole process group, and
        # each worker printed its KeyboardInterrupt traceback; this process alone handles it
        # (one line) and closes the cluster, which stops them.
        cluster = LocalCluster(
            n_workers=int(n_workers or os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,  # CRITICAL only: progress is the caller's
            preload=[_WORKER_PRELOAD],
        )
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dask_map(
    func: Callable[[Any, Any], Any],
    par: Any,
    items: Sequence[Any],
    on_result: Callable[[Any, Any], None],
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    client: Any = None,
) -> None:
    """Run ``func(par, item)`` for each item on Dask (``client``, or one of ``dask_client
    (scheduler, n_workers)`` for the call); ``on_result(item, result)`` here, in the order
    results arrive (module doc). Warnings a task gave on its worker are warned again here,
    before its ``on_result``. Exceptions of a task propagate after the retries; ``BTUTError``
    keep their one-line message."""
    from distributed import as_completed

    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(dask_client(scheduler, n_workers))
        # keys unique per call: two backtests on one scheduler never share a task by key
        call = uuid.uuid4().hex[:12]
        futures = {
            client.submit(
                _said_on_worker,
                func,
                par,
                item,
                key=f"btut-{call}-{i}-{item}",
                pure=False,
                retries=MAX_TASK_RETRIES,
            ): item
            for i, item in enumerate(items)
        }
        for future in as_completed(futures):
            result, said = future.result()
            for category, text in said:  # said here, where the user reads, in arrival order
                _warn_again(category, text)
            on_result(futures[future], result)


def _warn_again(category: type[Warning], text: str) -> None:
    """A worker's warning, warned in this process (as a ``UserWarning`` when its class
    cannot be built from its text alone)."""
    try:
        warnings.warn(text, category, stacklevel=3)
    except TypeError:
        warnings.warn(text, UserWarning, stacklevel=3)


_task = threading.local()  # on a worker: the warnings list of the task this thread runs


def _said_on_worker(func: Callable[[Any, Any], Any], par: Any, item: Any) -> tuple[Any, list]:
    """``func(par, item)`` on a worker, and the warnings it gave as ``(category, text)``, for
    :func:`dask_map` to say them again in the caller's process (the worker's stderr is no
    user's, and printed them raw). Per thread, so tasks on a multi-threaded worker keep their
    own; the worker's other warnings show as before. A task that raises shows its warnings
    on the worker, as without the relay (they may explain the error)."""
    if not getattr(warnings.showwarning, "_btut_relay", False):
        warnings.showwarning = _relay_showwarning(warnings.showwarning)
    said: list[Any] = []
    _task.said = said
    try:
        result = func(par, item)
    except BaseException:
        for message, category, filename, lineno in said:
            warnings.showwarning._btut_show(message, category, filename, lineno)  # type: ignore[attr-defined]
        raise
    finally:
        _task.said = None
    return result, [(category, str(message)) for message, category, _, _ in said]


def _relay_showwarning(show: Callable[..., None]) -> Callable[..., None]:
    """``warnings.showwarning`` that appends ``(message, category, filename, lineno)`` to the
    running task's list, if any (each text once), else ``show``."""

    def relay(message: Any, category: Any, filename: str, lineno: int, *a: Any, **k: Any) -> None:
        said = getattr(_task, "said", None)
        if said is None:
            show(message, category, filename, lineno, *a, **k)
        elif all((c, str(m)) != (category, str(message)) for m, c, _, _ in said):
            said.append((message, category, filename, lineno))

    relay._btut_relay = True  # type: ignore[attr-defined]
    relay._btut_show = show  # type: ignore[attr-defined]
    return relay


def _shard_statistics(
    equilibrium: Any,
    part: Any,
    shapes: Any,
    noise_seed: int,
    seed: int,
    chunk_size: int,
    track: Any = None,
) -> list[Any]:
    """One shard: its agents' noise, their equilibrium actions, their statistics (and the
    settlement rows of its tracked agents, positions within the shard)."""
    from agents.profiles import iter_net_demand
    from market.clearing import market_statistics

    return market_statistics(
        equilibrium,
        part,
        iter_net_demand(part, shapes, seed=noise_seed, chunk_size=chunk_size),
        seed=seed,
        chunk_size=chunk_size,
        track=track,
    )


def dask_market_statistics(
    client: Any,
    equilibrium: Any,
    population: Any,
    shapes: Any,
    *,
    noise_seed: int,
    seed: int,
    shard_agents: int = SHARD_AGENTS,
    track: Any = None,
) -> list[Any]:
    """The chunk statistics of every agent of ``population``, computed in shards of
    ``shard_agents`` (a multiple of the noise block, 65,536) on ``client``'s cluster, in agent
    order (module doc); feed them to :func:`market.clearing.settle_market`. One chunk per
    shard: equal to the one-process clearing of the same population chunked by
    ``shard_agents`` (the replay's chunks are :data:`SHARD_AGENTS`). ``track``: sorted agent
    positions whose settlement rows the statistics carry (e.g. the planner's sample)."""
    from agents.profiles import NOISE_BLOCK

    if shard_agents < 1 or shard_agents % NOISE_BLOCK:
        raise InvalidParameterError(
            f"shard_agents must be a positive multiple of {NOISE_BLOCK}, got {shard_agents}"
        )
    if track is not None:  # fail here, not on the workers after retries
        from market.clearing import check_track

        track = check_track(track, population.n_agents)
    with warnings.catch_warnings():
        # the equilibrium and each shard's agents travel inside tasks (so that a retry after
        # a lost worker finds them on the scheduler), which distributed flags as large
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        warnings.filterwarnings("ignore", message="Large object", category=UserWarning)
        eq_future = _share(client, equilibrium)
        futures = _submit_shards(
            client, eq_future, population, shapes, noise_seed, seed, shard_agents, track
        )
    out: list[Any] = []
    for future in futures:  # in agent order: settle_market adds them in this order
        out.extend(future.result())
    return out


def _identity(obj: Any) -> Any:
    return obj


def _share(client: Any, obj: Any) -> Any:
    """A future of ``obj`` that survives the loss of every worker holding it.

    Scattered data lives only on workers: Dask's memory manager may drop the extra copies
    of a broadcast, and when the last holder dies its dependants are cancelled ("lost
    scattered data"). A task that returns ``obj`` keeps it on the scheduler, which runs the
    task again on a live worker.
    """
    key = f"btut-shared-{type(obj).__name__}-{uuid.uuid4().hex[:12]}"
    return client.submit(_identity, obj, key=key, pure=False)


def _submit_shards(
    client: Any,
    eq_future: Any,
    population: Any,
    shapes: Any,
    noise_seed: int,
    seed: int,
    shard_agents: int,
    track: Any = None,
) -> list[Any]:
    N = population.n_agents
    call = uuid.uuid4().hex[:12]

    def part(lo: int) -> Any:  # the shard's tracked agents (checked, sorted), shard positions
        if track is None:
            return None
        a, b = np.searchsorted(track, [lo, lo + shard_agents])
        return track[a:b] - lo

    return [
        client.submit(
            _shard_statistics,
            eq_future,
            population.slice(lo, lo + shard_agents),
            shapes,
            noise_seed,
            seed,
            shard_agents,
            part(lo),
            # one key per call: a second call with the same seeds must not meet the first
            # call's tasks while Dask forgets them ("cancelled: already forgotten")
            key=f"btut-shard-{lo}-{seed}-{noise_seed}-{call}",
            pure=False,
            retries=MAX_TASK_RETRIES,
        )
        for lo in range(0, N, shard_agents)
    ]
