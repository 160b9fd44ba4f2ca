"""The kinds of model the fitting scripts fit, over named features, exported as the reader's own scorers
(``rag.answer.model``: ``Linear``, ``Trees``) so that answering needs neither scikit-learn nor SciPy.

In: feature rows (dicts of named floats) and 0/1 labels — for a listwise span scorer, grouped by question. Out: a
scorer. ``MODEL_KINDS`` names the (span scorer / gate) pairs scripts/fit_reader.py chooses among by
cross-validation.
"""

from __future__ import annotations


def standardised(rows: list[dict[str, float]], names: tuple[str, ...]):
    """(rows as a matrix of standardised features, their means, their standard deviations — 1 where a feature
    never varies), so a penalty treats every feature alike, whatever its scale."""
    import numpy as np

    x = np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    return (x - mean) / std, mean, std


def fit_logistic(rows: list[dict[str, float]], labels: list[int], names: tuple[str, ...], c: float, balanced: bool = True):
    """L2 logistic regression on standardised features, returned as weights on the raw features (so the
    penalty treats every feature alike, whatever its scale)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from rag.answer.model import Linear

    x, mean, std = standardised(rows, names)
    model = LogisticRegression(C=c, class_weight="balanced" if balanced else None, max_iter=5000)
    model.fit(x, np.array(labels))
    w = model.coef_[0] / std
    bias = float(model.intercept_[0] - (w * mean).sum())
    return Linear(round(bias, 4), {n: round(float(v), 4) for n, v in zip(names, w)})


# Gradient-boosted trees: the best of five settings by 5-fold CV on the train split, then with folds cut by
# question (EVALUATION.md, session 12): shallow trees, a small learning rate, leaves of at least 20 rows; classes
# balanced as for the linear models.
TREES = {"max_depth": 3, "max_iter": 200, "learning_rate": 0.05, "min_samples_leaf": 20, "l2_regularization": 1.0}


def fit_trees(rows: list[dict[str, float]], labels: list[int], names: tuple[str, ...], balanced: bool = True):
    """Gradient-boosted trees (scikit-learn's histogram GBDT), exported as plain node lists (``model.Trees``)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from rag.answer.model import Trees

    x = np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=np.float64)
    model = HistGradientBoostingClassifier(**TREES, class_weight="balanced" if balanced else None, random_state=0)
    model.fit(x, np.array(labels))
    trees = []
    for (predictor,) in model._predictors:
        trees.append(tuple(
            (-1 if n["is_leaf"] else int(n["feature_idx"]), float(n["num_threshold"]), int(n["left"]), int(n["right"]), float(n["value"]))
            for n in predictor.nodes
        ))
    return Trees(tuple(names), float(np.ravel(model._baseline_prediction)[0]), tuple(trees))


def fit_listwise(groups: list[tuple[list[dict[str, float]], list[int]]], names: tuple[str, ...], c: float):
    """A linear span scorer fitted to pick each question's right span among its own candidates: the conditional
    logit (a softmax over one question's spans, the likelihood of its right ones), with inverse L2 strength ``c``
    on standardised features. A logistic regression over all spans pooled learns what a right span looks like
    in general; this learns what makes it beat its rivals, which is what the reader does with it. In:
    (feature rows, 0/1 labels) per question, each with a right span. Out: ``Linear`` on the raw features,
    its bias only centring the scores (a softmax over one question's spans cannot tell a bias)."""
    import numpy as np
    from scipy.optimize import minimize

    from rag.answer.model import Linear

    x, mean, std = standardised([r for rows, _ in groups for r in rows], names)
    right = np.array([y for _, labels in groups for y in labels], dtype=bool)
    starts = np.cumsum([0] + [len(rows) for rows, _ in groups])
    group = np.repeat(np.arange(len(groups)), np.diff(starts))
    firsts = starts[:-1]

    def group_logsumexp(s):
        top = np.maximum.reduceat(s, firsts)
        return top + np.log(np.add.reduceat(np.exp(s - top[group]), firsts))

    def loss(w):
        s = x @ w
        all_ = group_logsumexp(s)
        good = group_logsumexp(np.where(right, s, -np.inf))
        p_all = np.exp(s - all_[group])
        p_good = np.where(right, np.exp(s - good[group]), 0.0)
        grad = x.T @ (p_all - p_good)
        return c * float((all_ - good).sum()) + 0.5 * float(w @ w), c * grad + w

    w = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B").x / std
    return Linear(round(float(-(w * mean).sum()), 4), {n: round(float(v), 4) for n, v in zip(names, w)})


# span scorer / gate; "listwise": the span scorer picks a question's span among its rivals (``fit_listwise``)
MODEL_KINDS = ("linear/linear", "listwise/linear", "trees/linear", "trees/trees")


def fit_scorer(rows, labels, names, kind: str, c: float):
    """``kind`` "linear" (logistic regression with inverse L2 strength ``c``) or "trees"."""
    return fit_trees(rows, labels, names) if kind == "trees" else fit_logistic(rows, labels, names, c)


def fit_span_scorer(examples, names, kind: str, c: float):
    """The span scorer of ``kind`` ("linear", "listwise" or "trees"), on the answerable questions with a right
    span among their candidates."""
    if kind == "listwise":
        groups = [([f.features for f in ex.facts], list(ex.labels)) for ex in examples if ex.answerable and any(ex.labels)]
        return fit_listwise(groups, names, c)
    return fit_scorer(*span_rows(examples), names, kind, c)


def span_rows(examples):
    rows, labels = [], []
    for ex in examples:
        if ex.answerable and any(ex.labels):
            for f, y in zip(ex.facts, ex.labels):
                rows.append(f.features)
                labels.append(y)
    return rows, labels
