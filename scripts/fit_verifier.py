"""Fit how the gate combines with a language model's reading of the best span (``answer.verifier = "llm"``),
on the TRAIN split, and say by cross-validation what it buys.

In: the train question sets and corpora (as scripts/fit_reader.py), the reader model (its span scorer and gate
kinds and strength, from its ``meta``), the ``[llm]`` settings of config.toml: the model that will judge.
Out: the reader model file with ``verifier`` weights for that model (``rag.answer.model.VerifierWeights``); a
line comparing right outcomes, gate alone vs combined, on held-out folds; docs/verifier_train.png (the score
distributions of answerable and unanswerable train questions, gate alone and combined, with their thresholds).
Nothing here reads the test split.

    .venv/bin/python scripts/fit_verifier.py --set llm.backend=llamacpp --set llm.model_path=PATH.gguf

1. Out-of-fold gate rows: with folds kept whole by report (``fit_reader.fold_of``), a span scorer and gate
   fitted on the other folds give each question its best span and gate probability, as on an unseen report
   (a gate that saw the question would be more sure of it than it will be of a new one).
2. The model judges each best span (``verify.Verifier.judge``: about 1.5 s each for a 1.5B local model on 2
   cores). Judgements are kept in a JSON Lines cache keyed by model, question and span, so a refit asks again
   only for what changed.
3. Logistic regression on (logit of the gate probability, judgement clipped to the ``RANGE`` percentiles of
   the train judgements): answerable
   questions whose best span is right (1) against unanswerable ones (0), on the corpora that have both; the
   threshold by ``fit_reader.choose_threshold`` (most right outcomes, false refusals bounded in each corpus).
4. The same fit and threshold inside the folds, scored on the held-out fold: the cross-validated figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_reader  # noqa: E402

ROOT = fit_reader.ROOT
RANGE = (1, 99)  # percentiles of the train judgements kept: beyond them a judgement counts as the bound
CACHE = ROOT / "var" / "verifier_judgements.jsonl"


def out_of_fold_rows(examples, kind: str, c: float, max_false_refusal: float, folds: int = 5):
    """(gate probability, best span right, example, best span text, fold) per question, each from the span
    scorer and gate fitted without its fold."""
    fold = [fit_reader.fold_of(ex, folds) for ex in examples]
    rows = []
    for k in range(folds):
        fit_on = [ex for ex, f in zip(examples, fold) if f != k]
        held = [ex for ex, f in zip(examples, fold) if f == k]
        span, gate, _, _ = fit_reader.outcomes(fit_on, c, max_false_refusal, kind)
        for features, right, ex in fit_reader.gate_rows(held, span):
            best = max(ex.facts, key=lambda f: f.score)
            rows.append((gate.probability(features), right, ex, best.span.text, k))
    return rows


def cache_key(identity: str, question: str, passage: str) -> str:
    from rag.answer.verify import messages

    return hashlib.sha1(json.dumps([identity, messages(question, passage)], ensure_ascii=False).encode("utf-8")).hexdigest()


def judge_all(verifier, pairs: list[tuple[str, str]], cache_path: Path) -> list[float]:
    """The verifier's judgement of each (question, passage), from the cache when it holds one."""
    cache: dict[str, float] = {}
    if cache_path.exists():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            cache[record["key"]] = record["judgement"]
    keys = [cache_key(verifier.identity, q, p) for q, p in pairs]
    todo = [i for i, key in enumerate(keys) if key not in cache]
    print(f"{len(pairs) - len(todo)} judgements cached, {len(todo)} to ask", file=sys.stderr)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with cache_path.open("a", encoding="utf-8") as out:
        for n, i in enumerate(todo, 1):
            cache[keys[i]] = verifier.judge(*pairs[i])
            out.write(json.dumps({"key": keys[i], "judgement": cache[keys[i]]}) + "\n")
            out.flush()
            if n % 50 == 0:
                print(f"  {n}/{len(todo)} judged", file=sys.stderr)
    return [cache[key] for key in keys]


def fit_combination(rows, judgements: list[float], identity: str, max_false_refusal: float):
    """``VerifierWeights`` from out-of-fold rows and their judgements."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from rag.answer.model import VerifierWeights, logit

    with_negatives = {ex.corpus for _, _, ex, _, _ in rows if not ex.answerable}
    low, high = (float(v) for v in np.percentile(judgements, RANGE))
    train = [
        (p, j, ex.answerable) for (p, right, ex, _, _), j in zip(rows, judgements)
        if ex.corpus in with_negatives and (right or not ex.answerable)
    ]
    x = np.array([[logit(p), max(low, min(high, j))] for p, j, _ in train])
    y = np.array([int(a) for _, _, a in train])
    fitted = LogisticRegression(C=1.0, class_weight="balanced").fit(x, y)
    weights = VerifierWeights(identity, float(fitted.coef_[0][0]), float(fitted.coef_[0][1]), float(fitted.intercept_[0]), 0.5, low, high)
    scored = [(weights.probability(p, j), ex.answerable, right, ex.corpus) for (p, right, ex, _, _), j in zip(rows, judgements)]
    threshold = fit_reader.choose_threshold(scored, max_false_refusal)
    return dataclasses.replace(weights, threshold=round(threshold, 4))


def cross_validate(rows, judgements, identity: str, max_false_refusal: float, folds: int = 5) -> dict[str, float]:
    """Right outcomes and false refusals on held-out folds: the gate alone (its out-of-fold probability
    against the threshold fitted without the fold) and combined."""
    tally = {"gate": [0, 0], "combined": [0, 0]}
    answerable = 0
    n = 0
    for k in range(folds):
        inside = [(r, j) for r, j in zip(rows, judgements) if r[4] != k]
        held = [(r, j) for r, j in zip(rows, judgements) if r[4] == k]
        if not inside or not held:
            continue
        weights = fit_combination([r for r, _ in inside], [j for _, j in inside], identity, max_false_refusal)
        gate_threshold = fit_reader.choose_threshold([(r[0], r[2].answerable, r[1], r[2].corpus) for r, _ in inside], max_false_refusal)
        for (p, right, ex, _, _), j in held:
            n += 1
            answerable += ex.answerable
            for name, answered in (("gate", p >= gate_threshold), ("combined", weights.probability(p, j) >= weights.threshold)):
                tally[name][0] += (answered and ex.answerable and right) or (not answered and not ex.answerable)
                tally[name][1] += ex.answerable and not answered
    return {f"{name}_{what}": round(v[i] / max(1, d), 3) for name, v in tally.items() for i, (what, d) in enumerate((("right", n), ("false_refusals", answerable)))}


def plot(rows, judgements: list[float], weights, max_false_refusal: float, path: Path) -> None:
    """Out-of-fold train questions: the gate's probability alone and combined with the judgement, answerable
    against not in the reports, with each threshold; and the judgements by outcome."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    gate = np.array([p for p, *_ in rows])
    combined = np.array([weights.probability(p, j) for (p, *_), j in zip(rows, judgements)])
    answerable = np.array([ex.answerable for _, _, ex, _, _ in rows])
    right = np.array([r for _, r, _, _, _ in rows])
    gate_threshold = fit_reader.choose_threshold([(p, ex.answerable, r, ex.corpus) for p, r, ex, _, _ in rows], max_false_refusal)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    bins = np.linspace(0, 1, 21)
    for ax, probs, t, name in ((axes[0], gate, gate_threshold, "gate alone"), (axes[1], combined, weights.threshold, "gate + verifier")):
        ax.hist(probs[answerable], bins=bins, alpha=0.6, label=f"answerable ({answerable.sum()})")
        ax.hist(probs[~answerable], bins=bins, alpha=0.6, label=f"not in the reports ({(~answerable).sum()})")
        ax.axvline(t, color="k", ls="--", label=f"threshold {t:.2f}")
        ax.set_xlabel(f"{name}: probability answered (out of fold)")
        ax.set_ylabel("train questions")
        ax.legend()
    j = np.array(judgements)
    jbins = np.linspace(np.percentile(j, 0.5), np.percentile(j, 99.5), 25)
    for sel, label in ((answerable & right, "answerable, best span right"), (answerable & ~right, "answerable, best span wrong"), (~answerable, "not in the reports")):
        axes[2].hist(j[sel], bins=jbins, alpha=0.5, label=f"{label} ({sel.sum()})")
    axes[2].set_xlabel("judgement: logit of yes minus no")
    axes[2].set_title(weights.identity, fontsize=9)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    from rag.answer.model import ReaderModel, load_model
    from rag.answer.verify import make_verifier
    from rag.config import load_settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bank", action="append", help="a TRAIN question file (repeatable; default: as scripts/fit_reader.py)")
    p.add_argument("--model-file", default=str(ROOT / "rag" / "answer" / "reader_model.json"), help="the reader model to add the weights to")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config.toml setting (llm.backend=llamacpp …)")
    p.add_argument("--cache", default=str(CACHE))
    p.add_argument("--plot", default=str(ROOT / "docs" / "verifier_train.png"))
    args = p.parse_args(argv)
    overrides = dict(item.partition("=")[::2] for item in args.set)
    settings = load_settings(overrides=overrides)
    reader = load_model(args.model_file)
    kind, c = reader.meta.get("model", "linear/linear"), float(reader.meta.get("c", 0.1))
    max_false_refusal = float(reader.meta.get("max_false_refusal", 0.1))
    verifier = make_verifier(settings.llm)
    banks = [Path(b) for b in args.bank] if args.bank else fit_reader.TRAIN_SETS
    examples = fit_reader.examples_for(banks, settings)
    rows = out_of_fold_rows(examples, kind, c, max_false_refusal)
    judgements = judge_all(verifier, [(ex.focus.question, text) for _, _, ex, text, _ in rows], Path(args.cache))
    cv = cross_validate(rows, judgements, verifier.identity, max_false_refusal)
    weights = fit_combination(rows, judgements, verifier.identity, max_false_refusal)
    meta = {**reader.meta, "verifier_cv": cv, "verifier_questions": len(rows)}
    ReaderModel(reader.span, reader.gate, reader.threshold, meta, weights).save(args.model_file)
    plot(rows, judgements, weights, max_false_refusal, Path(args.plot))
    print(json.dumps({"verifier": weights.to_json(), "cv": cv}, ensure_ascii=False))


if __name__ == "__main__":
    main()
