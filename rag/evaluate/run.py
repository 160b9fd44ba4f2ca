"""Running an evaluation: build or reuse each configuration's index, ask every question, score, aggregate.

In: a question file, a corpus folder (or one per corpus name), ``EvalConfig``s (a name + dotted overrides) and
base ``Settings``. Out: an ``EvalReport`` with a ``ConfigResult`` per configuration (figures overall and by
kind, language and neg; hit curves; gate reliability; every ``QuestionRecord``). Touches the cached evaluation
indexes under the index root, one per corpus, splitter and model (``index_dir_for``), which ``ingest`` builds
or updates. ``parse_config_spec`` reads a command-line ``name:key=value,...`` into an ``EvalConfig``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

from ..config import Settings, load_settings
from ..errors import RagError
from .metrics import breakdown, hit_curve, reliability, summarise
from .questions import EvalQuestion, load_questions
from .scoring import Gold, QuestionRecord, score_question


@dataclass(frozen=True)
class EvalConfig:
    """A named configuration: dotted overrides applied to the base settings."""

    name: str
    overrides: dict = field(default_factory=dict)


BASELINE = EvalConfig(
    "baseline",
    {
        # what a LangChain user writes on day one: RecursiveCharacterTextSplitter (default separators),
        # vector search with the same embedding model, the top passage as the answer
        "splitter.strategy": "recursive",
        "splitter.context": False,
        "retrieval.mode": "dense",
        "retrieval.doc_weight": 0.0,
        "answer.mode": "top_passage",
    },
)


@dataclass
class ConfigResult:
    name: str
    overrides: dict
    index_dir: str
    ingest_seconds: float
    embedded_chunks: int
    metrics: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    hit_curve: dict[str, list[float]]  # "evidence"/"report" -> hit@1..10
    records: list[QuestionRecord]
    by_lang: dict[str, dict[str, float]] = field(default_factory=dict)
    by_neg: dict[str, dict[str, float]] = field(default_factory=dict)  # unanswerable questions by how they tempt
    reliability: list[dict[str, float]] = field(default_factory=list)  # gate calibration bins
    verifier: str = ""  # the language model that read doubtful questions (answer.verifier), "" for none


@dataclass
class EvalReport:
    questions_file: str
    corpus_dir: str
    n_questions: int
    results: list[ConfigResult]
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def index_dir_for(root: Path, settings: Settings, corpus_dir: Path) -> Path:
    """The cached evaluation index of a corpus: one per corpus, splitter and model -- not per batch size or
    thread count, which do not change a vector."""
    from ..ingest import embedder_header, splitter_header

    key = json.dumps(
        {"corpus": str(corpus_dir.resolve()), "splitter": splitter_header(settings),
         "embedding": embedder_header(settings, None, load_model=False)},
        sort_keys=True,
        default=str,
    )
    return root / hashlib.sha256(key.encode()).hexdigest()[:12]


def default_index_root(settings: Settings) -> Path:
    """Where evaluation indexes are cached unless told otherwise: ``eval/`` beside the chat's index."""
    return settings.corpus.index_dir.parent / "eval"


def corpus_assistant(corpus_dir: Path, settings: Settings, embedder, root: Path | None = None):
    """The evaluation index of a corpus, built or updated (``ingest``), and an ``Assistant`` over it.

    Out: (assistant, the ingest's report, the index folder)."""
    from ..ingest import ingest
    from ..pipeline import Assistant

    index_dir = index_dir_for(root or default_index_root(settings), settings, corpus_dir)
    report = ingest(corpus_dir, index_dir, settings, embedder, progress=None)
    return Assistant(index_dir, settings, embedder), report, index_dir


def evaluate(
    questions_file: str | Path,
    corpus_dir: str | Path | Mapping[str, str | Path],
    configs: list[EvalConfig] | None = None,
    settings: Settings | None = None,
    index_root: str | Path | None = None,
    top_k: int = 10,
    limit: int | None = None,
    progress: bool = True,
    embedder=None,
) -> EvalReport:
    """Run every configuration over the question set; ``top_k`` passages are retrieved per question and
    scored for retrieval (hit@10 needs 10), and the answer is built from them exactly as ``ask`` does.

    ``corpus_dir``: one folder, or a mapping from a question's ``corpus`` name to its folder (a question bank
    over several corpora; the key "" is the folder for questions that name none)."""
    started = time.perf_counter()
    base = settings or load_settings()
    questions = load_questions(questions_file)[:limit] if limit else load_questions(questions_file)
    corpora = {k: Path(v) for k, v in corpus_dir.items()} if isinstance(corpus_dir, Mapping) else {"": Path(corpus_dir)}
    groups: dict[str, list[EvalQuestion]] = defaultdict(list)
    for q in questions:
        name = q.corpus if q.corpus in corpora else ""
        if name not in corpora:
            raise RagError(f"question {q.id} is about corpus {q.corpus!r}: give its folder (--corpus {q.corpus}=DIR)")
        groups[name].append(q)
    root = Path(index_root) if index_root else default_index_root(base)
    configs = configs or [EvalConfig("ours", {}), BASELINE]
    if embedder is None:
        from embeddings import make_embedder

        embedder = make_embedder(base.embedding)
    results = []
    for config in configs:
        settings_c = base.replace(config.overrides) if config.overrides else base
        records: list[QuestionRecord] = []
        ingest_seconds, embedded, index_dirs, verifiers = 0.0, 0, [], set()
        for name, group in groups.items():
            corpus = corpora[name]
            t = time.perf_counter()
            assistant, report, index_dir = corpus_assistant(corpus, settings_c, embedder, root)
            ingest_seconds += time.perf_counter() - t
            embedded += report.embedded_chunks
            index_dirs.append(str(index_dir))
            gold = Gold(corpus, assistant.store)
            if assistant.gate.verifier_weights is not None:  # a verifier without weights for it is never asked
                verifiers.add(assistant.gate.verifier.identity)
            iterator = group
            if progress:
                import sys

                from tqdm import tqdm

                # a bar on a terminal; in a log file it would be noise
                iterator = tqdm(group, desc=f"{config.name:>12}", unit="q", leave=False, disable=not sys.stderr.isatty())
            for q in iterator:
                answer = assistant.ask(q.question, extra_hits=max(0, top_k - settings_c.retrieval.top_k))
                records.append(score_question(q, answer, gold))
        results.append(
            ConfigResult(
                name=config.name,
                overrides=dict(config.overrides),
                index_dir=", ".join(index_dirs),
                ingest_seconds=ingest_seconds,
                embedded_chunks=embedded,
                metrics=summarise(records),
                by_kind=breakdown(records, lambda r: r.kind),
                hit_curve={"evidence": hit_curve(records, "evidence"), "report": hit_curve(records, "report")},
                records=records,
                by_lang=breakdown(records, lambda r: r.lang),
                by_neg=breakdown([r for r in records if r.neg], lambda r: r.neg),
                reliability=reliability(records),
                verifier=", ".join(sorted(verifiers)),
            )
        )
    return EvalReport(str(questions_file), str(corpus_dir), len(questions), results, time.perf_counter() - started)


def parse_config_spec(spec: str) -> EvalConfig:
    """``name:key=value,key=value`` -> EvalConfig (``baseline`` alone names the day-one baseline)."""
    if spec == "baseline":
        return BASELINE
    name, _, rest = spec.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise RagError(f"config spec {spec!r}: expected key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return EvalConfig(name.strip() or "config", overrides)
