"""Fit the reader's span scorer and answerability gate on the TRAIN split, calibrate the gate's threshold, and
plot the gate's score distributions and reliability.

In: a question bank split (default data/questions/bank_train.jsonl), the corpora it is about, the current
config (embedding model, retrieval). Out: rag/answer/reader_model.json (the span scorer and the gate over
named features, the threshold, how they were fitted) and docs/gate_train.png. Nothing here reads the test split.
The file it writes holds no verifier weights (they are fitted against this gate): refit them after, with
scripts/fit_verifier.py.

    .venv/bin/python scripts/fit_reader.py [--bank FILE] [--out FILE] [--max-false-refusal 0.03]

Labelled spans and gate features are cached nowhere: a refit reruns retrieval (~1 s a question on 2 cores). The
chosen model's out-of-fold rows go to ``--held-out`` (var/held_out.jsonl), keyed by the model and question files,
for scripts/fit_verifier.py.
Which spans of an English question get embedded follows the current model's ranking (as at answer time), so a
refit reproduces the shipped weights up to small differences in those questions' dense feature.

1. Every question is retrieved as ``ask`` does; every candidate span gets its features and a label (it holds
   the gold answer, and is not much longer than the shortest span that does).
2. Span scorer (scripts/scorers.py): on the spans of answerable questions, either L2-regularised logistic
   regression (standardised features), the same linear form fitted to pick each question's right span among
   its own candidates (``fit_listwise``, a conditional logit), or gradient-boosted trees (``TREES``: shallow
   trees learn that a feature counts differently for a figure, a list or a name question, which a linear model
   can only learn from hand-made copies).
3. Gate: the same kind of model over question-level features of the best span, answerable questions whose best
   span is right (1) against unanswerable questions (0), on the corpora that have both (the NCP questions are
   all answerable: they train the span scorer and bound the threshold's refusals, not the gate).
   The kinds (``MODEL_KINDS``: linear/linear, listwise/linear, trees/linear, trees/trees) and a linear
   model's regularisation strength are chosen by 5-fold cross-validation on the train questions, folds kept whole by report
   (``fold_of``): the simplest candidate within one standard error of the most right outcomes, among those
   that refuse no more answerable questions than the best all-linear one (``choose_model``).
4. Threshold: the one with the most right outcomes on train (answered from a right span, or refused when the
   reports do not hold it), refusing at most ``--max-false-refusal`` of the questions it could answer right,
   in each corpus (the NCP questions, all answerable, must not buy refusals on the question bank).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
CORPORA = {"seed": ROOT / "data" / "reports", "gov_reports": SHARED / "corpora" / "gov_reports" / "docs", "ncp": SHARED / "eval" / "ncp" / "docs"}
# The train halves fitted on by default: the question bank's, and the NCP dev set's (real policy questions;
# evaluation data that is never shipped, so its halves are written under var/ by scripts/split_bank.py).
TRAIN_SETS = [ROOT / "data" / "questions" / "bank_train.jsonl", ROOT / "var" / "ncp" / "ncp_train.jsonl"]
HELD_OUT = ROOT / "var" / "held_out.jsonl"  # the chosen model's out-of-fold rows, for scripts/fit_verifier.py

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scorers import MODEL_KINDS, TREES, fit_scorer, fit_span_scorer, span_rows  # noqa: E402


def assistants(settings, corpora: set[str]):
    """One loaded assistant per corpus (the index the evaluation uses, built or updated if needed)."""
    from embeddings import make_embedder
    from rag.evaluate import corpus_assistant

    embedder = make_embedder(settings.embedding)
    # the examples are the gate's inputs: a verifier reading them would cost ~1.3 s a question and change none
    # (scripts/fit_verifier.py asks its own model about the out-of-fold best spans)
    settings = settings.replace({"answer.verifier": "none"})
    out = {}
    for name in sorted(corpora):
        corpus = CORPORA[name]
        if not corpus.exists():
            print(f"skipping corpus {name}: {corpus} not found", file=sys.stderr)
            continue
        out[name] = corpus_assistant(corpus, settings, embedder)[0]
    return out


def outcomes(examples, c: float, max_false_refusal: float, kind: str = "linear/linear"):
    """Fit span scorer, gate and threshold on ``examples``: (span, gate, threshold, gate rows). ``kind``: the
    span scorer's kind and the gate's (``MODEL_KINDS``)."""
    from rag.answer.features import GATE_FEATURES, SPAN_FEATURES

    span_kind, gate_kind = kind.split("/")
    span = fit_span_scorer(examples, SPAN_FEATURES, span_kind, c)
    rows = gate_rows(examples, span)
    # the gate learns from corpora whose questions include unanswerable ones: a corpus of answerable questions
    # only would teach it what that corpus looks like, not whether a passage answers
    with_negatives = {ex.corpus for _, _, ex in rows if not ex.answerable}
    train = [(f, ex) for f, right, ex in rows if ex.corpus in with_negatives and ((ex.answerable and right) or not ex.answerable)]
    gate = fit_scorer([f for f, _ in train], [int(ex.answerable) for _, ex in train], GATE_FEATURES, gate_kind, c)
    threshold = choose_threshold([(gate.probability(f), ex.answerable, right, ex.corpus) for f, right, ex in rows], max_false_refusal)
    return span, gate, threshold, rows


def fold_of(example, folds: int) -> int:
    """The cross-validation fold of a question: by the report it is about, as the train/test split is, so no
    report (and no pair of questions written about the same passage) is on both sides of a fold."""
    key = f"{example.corpus}:{example.group or example.qid}"
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[8:16], 16) % folds


def right_outcome(answered: bool, answerable: bool, right: bool) -> bool:
    """A right outcome: an answerable question answered from a right span, or an unanswerable one refused."""
    return (answered and answerable and right) or (not answered and not answerable)


class Asked(NamedTuple):
    """What the verifier's fit needs of a train question."""

    qid: str
    kind: str
    lang: str
    corpus: str
    answerable: bool
    question: str  # as the verifier reads it (``Focus.read_question``)


class HeldOut(NamedTuple):
    """One train question scored by a span scorer and gate fitted without its fold, as on an unseen report."""

    fold: int
    probability: float  # the gate's
    threshold: float  # the gate's, fitted on the other folds
    right: bool  # the best span holds the gold answer
    example: Asked
    best_text: str  # the best span in its sentence, as the verifier reads it (read here: fitting the next fold
    # rescores the examples' spans)


def model_key(model, banks: list[Path]) -> str:
    """What held-out rows were computed for: the span scorer and gate (not the verifier weights) and the files."""
    raw = model.to_json()
    return hashlib.sha1(json.dumps([raw["span"], raw["gate"], sorted(b.name for b in banks)], sort_keys=True).encode("utf-8")).hexdigest()


def write_held_out(rows: list[HeldOut], key: str, path: Path) -> None:
    """JSON Lines: a first line with the key of the model and files they belong to, then one row per question.
    scripts/fit_verifier.py reads them instead of rerunning retrieval for every train question."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"model": key})] + [json.dumps({**r._asdict(), "example": r.example._asdict()}, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_held_out(key: str, path: Path) -> list[HeldOut] | None:
    """The rows written for that key, or None (no file, or one written for another model or other files)."""
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or json.loads(lines[0]).get("model") != key:
        return None
    rows = []
    for line in lines[1:]:
        raw = json.loads(line)
        rows.append(HeldOut(**{**raw, "example": Asked(**raw["example"])}))
    return rows


def out_of_fold(examples, kind: str, c: float, max_false_refusal: float, folds: int = 5) -> list[HeldOut]:
    """Every question of ``examples``, scored by the span scorer, gate and threshold fitted on the other folds
    (folds kept whole by report, ``fold_of``)."""
    from rag.answer.candidates import with_its_sentence

    fold = [fold_of(ex, folds) for ex in examples]
    rows = []
    for k in range(folds):
        fit_on = [ex for ex, f in zip(examples, fold) if f != k]
        held = [ex for ex, f in zip(examples, fold) if f == k]
        span, gate, threshold, _ = outcomes(fit_on, c, max_false_refusal, kind)
        for features, right, ex in gate_rows(held, span):
            best = max(ex.facts, key=lambda f: f.score)
            asked = Asked(ex.qid, ex.kind, ex.lang, ex.corpus, ex.answerable, ex.focus.read_question)
            rows.append(HeldOut(k, gate.probability(features), threshold, right, asked, with_its_sentence(best.span)))
    return rows


def cross_validate(examples, candidates: list[tuple[str, float]], max_false_refusal: float, folds: int = 5, held_out: dict | None = None) -> dict[tuple[str, float], tuple[float, float]]:
    """(share of right outcomes, share of answerable questions refused) on held-out folds of the TRAIN
    questions, for each (model kinds, inverse L2 strength) candidate (the strength counts for linear models
    only). ``held_out``, when given, receives each candidate's out-of-fold rows."""
    out = {}
    for kind, c in candidates:
        right = refused = answerable = 0
        rows = out_of_fold(examples, kind, c, max_false_refusal, folds)
        if held_out is not None:
            held_out[(kind, c)] = rows
        for row in rows:
            answered = row.probability >= row.threshold
            ex = row.example
            right += right_outcome(answered, ex.answerable, row.right)
            answerable += ex.answerable
            refused += ex.answerable and not answered
        out[(kind, c)] = (right / max(1, len(rows)), refused / max(1, answerable))
    return out


def choose_model(cv: dict[tuple[str, float], tuple[float, float]], n: int) -> tuple[str, float]:
    """The simplest candidate (``MODEL_KINDS`` in order, then the strongest regularisation) whose right outcomes
    are within one standard error of the best (the one-standard-error rule: a difference CV cannot tell from
    noise buys no complexity), among those that refuse no more answerable questions than the best all-linear
    one (a model that buys refused unanswerable questions with refused answerable ones has moved errors, not
    removed them). ``n``: questions cross-validated."""
    linear = [key for key in cv if key[0] == "linear/linear"]
    ceiling = cv[max(linear, key=lambda k: cv[k][0])][1] if linear else 1.0
    allowed = [key for key in cv if cv[key][1] <= ceiling] or list(cv)
    best = max(cv[key][0] for key in allowed)
    error = math.sqrt(best * (1 - best) / max(1, n))
    simplest = sorted(allowed, key=lambda k: (MODEL_KINDS.index(k[0]), k[1]))
    return next(key for key in simplest if cv[key][0] >= best - error)


def name(kind: str, c: float) -> str:
    return kind + (f" C={c:g}" if "linear" in kind else "")


def gate_rows(examples, model_span):
    """Question-level gate features with the fitted span scorer: (features, best-span-is-right, example)."""
    from rag.answer.features import gate_features

    out = []
    for ex in examples:
        if not ex.facts:
            continue
        for f, score in zip(ex.facts, model_span.logits([f.features for f in ex.facts])):
            f.score = score
        order = sorted(range(len(ex.facts)), key=lambda i: -ex.facts[i].score)
        best = ex.facts[order[0]]
        feats = gate_features(ex.focus, best, ex.facts, best.score, ex.gap)
        out.append((feats, bool(ex.labels[order[0]]), ex))
    return out


def choose_threshold(scored: list[tuple[float, bool, bool, str]], max_false_refusal: float, candidates=None) -> float:
    """The threshold with the most right outcomes on train — an answerable question answered from a right
    span, an unanswerable one refused — among those refusing at most ``max_false_refusal`` of the
    answerable questions whose best span is right, in every corpus (a corpus of easy questions must not buy
    refusals in another). ``scored``: (probability, answerable, best span right, corpus); ``candidates``: the
    thresholds to try (default: every probability, and 0.5)."""
    right_answerable: dict[str, list[float]] = {}
    for p, answerable, right, corpus in scored:
        if answerable and right:
            right_answerable.setdefault(corpus, []).append(p)
    candidates = sorted(set(candidates) if candidates is not None else {p for p, *_ in scored} | {0.5})
    best_t, best_score = 0.5, -1
    for t in candidates:
        if any(sum(p < t for p in ps) > max_false_refusal * len(ps) for ps in right_answerable.values()):
            continue
        score = sum(right_outcome(p >= t, answerable, right) for p, answerable, right, _ in scored)
        if score > best_score:
            best_t, best_score = t, score
    return best_t


def plot(rows, model, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    probs = np.array([model.gate.probability(f) for f, _, _ in rows])
    answerable = np.array([ex.answerable for _, _, ex in rows])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.linspace(0, 1, 21)
    a.hist(probs[answerable], bins=bins, alpha=0.6, label=f"answerable ({answerable.sum()})")
    a.hist(probs[~answerable], bins=bins, alpha=0.6, label=f"not in the reports ({(~answerable).sum()})")
    a.axvline(model.threshold, color="k", ls="--", label=f"threshold {model.threshold:.2f}")
    a.set_xlabel("gate probability (answered)")
    a.set_ylabel("questions")
    a.legend()
    a.set_title(title)
    edges = np.linspace(0, 1, 6)
    xs, ys, ns = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (probs >= lo) & (probs < hi if hi < 1 else probs <= hi)
        if sel.any():
            xs.append(probs[sel].mean())
            ys.append(answerable[sel].mean())
            ns.append(int(sel.sum()))
    b.plot([0, 1], [0, 1], "k:", label="perfect calibration")
    b.plot(xs, ys, "o-", label="gate")
    for x, y, n in zip(xs, ys, ns):
        b.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
    b.set_xlabel("mean gate probability (bin)")
    b.set_ylabel("share answerable")
    b.set_title("reliability (questions per bin)")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def examples_for(banks: list[Path], settings):
    from rag.answer.training import run_example
    from rag.evaluate import load_questions

    questions = [q for bank in banks for q in load_questions(bank) if q.kind != "multi"]
    runners = assistants(settings, {q.corpus or "seed" for q in questions})
    cache: dict = {}
    examples = []
    for i, q in enumerate(questions, 1):
        assistant = runners.get(q.corpus or "seed")
        if assistant is not None:
            examples.append(run_example(assistant, q, cache))
        if i % 50 == 0:
            print(f"  {i}/{len(questions)} questions", file=sys.stderr)
    return examples


def main(argv: list[str] | None = None) -> None:
    from rag.answer.model import ReaderModel
    from rag.config import load_settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bank", action="append", help="a TRAIN question file (repeatable; default: " + ", ".join(str(t.relative_to(ROOT)) for t in TRAIN_SETS) + ")")
    p.add_argument("--out", default=str(ROOT / "rag" / "answer" / "reader_model.json"))
    p.add_argument("--plot", default=str(ROOT / "docs" / "gate_train.png"))
    p.add_argument("--held-out", default=str(HELD_OUT), help="where the chosen model's out-of-fold rows go (scripts/fit_verifier.py reads them)")
    p.add_argument("--max-false-refusal", type=float, default=0.10, help="of answerable questions whose best span is right")
    p.add_argument("--c", default="0.1,0.3,1,3", help="inverse L2 strengths of a linear model to choose from by 5-fold CV on train")
    p.add_argument("--model", default="auto", help="span scorer / gate kinds to choose from by 5-fold CV on train, comma-separated (auto: " + ", ".join(MODEL_KINDS) + ")")
    args = p.parse_args(argv)
    settings = load_settings()
    banks = [Path(b) for b in args.bank] if args.bank else TRAIN_SETS
    missing = [b for b in banks if not b.exists()]
    if missing:
        sys.exit(f"missing question file(s): {', '.join(map(str, missing))} (the NCP halves: python scripts/split_bank.py "
                 "--out var/ncp --name ncp --corpus ncp ../shared/eval/ncp/dev.jsonl)")
    examples = examples_for(banks, settings)

    kinds = MODEL_KINDS if args.model == "auto" else tuple(args.model.split(","))
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown:
        sys.exit(f"unknown model kind(s): {', '.join(unknown)} (choose from {', '.join(MODEL_KINDS)})")
    cs = [float(c) for c in args.c.split(",")]
    candidates = [(k, c) for k in kinds for c in (cs if "linear" in k else [0.0])]
    held_out: dict = {}
    cv = cross_validate(examples, candidates, args.max_false_refusal, held_out=held_out)
    kind, c = choose_model(cv, len(examples))
    print("5-fold CV on train, right outcomes (false refusals): " + ", ".join(f"{name(k, c)}: {r:.3f} ({fr:.3f})" for (k, c), (r, fr) in cv.items()), file=sys.stderr)
    print("5-fold CV on train, answerable questions whose best span is right: " + ", ".join(
        f"{name(k, c)}: {sum(r.right for r in rows if r.example.answerable) / max(1, sum(r.example.answerable for r in rows)):.3f}"
        for (k, c), rows in held_out.items()), file=sys.stderr)
    span, gate, threshold, rows = outcomes(examples, c, args.max_false_refusal, kind)
    n_spans = len(span_rows(examples)[0])
    best_right = sum(right for _, right, ex in rows if ex.answerable)
    n_answerable = sum(ex.answerable for _, _, ex in rows)
    refused_neg = sum(gate.probability(f) < threshold for f, _, ex in rows if not ex.answerable)
    n_neg = sum(not ex.answerable for _, _, ex in rows)
    best_is_right = {id(ex): right for _, right, ex in rows}
    by_kind: dict[str, list[int]] = {}  # kind/language: answerable questions, a right span among them, best right
    for ex in examples:
        if ex.answerable:
            tally = by_kind.setdefault(f"{ex.kind}/{ex.lang}", [0, 0, 0])
            tally[0] += 1
            tally[1] += any(ex.labels)
            tally[2] += best_is_right.get(id(ex), False)
    meta = {
        "fitted_on": [b.name for b in banks],
        "date": dt.date.today().isoformat(),
        "questions": len(rows),
        "spans": n_spans,
        "model": kind,
        **({"trees": TREES} if "trees" in kind else {}),
        **({"c": c} if "linear" in kind else {}),
        "cv_right_outcomes": {name(k, c): round(r, 3) for (k, c), (r, _) in cv.items()},
        "cv_false_refusals": {name(k, c): round(fr, 3) for (k, c), (_, fr) in cv.items()},
        "max_false_refusal": args.max_false_refusal,
        # of the answerable questions, those with a right span among the candidates (what the span scorer can
        # reach) and those whose best span is right (what it reaches, in sample)
        "train_some_span_right": round(sum(some for _, some, _ in by_kind.values()) / max(1, sum(n for n, _, _ in by_kind.values())), 3),
        "train_best_span_right": round(best_right / max(1, n_answerable), 3),
        "train_unanswerable_refused": round(refused_neg / max(1, n_neg), 3),
    }
    print("answerable train questions, by kind/language: questions, a right span among the candidates, the best span right (in sample): "
          + ", ".join(f"{k} {n} {some / n:.2f} {best / n:.2f}" for k, (n, some, best) in sorted(by_kind.items())), file=sys.stderr)
    model = ReaderModel(span, gate, round(threshold, 4), meta)
    model.save(args.out)
    write_held_out(held_out[(kind, c)], model_key(model, banks), Path(args.held_out))
    plot(rows, model, Path(args.plot), "gate on the train split")
    print(json.dumps(meta, ensure_ascii=False))


if __name__ == "__main__":
    main()
