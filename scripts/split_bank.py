"""Assemble the question bank from its authors' files and split it into train and test BY REPORT.

In: the authors' JSON Lines files (QA format of ../shared/README.md plus lang, corpus, about, tags, neg).
Out: data/questions/bank_train.jsonl and bank_test.jsonl.

The split is fixed before any tuning and does not depend on results: a question goes to the split of the report
it is about (``about``, else its first doc): test when the first 8 hex digits of sha1(report file name) are
odd. Questions about no single report (a place no report covers, a question over several reports) are split the
same way by their id. Adding questions later never moves an existing one.

    python scripts/split_bank.py /path/to/s1.jsonl /path/to/g1.jsonl ...

The same rule splits any question set in the QA format, e.g. the NCP dev set (evaluation data that must not
be shipped, so its halves go under var/):

    python scripts/split_bank.py --out var/ncp --name ncp --corpus ncp ../shared/eval/ncp/dev.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.evaluate.questions import report_group  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "data" / "questions"


def split_of(question: dict) -> str:
    key = report_group(question.get("about") or "", question.get("docs") or [], question["kind"], question["id"])
    return "test" if int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 2 else "train"


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--out", default=str(OUT), help="folder for <name>_train.jsonl and <name>_test.jsonl")
    p.add_argument("--name", default="bank")
    p.add_argument("--corpus", help="corpus name for questions that do not give one (as in fit_reader's CORPORA)")
    args = p.parse_args(argv)
    paths, out = args.files, Path(args.out)
    rows = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if args.corpus and not row.get("corpus"):
                    row["corpus"] = args.corpus
                rows.append(row)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "question ids must be unique"
    by_split: dict[str, list[dict]] = {"train": [], "test": []}
    for r in rows:
        by_split[split_of(r)].append(r)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in by_split.items():
        with (out / f"{args.name}_{name}.jsonl").open("w", encoding="utf-8") as f:
            for r in sorted(part, key=lambda r: r["id"]):
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        kinds: dict[str, int] = {}
        for r in part:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        en = sum(r.get("lang") == "en" for r in part)
        print(f"{name}: {len(part)} questions, {en} English, {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main(sys.argv[1:])
