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
   (a gate that saw the question would be more sure of it than it will be of a new one). scripts/fit_reader.py
   writes them (``--held-out``) for the model it fits; they are computed again only when that file is missing
   or was written for another model or other question files.
2. The model judges each best span, read in its sentence as the gate gives it (``verify.Verifier.judge``,
   ``candidates.with_its_sentence``: about 1.5 s each for a 1.5B local model on 2
   cores). Judgements are kept in a JSON Lines cache keyed by model, question and span, so a refit asks again
   only for what changed.
3. Logistic regression on (logit of the gate probability, judgement clipped to the ``RANGE`` percentiles of
   the train judgements): answerable
   questions whose best span is right (1) against unanswerable ones (0), on the corpora that have both; the
   threshold by ``fit_reader.choose_threshold`` (most right outcomes, false refusals bounded in each corpus).
4. The same fit and threshold inside the folds, scored on the held-out fold: the cross-validated figure.
5. Asking costs ~1.3 s a question, and most questions are not in doubt: the model is asked only for the share
   of questions whose gate probability lies nearest the gate's threshold (the others keep the gate's
   decision). Steps 3–4 run for each share in ``SHARES``; the smallest share within one standard error of the
   best is kept, among shares up to ``MAX_SHARE`` (the latency budget) that refuse no more answerable
   questions than the gate alone (``choose_share``); it is stored as the band of gate probabilities in which
   the model is asked.
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


def doubt(row) -> float:
    """How far a question's gate probability lies from the gate's threshold, in log-odds."""
    from rag.answer.model import logit

    return abs(logit(row.probability) - logit(row.threshold))


def fit_combination(rows, judgements: list[float], identity: str, max_false_refusal: float, share: float = 1.0):
    """(``VerifierWeights`` without their band, band half-width in log-odds around the gate's threshold) from
    out-of-fold rows and their judgements; the model is asked for the ``share`` of questions nearest the
    gate's threshold, the others keep the gate's decision (half-width None: every question may be asked)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from rag.answer.model import VerifierWeights, logit

    with_negatives = {r.example.corpus for r in rows if not r.example.answerable}
    low, high = (float(v) for v in np.percentile(judgements, RANGE))
    train = [
        (r.probability, j, r.example.answerable) for r, j in zip(rows, judgements)
        if r.example.corpus in with_negatives and (r.right or not r.example.answerable)
    ]
    x = np.array([[logit(p), max(low, min(high, j))] for p, j, _ in train])
    y = np.array([int(a) for _, _, a in train])
    fitted = LogisticRegression(C=1.0, class_weight="balanced").fit(x, y)
    weights = VerifierWeights(identity, float(fitted.coef_[0][0]), float(fitted.coef_[0][1]), float(fitted.intercept_[0]), 0.5, low, high)
    width = float(np.quantile([doubt(r) for r in rows], share)) if share < 1.0 else None
    scored = [(probability(weights, width, r, j), r.example.answerable, r.right, r.example.corpus) for r, j in zip(rows, judgements)]
    # thresholds among the asked questions' probabilities: the others' outcomes are fixed whatever it is
    candidates = {p for (p, *_), r in zip(scored, rows) if asked(width, r)} | {0.5}
    threshold = fit_reader.choose_threshold(scored, max_false_refusal, candidates)
    return dataclasses.replace(weights, threshold=round(threshold, 4)), width


def asked(width: float | None, row) -> bool:
    return width is None or doubt(row) <= width


def probability(weights, width: float | None, row, judgement: float) -> float:
    """The combined probability of a question the model is asked about; for one outside the band, 2 or -1 (the
    gate's decision: above or below any threshold in [0, 1])."""
    if asked(width, row):
        return weights.probability(row.probability, judgement)
    return 2.0 if row.probability >= row.threshold else -1.0


def band(width: float | None, gate_threshold: float) -> tuple[float, float] | None:
    """The gate probabilities between which the model is asked, around the shipped gate's threshold."""
    from rag.answer.model import sigmoid, logit

    if width is None:
        return None
    return (round(sigmoid(logit(gate_threshold) - width), 4), round(sigmoid(logit(gate_threshold) + width), 4))


def cross_validate(rows, judgements, identity: str, max_false_refusal: float, share: float = 1.0, folds: int = 5) -> dict[str, float]:
    """Right outcomes and false refusals on held-out folds, the gate alone (its out-of-fold probability against
    the threshold fitted without the fold) and combined, and the share of questions the model was asked."""
    tally = {"gate": [0, 0], "combined": [0, 0]}
    answerable = n = n_asked = 0
    for k in range(folds):
        inside = [(r, j) for r, j in zip(rows, judgements) if r.fold != k]
        held = [(r, j) for r, j in zip(rows, judgements) if r.fold == k]
        if not inside or not held:
            continue
        weights, width = fit_combination([r for r, _ in inside], [j for _, j in inside], identity, max_false_refusal, share)
        for r, j in held:
            n += 1
            n_asked += asked(width, r)
            answerable += r.example.answerable
            for name, answered in (("gate", r.probability >= r.threshold), ("combined", probability(weights, width, r, j) >= weights.threshold)):
                tally[name][0] += fit_reader.right_outcome(answered, r.example.answerable, r.right)
                tally[name][1] += r.example.answerable and not answered
    out = {f"{name}_{what}": round(v[i] / max(1, d), 3) for name, v in tally.items() for i, (what, d) in enumerate((("right", n), ("false_refusals", answerable)))}
    return {**out, "asked": round(n_asked / max(1, n), 3)}


def choose_share(curve: dict[float, dict[str, float]], n: int, n_answerable: int, max_share: float) -> float:
    """The smallest share of questions asked whose right outcomes are within one standard error of the best
    share's (asking costs ~1.3 s a question; a gain CV cannot tell from noise is not worth it), among shares of
    at most ``max_share`` that refuse no more answerable questions than the gate alone, give or take one
    standard error (a share that buys right outcomes with false refusals has moved errors, not removed them)."""
    import math

    def error(share: float, count: int) -> float:
        return math.sqrt(share * (1 - share) / max(1, count))

    allowed = [
        s for s, cv in curve.items()
        if s <= max_share and cv["combined_false_refusals"] <= cv["gate_false_refusals"] + error(cv["gate_false_refusals"], n_answerable)
    ] or [min(curve)]
    best = max(curve[s]["combined_right"] for s in allowed)
    return min(s for s in allowed if curve[s]["combined_right"] >= best - error(best, n))


def plot(rows, judgements: list[float], weights, width: float | None, curve: dict[float, dict[str, float]], share: float, max_false_refusal: float, path: Path) -> None:
    """Out-of-fold train questions: the gate's probability alone and combined with the judgement (questions
    outside the band keep the gate's), answerable against not in the reports, with each threshold; the
    judgements by outcome; cross-validated right outcomes and false refusals by the share of questions asked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    gate = np.array([r.probability for r in rows])
    combined = np.clip([probability(weights, width, r, j) for r, j in zip(rows, judgements)], 0.0, 1.0)
    answerable = np.array([r.example.answerable for r in rows])
    right = np.array([r.right for r in rows])
    gate_threshold = fit_reader.choose_threshold([(r.probability, r.example.answerable, r.right, r.example.corpus) for r in rows], max_false_refusal)
    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    bins = np.linspace(0, 1, 21)
    for ax, probs, t, name in ((axes[0], gate, gate_threshold, "gate alone"), (axes[1], combined, weights.threshold, f"with the verifier ({share:.0%} asked; others at 0 or 1)")):
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
    shares = sorted(curve)
    axes[3].plot(shares, [curve[s]["combined_right"] for s in shares], "o-", label="right outcomes, combined")
    axes[3].plot(shares, [curve[s]["gate_right"] for s in shares], "--", label="right outcomes, gate alone")
    axes[3].plot(shares, [curve[s]["combined_false_refusals"] for s in shares], "s-", label="false refusals, combined")
    axes[3].plot(shares, [curve[s]["gate_false_refusals"] for s in shares], ":", label="false refusals, gate alone")
    axes[3].axvline(share, color="k", ls="--", label=f"chosen: {share:.0%} asked")
    axes[3].set_xlabel("share of questions asked (nearest the gate's threshold)")
    axes[3].set_ylabel("grouped 5-fold CV, train")
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
# the warm ask() p50 of 50 ms: the median question must be answered without the model (~1.3 s)
MAX_SHARE = 0.5


def main(argv: list[str] | None = None) -> None:
    from rag.answer.model import ReaderModel, load_model
    from rag.answer.verify import make_verifier
    from rag.config import load_settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bank", action="append", help="a TRAIN question file (repeatable; default: as scripts/fit_reader.py)")
    p.add_argument("--model-file", default=str(ROOT / "rag" / "answer" / "reader_model.json"), help="the reader model to add the weights to")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config.toml setting (llm.backend=llamacpp …)")
    p.add_argument("--share", type=float, help="the share of questions to ask the model about (default: chosen by CV, choose_share)")
    p.add_argument("--max-share", type=float, default=MAX_SHARE, help="the largest share choose_share may pick (the latency budget)")
    p.add_argument("--cache", default=str(CACHE))
    p.add_argument("--held-out", default=str(fit_reader.HELD_OUT), help="out-of-fold rows written by scripts/fit_reader.py for this model")
    p.add_argument("--plot", default=str(ROOT / "docs" / "verifier_train.png"))
    args = p.parse_args(argv)
    overrides = dict(item.partition("=")[::2] for item in args.set)
    settings = load_settings(overrides=overrides)
    reader = load_model(args.model_file)
    kind, c = reader.meta.get("model", "linear/linear"), float(reader.meta.get("c", 0.1))
    max_false_refusal = float(reader.meta.get("max_false_refusal", 0.1))
    verifier = make_verifier(settings.llm)
    banks = [Path(b) for b in args.bank] if args.bank else fit_reader.TRAIN_SETS
    rows = fit_reader.read_held_out(fit_reader.model_key(reader, banks), Path(args.held_out))
    if rows is None:  # not written by scripts/fit_reader.py for this model and these files: compute them
        rows = fit_reader.out_of_fold(fit_reader.examples_for(banks, settings), kind, c, max_false_refusal)
    else:
        print(f"{len(rows)} out-of-fold rows from {args.held_out}", file=sys.stderr)
    judgements = judge_all(verifier, [(r.example.question, r.best_text) for r in rows], Path(args.cache))
    curve = {share: cross_validate(rows, judgements, verifier.identity, max_false_refusal, share) for share in SHARES}
    for share, cv in curve.items():
        print(f"share {share:.1f}: {json.dumps(cv)}", file=sys.stderr)
    n_answerable = sum(r.example.answerable for r in rows)
    share = args.share if args.share is not None else choose_share(curve, len(rows), n_answerable, args.max_share)
    cv = curve.get(share) or cross_validate(rows, judgements, verifier.identity, max_false_refusal, share)
    weights, width = fit_combination(rows, judgements, verifier.identity, max_false_refusal, share)
    weights = dataclasses.replace(weights, band=band(width, reader.threshold))
    meta = {**reader.meta, "verifier_cv": cv, "verifier_share": share, "verifier_questions": len(rows)}
    ReaderModel(reader.span, reader.gate, reader.threshold, meta, weights).save(args.model_file)
    plot(rows, judgements, weights, width, curve, share, max_false_refusal, Path(args.plot))
    print(json.dumps({"verifier": weights.to_json(), "share": share, "cv": cv}, ensure_ascii=False))


if __name__ == "__main__":
    main()
