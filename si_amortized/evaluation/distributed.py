"""Batches of recordings on Dask distributed: a ``LocalCluster`` by default, a scheduler address when given.

Each item (a scenario, a recording file, a session) runs as one Dask task; inside a task the work is
chunked by SpikeInterface as usual, with the task's own ``job_kwargs``. Tasks return plain picklable
results, gathered in the order of the items, so the distributed path gives the same results as
:func:`map_local`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable


def map_local(func: Callable, items: Iterable, progress: bool = False, **kwargs) -> list:
    """``[func(item, **kwargs) for item in items]`` with an optional progress bar."""
    items = list(items)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=getattr(func, "__name__", "items"))
    return [func(item, **kwargs) for item in items]


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int = 2, threads_per_worker: int = 1, **cluster_kwargs):
    """A ``distributed.Client``: on ``scheduler`` (address) if given, else on a new ``LocalCluster``.

    Parameters
    ----------
    scheduler : str | None, default: None
        Address of a running scheduler (``"tcp://host:8786"``); None starts a ``LocalCluster``
        that is closed on exit.
    n_workers : int, default: 2
        Workers of the local cluster (one process each).
    threads_per_worker : int, default: 1
    **cluster_kwargs
        More ``LocalCluster`` arguments (e.g. ``memory_limit="4GB"``).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover
        raise ImportError("Dask distributed is needed: pip install 'si_amortized[distributed]'") from error
    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster_kwargs.setdefault("dashboard_address", None)
    cluster_kwargs.setdefault("processes", True)
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, **cluster_kwargs) as cluster:
        with Client(cluster) as client:
            yield client


def map_dask(
    func: Callable,
    items: Iterable,
    *,
    client=None,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = False,
    **kwargs,
) -> list:
    """``[func(item, **kwargs) for item in items]`` computed on Dask distributed, one task per item.

    Parameters
    ----------
    func : callable
        Importable (module-level) function; it runs in the workers' processes.
    items : iterable
        Picklable arguments, one task each.
    client : distributed.Client | None, default: None
        Use this client; otherwise one is made with :func:`dask_client` (``scheduler`` / ``n_workers``).
    scheduler : str | None, default: None
    n_workers : int, default: 2
    progress : bool, default: False
        Show a progress bar while the tasks run.
    **kwargs
        Passed to every call.

    Returns
    -------
    list
        The results, in the order of ``items``. A failing task re-raises its exception here.
    """
    items = list(items)
    if client is None:
        with dask_client(scheduler=scheduler, n_workers=n_workers) as new_client:
            return map_dask(func, items, client=new_client, progress=progress, **kwargs)
    futures = [client.submit(func, item, pure=False, **kwargs) for item in items]
    if progress:
        from distributed import as_completed
        from tqdm.auto import tqdm

        for _ in tqdm(as_completed(futures), total=len(futures), desc=f"{getattr(func, '__name__', 'tasks')} (dask)"):
            pass
    return client.gather(futures)
