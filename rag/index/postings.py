"""Keyword postings of one index segment, and BM25 over several segments with corpus-wide statistics.

A segment's ``Postings`` record, for every token, the entries (passages, or whole reports) holding it and how
often, with each entry's length: raw counts, no scores baked in. ``Bm25Segments`` scores a query over all
segments at query time from statistics of the *live* entries (entries of deleted reports excluded), so adding or
deleting a report rewrites no other segment and scores equal those of an index built afresh from the same
reports: BM25 with Lucene's idf and bm25s' defaults (k1 1.5, b 0.75), as ``bm25s``' "lucene" method computes.

Files of one ``Postings`` (``<prefix>`` e.g. ``passage``): ``<prefix>.vocab.json`` (tokens in id order),
``<prefix>.indptr.npy`` (int64, tokens + 1), ``<prefix>.rows.npy`` (int32 entry of each posting),
``<prefix>.tf.npy`` (float32 count), ``<prefix>.lengths.npy`` (int32 tokens per entry). No pickle.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from .protocol import NO_FILTER, Matches, SearchFilter

if TYPE_CHECKING:
    import numpy as np

BM25_K1, BM25_B = 1.5, 0.75
FILE_SUFFIXES = ("vocab.json", "indptr.npy", "rows.npy", "tf.npy", "lengths.npy")


@dataclass
class Postings:
    """Token -> (entries, counts) of one segment, in CSR form: the postings of token ``t`` (id ``vocab[t]``)
    are ``rows[indptr[t]:indptr[t+1]]`` (ascending) with counts ``tf[...]``; ``lengths[e]``: tokens of entry e."""

    vocab: dict[str, int]
    indptr: "np.ndarray"
    rows: "np.ndarray"
    tf: "np.ndarray"
    lengths: "np.ndarray"

    @property
    def entries(self) -> int:
        return int(self.lengths.size)

    @staticmethod
    def from_tokens(token_lists: Sequence[Sequence[str]]) -> "Postings":
        """Postings of entries given as token lists (an empty list counts as one empty token, as in bm25s)."""
        import numpy as np

        vocab: dict[str, int] = {}
        ids = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in (toks or [""])), dtype=np.int64) for toks in token_lists]
        lengths = np.array([a.size for a in ids], dtype=np.int32)
        return Postings._from_pairs(vocab, np.concatenate(ids) if ids else np.zeros(0, np.int64),
                                    np.repeat(np.arange(len(ids), dtype=np.int64), lengths), None, lengths)

    @staticmethod
    def _from_pairs(vocab: dict[str, int], terms: "np.ndarray", rows: "np.ndarray", tf: "np.ndarray | None", lengths: "np.ndarray") -> "Postings":
        """CSR from (term, row[, count]) pairs; pairs repeating a (term, row) are summed."""
        import numpy as np

        n = max(int(lengths.size), 1)
        keys = terms.astype(np.int64) * n + rows.astype(np.int64)
        if tf is None:
            keys, counts = np.unique(keys, return_counts=True)
        else:
            order = np.argsort(keys, kind="stable")
            keys, first = np.unique(keys[order], return_index=True)
            counts = np.add.reduceat(tf[order], first) if keys.size else np.zeros(0)
        terms_sorted = keys // n
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms_sorted, minlength=len(vocab)), out=indptr[1:])
        return Postings(vocab, indptr, (keys % n).astype(np.int32), counts.astype(np.float32), lengths.astype(np.int32))

    @staticmethod
    def merge(parts: Sequence[tuple["Postings", "np.ndarray"]]) -> "Postings":
        """One ``Postings`` of several, each given with the entries it keeps (bool per entry), in order: the kept
        entries of the first part first. What a segment merge does; nothing is tokenized again."""
        import numpy as np

        vocab: dict[str, int] = {}
        terms, rows, tfs, lengths = [], [], [], []
        base = 0
        for postings, keep in parts:
            new_row = np.full(postings.entries, -1, dtype=np.int64)
            new_row[keep] = base + np.arange(int(keep.sum()))
            term_map = np.fromiter((vocab.setdefault(t, len(vocab)) for t in postings.tokens()), dtype=np.int64, count=len(postings.vocab))
            term_of = np.repeat(term_map, np.diff(postings.indptr))
            row_of = new_row[postings.rows]
            ok = row_of >= 0
            terms.append(term_of[ok])
            rows.append(row_of[ok])
            tfs.append(postings.tf[ok])
            lengths.append(postings.lengths[keep])
            base += int(keep.sum())
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
        merged = Postings._from_pairs(vocab, cat(terms, np.int64), cat(rows, np.int64), cat(tfs, np.float32), cat(lengths, np.int32))
        # a token whose every posting was dropped stays in the vocabulary with none: harmless, and rare
        return merged

    def tokens(self) -> list[str]:
        """The vocabulary in id order."""
        out = [""] * len(self.vocab)
        for token, i in self.vocab.items():
            out[i] = token
        return out

    def postings_of(self, token: str) -> tuple["np.ndarray", "np.ndarray"] | None:
        i = self.vocab.get(token)
        if i is None:
            return None
        s, e = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.rows[s:e], self.tf[s:e]

    def save(self, folder: Path, prefix: str) -> list[Path]:
        """Write the five files; returns their paths."""
        import numpy as np

        paths = [folder / f"{prefix}.{suffix}" for suffix in FILE_SUFFIXES]
        paths[0].write_text(json.dumps(self.tokens(), ensure_ascii=False), encoding="utf-8", errors="surrogatepass")
        for path, array in zip(paths[1:], (self.indptr, self.rows, self.tf, self.lengths)):
            with path.open("wb") as fh:
                np.save(fh, array, allow_pickle=False)
        return paths

    @staticmethod
    def load(folder: Path, prefix: str) -> "Postings":
        import numpy as np

        tokens = json.loads((folder / f"{prefix}.vocab.json").read_text(encoding="utf-8", errors="surrogatepass"))
        arrays = [np.load(folder / f"{prefix}.{suffix}", allow_pickle=False) for suffix in FILE_SUFFIXES[1:]]
        postings = Postings(dict(zip(tokens, range(len(tokens)))), *arrays)
        if postings.indptr.size != len(tokens) + 1 or postings.rows.size != postings.tf.size or int(postings.indptr[-1]) != postings.rows.size:
            raise ValueError(f"{prefix} postings in {folder} are inconsistent")
        return postings


class Bm25Segments:
    """BM25 (``SparseIndex``) over the postings of several segments, entry ids = segment base + row.

    In: ``(base, postings, alive)`` per segment (``alive``: bool per entry, None when none was deleted), the size
    of the id space, and a function giving the allowed entries (bool per id) for a filter, or None for all.
    Statistics (entry count, average length, document frequencies) count live entries only."""

    def __init__(self, parts: Sequence[tuple[int, Postings, "np.ndarray | None"]], size: int,
                 allowed: Callable[[SearchFilter], "np.ndarray | None"]):
        import numpy as np

        self._parts = list(parts)
        self._size = size
        self._allowed = allowed
        live_lengths = [p.lengths if alive is None else p.lengths[alive] for _, p, alive in self._parts]
        self.live = sum(int(x.size) for x in live_lengths)
        avg = float(sum(float(x.sum()) for x in live_lengths)) / self.live if self.live else 1.0
        # k1·(1 - b + b·dl/avgdl) per entry: the length part of every term score, computed once
        self._norms = [np.float32(BM25_K1) * ((1 - BM25_B) + BM25_B * p.lengths.astype(np.float32) / np.float32(avg))
                       for _, p, _ in self._parts]

    def size(self) -> int:
        return self._size

    def doc_freq(self, token: str) -> int:
        df = 0
        for _, postings, alive in self._parts:
            found = postings.postings_of(token)
            if found is not None:
                df += found[0].size if alive is None else int(alive[found[0]].sum())
        return df

    def idf(self, token: str) -> float:
        df = self.doc_freq(token)
        return math.log(1 + (self.live - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[tuple[str, float]], filters: SearchFilter = NO_FILTER) -> "np.ndarray":
        """The score of every id (0 where the filter excludes it or the entry was deleted), in id order."""
        import numpy as np

        out = np.zeros(self._size, dtype=np.float32)
        idf_of: dict[str, float] = {}
        for token, weight in query:
            if token not in idf_of:
                df = self.doc_freq(token)
                idf_of[token] = math.log(1 + (self.live - df + 0.5) / (df + 0.5)) if df else 0.0
            idf = idf_of[token]
            if not idf:
                continue
            for (base, postings, _), norm in zip(self._parts, self._norms):
                found = postings.postings_of(token)
                if found is None:
                    continue
                rows, tf = found
                out[base + rows] += np.float32(weight * idf) * (tf / (norm[rows] + tf))
        ok = self._allowed(filters)
        return out if ok is None else np.where(ok, out, np.float32(0))

    def search(self, query: Sequence[tuple[str, float]], k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        return Matches.top(self.scores(query, filters), k)
