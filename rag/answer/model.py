"""The fitted scoring model: named feature weights read from a small JSON file (``reader_model.json``).

In: the file written by ``scripts/fit_reader.py``. Out: ``ReaderModel`` with a span scorer (which candidate
answers) and a gate (is the question answered at all, with its calibrated threshold). Both are logistic
models over the named features of ``features.py``; a feature the file does not name weighs 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RagError


@dataclass(frozen=True)
class Linear:
    bias: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)

    def logit(self, features: dict[str, float]) -> float:
        return self.bias + sum(w * features.get(name, 0.0) for name, w in self.weights.items())

    def probability(self, features: dict[str, float]) -> float:
        z = self.logit(features)
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


@dataclass(frozen=True)
class ReaderModel:
    span: Linear
    gate: Linear
    threshold: float  # gate probability at or above which a question counts as answered
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "span": {"bias": self.span.bias, "weights": self.span.weights},
            "gate": {"bias": self.gate.bias, "weights": self.gate.weights, "threshold": self.threshold},
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_model(path: str | Path) -> ReaderModel:
    """Read a reader model; a missing or malformed file is a ``RagError`` naming the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ReaderModel(
            span=Linear(float(raw["span"]["bias"]), {k: float(v) for k, v in raw["span"]["weights"].items()}),
            gate=Linear(float(raw["gate"]["bias"]), {k: float(v) for k, v in raw["gate"]["weights"].items()}),
            threshold=float(raw["gate"]["threshold"]),
            meta=dict(raw.get("meta", {})),
        )
    except FileNotFoundError as exc:
        raise RagError(f"reader model not found: {path} (fit one with scripts/fit_reader.py)") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise RagError(f"reader model {path} is malformed: {exc}") from exc
