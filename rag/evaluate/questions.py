"""The question set: labelled questions, one JSON object per line.

In: a question file (id, question, answers, docs, evidence, kind; optionally lang, corpus, tags, neg -- see
README). Out: ``EvalQuestion``s, in file order; rows marked ``"review": true`` are skipped and a malformed
line raises ``RagError`` naming the file and line. ``KINDS_WITH_ANSWERS`` are the kinds scored by their gold
strings, ``ANSWERABLE`` the kinds whose answer is in the reports. Reads only the file it is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import RagError

KINDS_WITH_ANSWERS = ("number", "fact", "list", "span")
ANSWERABLE = ("number", "fact", "list", "span", "multi")


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    docs: tuple[str, ...]
    evidence: tuple[str, ...]
    kind: str
    lang: str = "zh"  # "zh" | "en": the language the question is asked in
    corpus: str = ""  # which corpus it is about (question banks over several corpora), "" = the one evaluated
    tags: tuple[str, ...] = ()  # how it is hard: paraphrase, indirect, period, list_after, masked_long, …
    neg: str = ""  # for unanswerable questions: attribute_absent | period_absent | place_absent | figure_absent
    about: str = ""  # the report file the question is about (question banks), "" when it names none

    @property
    def group(self) -> str:
        """The report a question belongs to when a set is split (``report_group``)."""
        return report_group(self.about, self.docs, self.kind, self.id)


def report_group(about: str, docs: Sequence[str], kind: str, qid: str) -> str:
    """The report a question belongs to when a question set is split — into train and test
    (``scripts/split_bank.py``) or into cross-validation folds (``scripts/fit_reader.py``): the one it is about,
    else its first gold report (not for a question over several reports), else the question itself."""
    return about or (docs[0] if docs and kind != "multi" else qid)


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a question file; a malformed line is an error naming the file and line. Questions marked
    ``"review": true`` (from rejected answers, see ``rag.feedback``) have no gold answer yet and are skipped."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row.get("review") is True:
                continue
            out.append(
                EvalQuestion(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=tuple(row.get("answers", [])),
                    docs=tuple(row.get("docs", [])),
                    evidence=tuple(row.get("evidence", [])),
                    kind=row.get("kind", "fact"),
                    lang=row.get("lang") or "zh",
                    corpus=row.get("corpus") or "",
                    tags=tuple(row.get("tags") or ()),
                    neg=row.get("neg") or "",
                    about=row.get("about") or "",
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise RagError(f"{path}:{n}: not a question record ({exc})") from exc
    return out
