"""Reading the vectors of an index in the first on-disk format (one folder per version, ``FORMAT_VERSION`` 1), so
that rebuilding it in the current format embeds nothing.

In: the v1 version folder (``docs.jsonl``, ``chunks.jsonl``, ``dense.faiss``, ``manifest.json``). Out: the text
each passage was embedded as (``index_text``) and its vector, or nothing when the folder is not a readable v1
version built with the same embedding settings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .records import index_text

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


def v1_vectors(version: Path, embedding: dict, with_context: bool) -> tuple[list[str], "np.ndarray"] | None:
    """(index texts, vectors) of a v1 version whose embedding settings equal ``embedding``'s (backend, model,
    prompts); None otherwise, or when any of its files cannot be read."""
    import faiss

    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format_version") != 1:
            return None
        keys = ("backend", "model", "query_prompt", "passage_prompt")
        if any(manifest.get("embedding", {}).get(k) != embedding.get(k) for k in keys):
            return None
        with (version / "docs.jsonl").open(encoding="utf-8") as fh:
            context = {row["doc_id"]: row["context"] for row in map(json.loads, fh)}
        texts = []
        with (version / "chunks.jsonl").open(encoding="utf-8") as fh:
            for row in map(json.loads, fh):
                from ..schema import Chunk

                texts.append(index_text(Chunk(**row), context[row["doc_id"]], with_context))
        dense = faiss.read_index(str(version / "dense.faiss"))
        if dense.ntotal != len(texts):
            return None
        return texts, dense.reconstruct_n(0, dense.ntotal) if texts else None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        log.warning("could not read the vectors of the old index %s (%s); its passages are embedded again", version, exc)
        return None
