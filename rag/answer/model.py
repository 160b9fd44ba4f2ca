"""The fitted scoring models: named features in, a logit out, read from a small JSON file (``reader_model.json``).

In: the file written by ``scripts/fit_reader.py``. Out: ``ReaderModel`` with a span scorer (which candidate
answers), a gate (is the question answered at all, with its calibrated threshold) and, when fitted, the weights
that combine the gate with a language model's reading of the best span (``VerifierWeights``). Scorer and gate are each
``Linear`` (logistic weights on the named features) or ``Trees`` (gradient-boosted regression trees over them);
a feature a model does not name plays no part. No pickle: trees are stored as plain node lists.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol, Sequence

from ..errors import RagError

Features = dict[str, float]


class Scorer(Protocol):
    def logit(self, features: Features) -> float: ...

    def logits(self, rows: Sequence[Features]) -> list[float]: ...

    def probability(self, features: Features) -> float: ...

    def to_json(self) -> dict: ...


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


@dataclass(frozen=True)
class Linear:
    bias: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)

    def logit(self, features: Features) -> float:
        return self.bias + sum(w * features.get(name, 0.0) for name, w in self.weights.items())

    def logits(self, rows: Sequence[Features]) -> list[float]:
        return [self.logit(r) for r in rows]

    def probability(self, features: Features) -> float:
        return sigmoid(self.logit(features))

    def to_json(self) -> dict:
        return {"bias": self.bias, "weights": self.weights}


Node = tuple[int, float, int, int, float]  # (feature index or -1 for a leaf, threshold, left, right, leaf value)


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted regression trees: logit = ``baseline`` + the leaf value each tree reaches. A node sends
    a row left when its feature is at most the threshold."""

    names: tuple[str, ...]
    baseline: float
    trees: tuple[tuple[Node, ...], ...]

    def logit(self, features: Features) -> float:
        return self.logits([features])[0]

    def logits(self, rows: Sequence[Features]) -> list[float]:
        """All rows through all trees at once: a few array steps per tree level, not a Python walk per node."""
        import numpy as np

        if not rows:
            return []
        feature, threshold, left, right, value, roots, depth = self._flat
        x = np.array([[r.get(n, 0.0) for n in self.names] for r in rows], dtype=np.float64)
        at = np.repeat(roots[:, None], len(rows), axis=1)  # (trees, rows): the node each row is at in each tree
        cols = np.arange(len(rows))[None, :]
        for _ in range(depth):
            f = feature[at]
            leaf = f < 0
            go_left = x[cols, np.where(leaf, 0, f)] <= threshold[at]
            at = np.where(leaf, at, np.where(go_left, left[at], right[at]))
        return [float(z) for z in self.baseline + value[at].sum(axis=0)]

    def probability(self, features: Features) -> float:
        return sigmoid(self.logit(features))

    @cached_property
    def _flat(self):
        """All trees as one node table (a leaf points to itself), each tree's root, and the deepest tree's depth."""
        import numpy as np

        offsets, nodes = [], []
        for tree in self.trees:
            offsets.append(len(nodes))
            nodes.extend(tree)
        node = np.array(nodes, dtype=np.float64).reshape(-1, 5)
        off = np.repeat(np.array(offsets, dtype=np.int64), [len(t) for t in self.trees])
        is_leaf = node[:, 0] < 0
        left = np.where(is_leaf, np.arange(len(node)), node[:, 2].astype(np.int64) + off)
        right = np.where(is_leaf, np.arange(len(node)), node[:, 3].astype(np.int64) + off)
        depth = max((_depth(t) for t in self.trees), default=0)
        return (node[:, 0].astype(np.int64), node[:, 1], left, right, np.where(is_leaf, node[:, 4], 0.0),
                np.array(offsets, dtype=np.int64), depth)

    def to_json(self) -> dict:
        return {"kind": "trees", "names": list(self.names), "baseline": self.baseline, "trees": [[list(n) for n in t] for t in self.trees]}


def _depth(tree: Sequence[Node], i: int = 0) -> int:
    f, _, left, right, _ = tree[i]
    return 0 if f < 0 else 1 + max(_depth(tree, int(left)), _depth(tree, int(right)))


def scorer_from_json(raw: dict) -> Scorer:
    if raw.get("kind") == "trees":
        names = tuple(raw["names"])
        trees = tuple(tuple((int(n[0]), float(n[1]), int(n[2]), int(n[3]), float(n[4])) for n in t) for t in raw["trees"])
        for tree in trees:
            # a node's children come after it (as the fitting library writes them): no node points outside its
            # tree, and no walk down a tree can loop
            if not tree or any(f >= len(names) or (f >= 0 and not (i < left < len(tree) and i < right < len(tree))) for i, (f, _, left, right, _) in enumerate(tree)):
                raise ValueError("a tree node points outside its tree, back up it, or to a feature the file does not name")
        return Trees(names, float(raw["baseline"]), trees)
    return Linear(float(raw["bias"]), {k: float(v) for k, v in raw["weights"].items()})


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class VerifierWeights:
    """How the gate's probability and a language model's judgement (``verify.Verifier``) combine: log-odds =
    ``bias`` + ``gate_weight`` · logit(gate probability) + ``judge_weight`` · judgement; answered at or above
    ``threshold``. Judgements are clipped to the range the model gave on train (``low``, ``high``): outside it
    the weights were never tested. Fitted for the judgements of one model (``identity``).

    The model is asked only for questions whose gate probability lies in ``band`` (the doubtful ones, around
    the gate's threshold; fitted so that a chosen share of train questions falls in it): below it the
    question is refused, above it answered, as the gate alone decides. ``band`` None: asked whenever the
    judgement could change the outcome."""

    identity: str
    gate_weight: float
    judge_weight: float
    bias: float
    threshold: float
    low: float
    high: float
    band: tuple[float, float] | None = None

    def probability(self, gate_probability: float, judgement: float) -> float:
        judged = max(self.low, min(self.high, judgement))
        return sigmoid(self.bias + self.gate_weight * logit(gate_probability) + self.judge_weight * judged)

    def settled(self, gate_probability: float) -> bool | None:
        """The outcome without asking the model — True (answered), False (refused) — or None when its
        judgement decides (only then is it asked)."""
        if self.band is not None:
            if gate_probability < self.band[0]:
                return False
            if gate_probability >= self.band[1]:
                return True
        ends = [self.probability(gate_probability, j) for j in (self.low, self.high)]
        if min(ends) >= self.threshold:
            return True
        if max(ends) < self.threshold:
            return False
        return None

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in ("identity", "gate_weight", "judge_weight", "bias", "threshold", "low", "high")}
        if self.band is not None:
            out["band"] = list(self.band)
        return out

    @classmethod
    def from_json(cls, raw: dict) -> "VerifierWeights":
        band = raw.get("band")
        return cls(**{**raw, "band": tuple(band) if band is not None else None})


@dataclass(frozen=True)
class ReaderModel:
    span: Scorer
    gate: Scorer
    threshold: float  # gate probability at or above which a question counts as answered
    meta: dict = field(default_factory=dict)
    verifier: VerifierWeights | None = None  # fitted when a language model reads the best span too

    def to_json(self) -> dict:
        out = {"span": self.span.to_json(), "gate": {**self.gate.to_json(), "threshold": self.threshold}, "meta": self.meta}
        if self.verifier is not None:
            out["verifier"] = self.verifier.to_json()
        return out

    def save(self, path: str | Path) -> None:
        """Indented JSON, each tree's node list on one line (a file of a few thousand lines, not a hundred thousand)."""
        raw = self.to_json()
        lines: dict[str, str] = {}
        for part in ("span", "gate"):
            if raw[part].get("kind") == "trees":
                raw[part] = dict(raw[part])
                packed = []
                for tree in raw[part]["trees"]:
                    key = f"@tree{len(lines)}@"
                    lines[key] = json.dumps(tree, separators=(",", ":"))
                    packed.append(key)
                raw[part]["trees"] = packed
        text = json.dumps(raw, ensure_ascii=False, indent=1)
        for key, tree in lines.items():
            text = text.replace(f'"{key}"', tree, 1)
        Path(path).write_text(text + "\n", encoding="utf-8")


def load_model(path: str | Path) -> ReaderModel:
    """Read a reader model; a missing or malformed file is a ``RagError`` naming the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ReaderModel(
            span=scorer_from_json(raw["span"]),
            gate=scorer_from_json(raw["gate"]),
            threshold=float(raw["gate"]["threshold"]),
            meta=dict(raw.get("meta", {})),
            verifier=VerifierWeights.from_json(raw["verifier"]) if "verifier" in raw else None,
        )
    except FileNotFoundError as exc:
        raise RagError(f"reader model not found: {path} (fit one with scripts/fit_reader.py)") from exc
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise RagError(f"reader model {path} is malformed: {exc}") from exc
