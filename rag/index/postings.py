"""Keyword postings of one index segment, and BM25 over several segments with corpus-wide statistics.

A segment's ``Postings`` record, for every token, the entries (passages, or whole reports) holding it and how
often, with each entry's length: raw counts, no scores baked in. ``Bm25Segments`` scores a query over all
segments at query time from statistics of the *live* entries (entries of deleted reports excluded), so adding or
deleting a report rewrites no other segment and scores equal those of an index built afresh from the same
reports: BM25 with Lucene's idf and bm25s' defaults (k1 1.5, b 0.75), as ``bm25s``' "lucene" method computes.

Files of one ``Postings`` (``<prefix>`` e.g. ``passage``): ``<prefix>.keys.npy`` (uint64 token keys, sorted:
``token_key``), ``<prefix>.indptr.npy`` (int64, tokens + 1), ``<prefix>.rows.npy`` (int32 entry of each posting),
``<prefix>.tf.npy`` (float32 count), ``<prefix>.lengths.npy`` (int32 tokens per entry). No pickle.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from .protocol import NO_FILTER, Matches, SearchFilter

if TYPE_CHECKING:
    import numpy as np

BM25_K1, BM25_B = 1.5, 0.75
FILE_SUFFIXES = ("keys.npy", "indptr.npy", "rows.npy", "tf.npy", "lengths.npy")


def token_key(token: str) -> int:
    """A token's 64-bit key: the first 8 bytes of its blake2b digest. A vocabulary holds keys, not strings (16
    bytes a token with its offset, against ~150 for a Python dict entry); two of a few million tokens share a
    key with a probability of about 1e-7."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


@dataclass
class Postings:
    """Token -> (entries, counts) of one segment, in CSR form over the sorted token keys: the postings of the
    token whose key is ``keys[t]`` are ``rows[indptr[t]:indptr[t+1]]`` (ascending) with counts ``tf[...]``;
    ``lengths[e]``: tokens of entry e."""

    keys: "np.ndarray"  # uint64, sorted
    indptr: "np.ndarray"
    rows: "np.ndarray"
    tf: "np.ndarray"
    lengths: "np.ndarray"

    @property
    def entries(self) -> int:
        return int(self.lengths.size)

    @staticmethod
    def from_tokens(token_lists: Iterable[Sequence[str]]) -> "Postings":
        """Postings of entries given as token lists (an empty list counts as one empty token, as in bm25s). Each
        list is turned into int32 ids as it comes, so an iterator of lists never holds the corpus' token strings
        (a 134k-passage first ingest held 12.9 GB of them)."""
        import numpy as np

        vocab: dict[str, int] = {}
        ids = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in (toks or [""])), dtype=np.int32) for toks in token_lists]
        lengths = np.array([a.size for a in ids], dtype=np.int32)
        terms = np.concatenate(ids) if ids else np.zeros(0, np.int32)
        del ids
        # (term, row) pairs as one int64, counted by one sort: 8 bytes a token, not the 28 of three arrays
        n = max(int(lengths.size), 1)
        pairs = terms.astype(np.int64) * n
        del terms
        pairs += np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
        pairs, counts = np.unique(pairs, return_counts=True)
        local_terms, rows = pairs // n, pairs % n
        del pairs
        keys = np.fromiter((token_key(t) for t in vocab), dtype=np.uint64, count=len(vocab))
        return Postings._from_pairs(keys[local_terms], rows, counts.astype(np.float32), lengths)

    @staticmethod
    def _from_pairs(term_keys: "np.ndarray", rows: "np.ndarray", tf: "np.ndarray", lengths: "np.ndarray") -> "Postings":
        """CSR from (token key, row, count) triples; triples repeating a (key, row) are summed."""
        import numpy as np

        order = np.lexsort((rows, term_keys))
        term_keys, rows, tf = term_keys[order], rows[order], tf[order]
        new_pair = np.ones(term_keys.size, dtype=bool)
        new_pair[1:] = (term_keys[1:] != term_keys[:-1]) | (rows[1:] != rows[:-1])
        starts = np.flatnonzero(new_pair)
        counts = np.add.reduceat(tf, starts) if starts.size else np.zeros(0, np.float32)
        term_keys, rows = term_keys[starts], rows[starts]
        keys, first = np.unique(term_keys, return_index=True)
        indptr = np.append(first, term_keys.size).astype(np.int64)
        return Postings(keys.astype(np.uint64), indptr, rows.astype(np.int32), counts.astype(np.float32), lengths.astype(np.int32))

    @staticmethod
    def merge(parts: Sequence[tuple["Postings", "np.ndarray"]]) -> "Postings":
        """One ``Postings`` of several, each given with the entries it keeps (bool per entry), in order: the kept
        entries of the first part first. What a segment merge does; nothing is tokenized again."""
        import numpy as np

        keys, rows, tfs, lengths = [], [], [], []
        base = 0
        for postings, keep in parts:
            new_row = np.full(postings.entries, -1, dtype=np.int64)
            new_row[keep] = base + np.arange(int(keep.sum()))
            key_of = np.repeat(postings.keys, np.diff(postings.indptr))
            row_of = new_row[postings.rows]
            ok = row_of >= 0
            keys.append(key_of[ok])
            rows.append(row_of[ok])
            tfs.append(postings.tf[ok])
            lengths.append(postings.lengths[keep])
            base += int(keep.sum())

        def cat(xs, dtype):
            return np.concatenate(xs) if xs else np.zeros(0, dtype)

        return Postings._from_pairs(cat(keys, np.uint64), cat(rows, np.int64), cat(tfs, np.float32), cat(lengths, np.int32))

    def postings_of(self, token: str | int) -> tuple["np.ndarray", "np.ndarray"] | None:
        """(rows, counts) of a token (or a token key), None if no entry holds it."""
        import numpy as np

        key = np.uint64(token_key(token) if isinstance(token, str) else token)
        i = int(np.searchsorted(self.keys, key))
        if i >= self.keys.size or self.keys[i] != key:
            return None
        s, e = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.rows[s:e], self.tf[s:e]

    def save(self, folder: Path, prefix: str) -> list[Path]:
        """Write the five files; returns their paths."""
        import numpy as np

        paths = [folder / f"{prefix}.{suffix}" for suffix in FILE_SUFFIXES]
        for path, array in zip(paths, (self.keys, self.indptr, self.rows, self.tf, self.lengths)):
            with path.open("wb") as fh:
                np.save(fh, array, allow_pickle=False)
        return paths

    @staticmethod
    def load(folder: Path, prefix: str) -> "Postings":
        import numpy as np

        postings = Postings(*(np.load(folder / f"{prefix}.{suffix}", allow_pickle=False) for suffix in FILE_SUFFIXES))
        keys, indptr = postings.keys, postings.indptr
        if (keys.dtype != np.uint64 or indptr.size != keys.size + 1 or postings.rows.size != postings.tf.size
                or int(indptr[-1]) != postings.rows.size or (keys.size > 1 and not bool(np.all(keys[1:] > keys[:-1])))):
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

    def doc_freq(self, token: str | int) -> int:
        """Live entries holding a token (or a token key)."""
        key = token_key(token) if isinstance(token, str) else token
        df = 0
        for _, postings, alive in self._parts:
            found = postings.postings_of(key)
            if found is not None:
                df += found[0].size if alive is None else int(alive[found[0]].sum())
        return df

    def idf(self, token: str) -> float:
        """Lucene's idf over the live entries (a token no entry holds gets the maximum)."""
        return self._idf(self.doc_freq(token))

    def _idf(self, df: int) -> float:
        return math.log(1 + (self.live - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[tuple[str, float]], filters: SearchFilter = NO_FILTER) -> "np.ndarray":
        """The score of every id (0 where the filter excludes it or the entry was deleted), in id order."""
        import numpy as np

        out = np.zeros(self._size, dtype=np.float32)
        idf_of: dict[str, float] = {}
        for token, weight in query:
            if token not in idf_of:
                df = self.doc_freq(token_key(token))
                idf_of[token] = self._idf(df) if df else 0.0  # a token no live entry holds adds nothing
            idf = idf_of[token]
            if not idf:
                continue
            key = token_key(token)
            for (base, postings, _), norm in zip(self._parts, self._norms):
                found = postings.postings_of(key)
                if found is None:
                    continue
                rows, tf = found
                out[base + rows] += np.float32(weight * idf) * (tf / (norm[rows] + tf))
        ok = self._allowed(filters)
        return out if ok is None else np.where(ok, out, np.float32(0))

    def search(self, query: Sequence[tuple[str, float]], k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        return Matches.top(self.scores(query, filters), k)
