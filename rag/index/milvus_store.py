"""A store in Milvus (Milvus Lite file or server): the storage protocols, updated in place (``WritableStore``).

In: a Milvus URI — a Milvus Lite file (``<dir>/milvus.db``) or a server (``http://host:19530``); the same client
code serves both — a collection prefix, and the embedding dimension. Out: ``passages`` (``PassageStore``),
``dense`` (``DenseIndex``), ``sparse`` (``SparseIndex`` over passages) and ``report_sparse`` (over whole
reports), plus what retrieval and the answer gate read of an ``IndexStore`` (``docs``, ``chunks``,
``doc_by_id``, ``doc_row``, ``doc_freq``, ``idf``, ``dim``, ``manifest``, ``path``). Touches three collections:
``<prefix>_passages``, ``<prefix>_reports``, ``<prefix>_meta``.

Design:

- Passage ids are int64 primary keys handed out from a counter kept in ``<prefix>_meta`` (``next_id``, written
  before the rows): never reused, so adding or deleting a report leaves every other passage's id unchanged.
  Ids have gaps after a delete; ``passages.allowed`` is a boolean per id ``0 .. next_id-1`` (False in a gap).
  ``chunks`` lists the live passages in id order (built on first use): iterate it, look a passage up with
  ``passages.chunk(id)`` (read by id, then cached: an id never names another passage).
- Report rows (the ids ``report_sparse`` returns, positions in ``docs``) are the reports sorted by
  (source, doc_id), recomputed after each add/delete, as the folder backend's are its ingest order.
- Dense: a FLOAT_VECTOR field, index FLAT, metric IP (exact inner product over unit vectors = cosine, as the
  folder's IndexFlatIP; Milvus Lite supports FLAT; a server can take any IP index).
- Keyword search: Milvus' built-in BM25 function over a VARCHAR field holding *our* tokens
  (``rag.text.tokenize``, as the folder backend indexes), so both backends match the same tokens. Milvus Lite
  3.2 has only the ``standard`` and ``jieba`` tokenizers (no ``whitespace``), and ``standard`` would re-split a
  Chinese word: each token is therefore written as ``t`` + 12 hex digits of its blake2b hash (one word for any
  tokenizer; 48 bits, a collision is negligible at a vocabulary of millions). The sparse field is
  SPARSE_FLOAT_VECTOR, index SPARSE_INVERTED_INDEX, metric BM25 with k1 = 1.5, b = 0.75 (bm25s' defaults).
  Milvus' term score is idf × tf·(k1+1)/(tf + k1·(1-b+b·dl/avgdl)); bm25s' "lucene" method has no (k1+1)
  factor, so scores are divided by (k1+1): on the bundled reports they then equal bm25s' (measured: the ratio
  was exactly 2.5 = k1+1 for every passage of 308 queries, the same top-10 for all). They can still drift apart
  where Milvus' corpus statistics do (it keeps them per segment; whether a deleted passage still counts before
  compaction was not measured). Milvus Lite returns BM25 distances negated; the
  absolute value is the score on both Lite and a server (BM25 is never negative).
- A report collection (same token encoding, BM25 over a report's title + text tokens and its pinyin tokens)
  answers report-level BM25 (which report a question names).
- ``SearchFilter`` becomes a Milvus filter expression ``doc_id in [...]`` inside the search, so the k best come
  from the allowed reports.
- Weighted keyword queries (list of (token, weight)): tokens are grouped by weight, one BM25 search per group,
  and the weighted scores summed per id. A group fetches ``k`` candidates when it is the only group, otherwise
  ``max(GROUP_CANDIDATES, 4k)`` (at most Milvus' top-k limit): an entry outside one group's fetched list loses that
  group's contribution, so each list is fetched deep enough to hold every entry that matters at this scale (a
  few thousand passages: exact). A token listed twice counts twice (Milvus counts query term frequency).
- ``doc_freq``: Milvus keeps document frequencies but does not expose them; the token field has a match index
  (``enable_match``), so ``doc_freq`` is ``count(*)`` of ``TEXT_MATCH(tokens, '<hashed token>')`` — exact and
  always current after add/delete, no side table (cached until the next write).
- Text fields are VARCHAR up to 1 MiB (Milvus Lite accepts it; a server must allow it with
  ``proxy.maxVarCharLength``). The manifest (embedding model, dim, splitter, tokenizer) is JSON in the meta
  collection, which also holds a 2-dimension placeholder vector because Milvus needs a vector field.

One writer at a time (the id counter is read, then written); readers may search while it writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import IndexMismatchError
from ..schema import Chunk
from .folder import StoredDocument
from .protocol import NO_FILTER, Matches, SearchFilter

if TYPE_CHECKING:
    import numpy as np

TEXT_MAX = 1 << 20  # bytes of a VARCHAR field (a whole report's hashed tokens fit: ~14 bytes a token)
DOC_ID_MAX = 512
TOKEN_HASH_BYTES = 6
BM25_K1, BM25_B = 1.5, 0.75  # bm25s' defaults, so the folder and Milvus backends weigh terms alike
GROUP_CANDIDATES = 1000  # candidates per weight group of a keyword query (see the module docstring)
MILVUS_TOPK_MAX = 16384  # Milvus' largest search limit
WRITE_BATCH = 256  # rows per insert: keeps each request well under gRPC's message size
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


def token_word(token: str) -> str:
    """The word a BM25 token is stored as in Milvus: ``t`` + hex of its hash (one word for any tokenizer)."""
    return "t" + hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=TOKEN_HASH_BYTES).hexdigest()


def token_text(tokens: Sequence[str]) -> str:
    return " ".join(token_word(t) for t in tokens)


def _json(obj) -> str:
    try:
        text = json.dumps(obj, ensure_ascii=False)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: JSON's \u escapes keep it
        return json.dumps(obj)


def _in_docs(doc_ids) -> str:
    return f"doc_id in {json.dumps(sorted(doc_ids))}"


def _sorted_matches(ids: list[int], scores: list[float], k: int, positive_only: bool) -> Matches:
    """Best first, equal scores in id order, the k best."""
    import numpy as np

    ids_a = np.asarray(ids, dtype=np.int64)
    scores_a = np.asarray(scores, dtype=np.float32)
    if positive_only:
        keep = scores_a > 0
        ids_a, scores_a = ids_a[keep], scores_a[keep]
    order = np.lexsort((ids_a, -scores_a))[:k]
    return Matches(ids_a[order], scores_a[order])


def folder_parts(store, with_context: bool, doc_ids=None) -> tuple:
    """What ``MilvusStore.add`` takes, read from a loaded folder index (``IndexStore``): its reports, passages and
    vectors, and the BM25 tokens as ``rag.ingest`` computes them (``with_context``: ``splitter.context``).
    ``doc_ids``: only these reports. Copies a folder index into Milvus without embedding anything again."""
    from ..ingest import report_index_text, report_tokens  # the tokens rag ingest indexes a report by
    from ..text import tokenize
    from .folder import index_text

    rows = [i for i, c in enumerate(store.chunks) if doc_ids is None or c.doc_id in doc_ids]
    docs = [d for d in store.docs if doc_ids is None or d.doc_id in doc_ids]
    context_of = {d.doc_id: d.context for d in store.docs}
    chunks = [store.chunks[i] for i in rows]
    chunk_tokens = [tokenize(index_text(c, context_of[c.doc_id], with_context)) for c in chunks]
    doc_tokens = [report_tokens(report_index_text(d)) for d in docs]
    return docs, chunks, store.dense.vectors(rows), chunk_tokens, doc_tokens


class MilvusStore:
    """Reports, passages, vectors and BM25 fields in Milvus collections; see the module docstring."""

    def __init__(self, uri: str, collection_prefix: str = "rag", dim: int = 384, manifest: dict | None = None):
        if not uri:
            raise ValueError("uri must be a Milvus Lite file path or a server URI, got ''")
        if not _PREFIX.match(collection_prefix):
            raise ValueError(f"collection_prefix must be letters, digits and _, got {collection_prefix!r}")
        if dim <= 0:
            raise ValueError(f"dim must be > 0, got {dim}")
        from pymilvus import MilvusClient

        self.path = uri
        self.client = MilvusClient(uri)
        self._dim = dim
        self.passage_collection = f"{collection_prefix}_passages"
        self.report_collection = f"{collection_prefix}_reports"
        self.meta_collection = f"{collection_prefix}_meta"
        self._create_collections()
        if manifest is not None:
            self._put_meta("manifest", manifest)
        self.passages = MilvusPassages(self)
        self.dense = MilvusDense(self)
        self.sparse = MilvusSparse(self, self.passage_collection, reports=False)
        self.report_sparse = MilvusSparse(self, self.report_collection, reports=True)
        self.rolled_back_from: str | None = None  # the folder backend's field; Milvus has no versions
        self._state: dict[str, Any] | None = None
        self._chunks: list[Chunk] | None = None
        self._df: dict[str, int] = {}

    # ---- collections

    def _create_collections(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        if client.has_collection(self.passage_collection):
            have = next(f for f in client.describe_collection(self.passage_collection)["fields"] if f["name"] == "vector")
            have_dim = int(have["params"]["dim"])
            if have_dim != self._dim:
                raise IndexMismatchError(
                    f"Milvus collection {self.passage_collection} at {self.path} has dim {have_dim}, expected {self._dim}"
                )

        def bm25_schema(with_vector: bool):
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=DOC_ID_MAX)
            schema.add_field("record", DataType.VARCHAR, max_length=TEXT_MAX)  # the Chunk / StoredDocument as JSON
            schema.add_field("tokens", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True, enable_match=True,
                             analyzer_params={"tokenizer": "standard"})
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["tokens"], output_field_names=["sparse"]))
            index = client.prepare_index_params()
            index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
            if with_vector:
                schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self._dim)
                index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            return schema, index

        for name, with_vector in ((self.passage_collection, True), (self.report_collection, False)):
            if not client.has_collection(name):
                schema, index = bm25_schema(with_vector)
                client.create_collection(name, schema=schema, index_params=index)
        if not client.has_collection(self.meta_collection):
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("value", DataType.VARCHAR, max_length=TEXT_MAX)
            schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
            index = client.prepare_index_params()
            index.add_index(field_name="placeholder", index_type="FLAT", metric_type="IP")
            client.create_collection(self.meta_collection, schema=schema, index_params=index)

    def _get_meta(self, key: str, default=None):
        rows = self.client.get(self.meta_collection, ids=[key], output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else default

    def _put_meta(self, key: str, value) -> None:
        self.client.upsert(self.meta_collection, [{"key": key, "value": _json(value), "placeholder": [0.0, 0.0]}])

    def set_manifest(self, manifest: dict) -> None:
        """Record the settings the store's vectors and tokens were made with (checked by the next ingest/load)."""
        self._put_meta("manifest", manifest)

    def close(self) -> None:
        self.client.close()

    # ---- what retrieval reads of an IndexStore

    @property
    def manifest(self) -> dict:
        return self._get_meta("manifest", {"backend": "milvus", "embedding": {"dim": self._dim}})

    @property
    def dim(self) -> int:
        return self._dim

    def _loaded(self) -> dict[str, Any]:
        """Reports and the passage id -> report map: read once when opened, then kept up to date by add/delete."""
        if self._state is None:
            docs = []
            for batch in self._iterate(self.report_collection, ["record"]):
                docs.extend(StoredDocument.from_record(json.loads(row["record"])) for row in batch)
            passage_doc: dict[int, str] = {}
            for batch in self._iterate(self.passage_collection, ["doc_id"]):
                passage_doc.update((int(row["id"]), row["doc_id"]) for row in batch)
            self._set_docs(docs, passage_doc, int(self._get_meta("next_id", 0)))
        return self._state

    def _iterate(self, collection: str, fields: list[str]):
        it = self.client.query_iterator(collection, batch_size=1000, filter="", output_fields=fields)
        try:
            while batch := it.next():
                yield batch
        finally:
            it.close()

    @property
    def docs(self) -> list[StoredDocument]:
        return self._loaded()["docs"]

    @property
    def doc_by_id(self) -> dict[str, StoredDocument]:
        return self._loaded()["doc_by_id"]

    @property
    def doc_row(self) -> dict[str, int]:
        return self._loaded()["doc_row"]

    @property
    def chunks(self) -> list[Chunk]:
        """Every live passage in id order (read on first use after a write)."""
        if self._chunks is None:
            rows = []
            for batch in self._iterate(self.passage_collection, ["record"]):
                rows.extend((int(r["id"]), Chunk(**json.loads(r["record"]))) for r in batch)
            self._chunks = [c for _, c in sorted(rows, key=lambda r: r[0])]
        return self._chunks

    def doc_freq(self, token: str) -> int:
        """How many passages hold a BM25 token (counted by Milvus' match index)."""
        return self.sparse.doc_freq(token)

    def idf(self, token: str) -> float:
        """Inverse document frequency over the passages, the folder backend's formula."""
        import math

        n = self.passages.passage_count()
        df = self.doc_freq(token)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def vectors_for(self, rows: list[int]) -> "np.ndarray":
        return self.dense.vectors(rows)

    # ---- WritableStore

    def add(self, docs: Sequence[StoredDocument], chunks: Sequence[Chunk], vectors: "np.ndarray",
            chunk_tokens: Sequence[Sequence[str]], doc_tokens: Sequence[Sequence[str]]) -> None:
        """Add reports with their passages; a report already stored is replaced (its old passages deleted)."""
        import numpy as np

        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(chunks), self._dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected ({len(chunks)}, {self._dim})")
        if len(chunk_tokens) != len(chunks) or len(doc_tokens) != len(docs):
            raise ValueError(f"{len(chunk_tokens)} chunk token lists for {len(chunks)} chunks, "
                             f"{len(doc_tokens)} report token lists for {len(docs)} reports")
        new_ids = {d.doc_id for d in docs}
        strays = {c.doc_id for c in chunks} - new_ids
        if strays:
            raise ValueError(f"chunks of reports not being added: {sorted(strays)[:3]}")
        present = new_ids & set(self._loaded()["doc_by_id"])
        if present:
            self.delete(sorted(present))
        first = int(self._get_meta("next_id", 0))
        # the counter is written before the rows: a crash mid-add can leave a gap, never reuse an id
        self._put_meta("next_id", first + len(chunks))
        try:
            report_rows = [
                {"id": first + len(chunks) + i, "doc_id": d.doc_id, "record": _json(d.record()), "tokens": token_text(t)}
                for i, (d, t) in enumerate(zip(docs, doc_tokens))
            ]
            # reports take ids from the same counter: a report's primary key is never reused either
            self._put_meta("next_id", first + len(chunks) + len(docs))
            for start in range(0, len(chunks), WRITE_BATCH):
                rows = [
                    {"id": first + i, "doc_id": chunks[i].doc_id, "record": _json(asdict(chunks[i])),
                     "tokens": token_text(chunk_tokens[i]), "vector": vectors[i].tolist()}
                    for i in range(start, min(start + WRITE_BATCH, len(chunks)))
                ]
                self.client.insert(self.passage_collection, rows)
            for start in range(0, len(report_rows), WRITE_BATCH):
                self.client.insert(self.report_collection, report_rows[start : start + WRITE_BATCH])
        except BaseException:
            self._state = None  # re-read what did get written
            raise
        finally:
            self._chunks, self._df = None, {}
        if self._state is not None:  # costs the added reports only
            passage_doc = self._state["passage_doc"]
            passage_doc.update((first + i, c.doc_id) for i, c in enumerate(chunks))
            self._set_docs(list(self._state["docs"]) + list(docs), passage_doc, first + len(chunks) + len(docs))

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Delete reports and their passages (by a filter on doc_id); unknown ids are ignored."""
        if not doc_ids:
            return
        gone = set(doc_ids)
        state = self._loaded()
        try:
            self.client.delete(self.passage_collection, filter=_in_docs(gone))
            self.client.delete(self.report_collection, filter=_in_docs(gone))
        except BaseException:
            self._state = None
            raise
        finally:
            self._chunks, self._df = None, {}
        dropped = [i for i, doc in state["passage_doc"].items() if doc in gone]
        self.passages.forget(dropped)
        passage_doc = {i: doc for i, doc in state["passage_doc"].items() if doc not in gone}
        self._set_docs([d for d in state["docs"] if d.doc_id not in gone], passage_doc, state["next_id"])

    def _set_docs(self, docs: list[StoredDocument], passage_doc: dict[int, str], next_id: int) -> None:
        docs = sorted(docs, key=lambda d: (d.source, d.doc_id))
        self._state = {
            "docs": docs,
            "doc_by_id": {d.doc_id: d for d in docs},
            "doc_row": {d.doc_id: i for i, d in enumerate(docs)},
            "passage_doc": passage_doc,
            "next_id": next_id,
        }


class MilvusPassages:
    """``PassageStore`` over the passage collection (``store.passages``)."""

    def __init__(self, store: MilvusStore):
        self._store = store
        self._chunk_cache: dict[int, Chunk] = {}

    @property
    def docs(self) -> list[StoredDocument]:
        return self._store.docs

    @property
    def doc_by_id(self) -> dict[str, StoredDocument]:
        return self._store.doc_by_id

    @property
    def doc_row(self) -> dict[str, int]:
        return self._store.doc_row

    def chunk(self, passage_id: int) -> Chunk:
        passage_id = int(passage_id)
        found = self._chunk_cache.get(passage_id)
        if found is None:
            rows = self._store.client.get(self._store.passage_collection, ids=[passage_id], output_fields=["record"])
            if not rows:
                raise KeyError(f"no passage with id {passage_id} in {self._store.passage_collection}")
            found = self._chunk_cache[passage_id] = Chunk(**json.loads(rows[0]["record"]))
        return found

    def forget(self, passage_ids) -> None:
        for i in passage_ids:
            self._chunk_cache.pop(i, None)

    def passage_count(self) -> int:
        return len(self._store._loaded()["passage_doc"])

    def doc_of(self, passage_id: int) -> str:
        return self._store._loaded()["passage_doc"][int(passage_id)]

    def passage_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self._store._loaded()["passage_doc"].values():
            counts[doc] = counts.get(doc, 0) + 1
        return counts

    def passages_of(self, doc_id: str) -> list[int]:
        return sorted(i for i, doc in self._store._loaded()["passage_doc"].items() if doc == doc_id)

    def allowed_docs(self, filters: SearchFilter) -> "np.ndarray | None":
        import numpy as np

        if filters.everything:
            return None
        return np.array([d.doc_id in filters.doc_ids for d in self.docs], dtype=bool)

    def allowed(self, filters: SearchFilter) -> "np.ndarray | None":
        """A boolean per passage id ``0 .. next_id-1`` (ids of deleted passages: False)."""
        import numpy as np

        if filters.everything:
            return None
        state = self._store._loaded()
        ok = np.zeros(state["next_id"], dtype=bool)
        ids = [i for i, doc in state["passage_doc"].items() if doc in filters.doc_ids]
        ok[ids] = True
        return ok


class MilvusDense:
    """``DenseIndex``: exact inner product (FLAT, IP) in Milvus, the filter inside the search."""

    def __init__(self, store: MilvusStore):
        self._store = store
        self.dim = store.dim

    def search(self, vector: "np.ndarray", k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        import numpy as np

        if k <= 0 or (not filters.everything and not filters.doc_ids):
            return Matches.empty()
        store = self._store
        found = store.client.search(
            store.passage_collection, data=[np.asarray(vector, dtype=np.float32).reshape(-1).tolist()],
            anns_field="vector", limit=min(k, MILVUS_TOPK_MAX), filter="" if filters.everything else _in_docs(filters.doc_ids),
            search_params={"metric_type": "IP"}, output_fields=["id"],
        )[0]
        return _sorted_matches([int(h["id"]) for h in found], [float(h["distance"]) for h in found], k, positive_only=False)

    def vectors(self, ids: Sequence[int]) -> "np.ndarray":
        import numpy as np

        ids = [int(i) for i in ids]
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._store.client.get(self._store.passage_collection, ids=ids, output_fields=["vector"])
        by_id = {int(r["id"]): r["vector"] for r in rows}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise KeyError(f"no passages with ids {missing[:5]} in {self._store.passage_collection}")
        return np.asarray([by_id[i] for i in ids], dtype=np.float32)


class MilvusSparse:
    """``SparseIndex``: Milvus' BM25 over hashed tokens; over passages (ids: passage ids) or over reports
    (``reports``: ids are report rows, positions in ``store.docs``)."""

    def __init__(self, store: MilvusStore, collection: str, reports: bool):
        self._store = store
        self._collection = collection
        self._reports = reports

    def size(self) -> int:
        return len(self._store.docs) if self._reports else self._store.passages.passage_count()

    def search(self, query: Sequence[tuple[str, float]], k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        if k <= 0 or not query or (not filters.everything and not filters.doc_ids):
            return Matches.empty()
        by_weight: dict[float, list[str]] = defaultdict(list)
        for token, weight in query:
            if weight:
                by_weight[float(weight)].append(token)
        per_group = k if len(by_weight) == 1 else max(GROUP_CANDIDATES, 4 * k)
        limit = min(per_group, MILVUS_TOPK_MAX)
        expr = "" if filters.everything else _in_docs(filters.doc_ids)
        total: dict[int, float] = defaultdict(float)
        doc_row = self._store.doc_row if self._reports else None
        for weight, tokens in by_weight.items():
            found = self._store.client.search(
                self._collection, data=[token_text(tokens)], anns_field="sparse", limit=limit, filter=expr,
                search_params={"metric_type": "BM25"}, output_fields=["doc_id"],
            )[0]
            for hit in found:
                key = doc_row[hit["entity"]["doc_id"]] if doc_row is not None else int(hit["id"])
                # Milvus Lite reports BM25 as a negated distance, a server as the score: BM25 is never negative;
                # / (k1 + 1): Milvus' term score has that factor, bm25s' (the folder backend's) has not
                total[key] += weight * abs(float(hit["distance"])) / (BM25_K1 + 1)
        return _sorted_matches(list(total), list(total.values()), k, positive_only=True)

    def doc_freq(self, token: str) -> int:
        cache = self._store._df if not self._reports else {}
        if token in cache:
            return cache[token]
        rows = self._store.client.query(self._collection, filter=f"TEXT_MATCH(tokens, '{token_word(token)}')",
                                        output_fields=["count(*)"])
        count = int(rows[0]["count(*)"]) if rows else 0
        if not self._reports:
            cache[token] = count
        return count
