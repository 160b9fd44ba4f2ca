"""The segmented folder index (rag.index.writer / segment / postings): an ingest writes what changed, merges keep
the segment count bounded without embedding or tokenizing again, and whatever the history of adds, deletes and
renames, the loaded index answers as one built afresh from the same reports. Fake embedder: these tests are
about the files and the statistics, not the model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag.config import load_settings
from rag.index import current_version, load_index
from rag.ingest import ingest
from rag.text import tokenize

from conftest import REPORTS_DIR, FakeEmbedder

SETTINGS = load_settings()
QUERIES = ("低保 保障 户", "项目 建设 道路", "2022年 完成 投资")


def _by_chunk_id(store) -> dict[str, tuple]:
    """chunk id -> (chunk, vector, keyword scores of QUERIES) over the live passages."""
    ids = store.passages.live_ids()
    scores = [store.sparse.scores([(t, 1.0) for t in tokenize(q)])[ids] for q in QUERIES]
    vectors = store.vectors_for([int(i) for i in ids])
    out = {}
    for k, i in enumerate(ids):
        chunk = store.passages.chunk(int(i))
        out[chunk.chunk_id] = (chunk, vectors[k], tuple(float(s[k]) for s in scores))
    return out


def assert_same_content(a, b) -> None:
    """Two loaded indexes hold the same reports, passages, vectors and keyword scores (order aside)."""
    assert sorted((d.doc_id, d.source, d.text) for d in a.docs) == sorted((d.doc_id, d.source, d.text) for d in b.docs)
    ca, cb = _by_chunk_id(a), _by_chunk_id(b)
    assert ca.keys() == cb.keys()
    for cid, (chunk, vector, scores) in ca.items():
        assert chunk == cb[cid][0]
        np.testing.assert_array_equal(vector, cb[cid][1])
        np.testing.assert_allclose(scores, cb[cid][2], rtol=1e-5, atol=1e-6)
    for token in ("低保", "~保障", "项目"):
        assert a.doc_freq(token) == b.doc_freq(token)
    for q in QUERIES:
        query = [(t, 1.0) for t in tokenize(q)]
        ra, rb = a.report_sparse.search(query, 5), b.report_sparse.search(query, 5)
        assert [a.docs[i].doc_id for i in ra.ids] == [b.docs[i].doc_id for i in rb.ids]


def _segments(index) -> list[dict]:
    return json.loads((current_version(index) / "manifest.json").read_text(encoding="utf-8"))["segments"]


def test_adding_reports_one_by_one_merges_small_segments_and_equals_a_fresh_build(tmp_path, monkeypatch):
    import rag.index.writer as writer

    monkeypatch.setattr(writer, "MAX_SEGMENTS", 2)
    monkeypatch.setattr(writer, "MERGE_FACTOR", 2)
    reports, index = tmp_path / "reports", tmp_path / "index"
    reports.mkdir()
    embedder = FakeEmbedder()
    for path in sorted(REPORTS_DIR.glob("*.txt")):
        shutil.copy(path, reports)
        before = len(embedder.embedded)
        report = ingest(reports, index, SETTINGS, embedder)
        # each ingest embeds the new report only, merges or not
        assert report.added == [path.name] and len(embedder.embedded) - before == report.embedded_chunks
        assert len(_segments(index)) <= 2
    assert not any(p.name.startswith(".staging") for p in (index / "segments").iterdir())
    assert len(list((index / "segments").iterdir())) <= 4  # the live version's segments and the previous one's
    assert_same_content(load_index(index), load_index(_fresh(reports, tmp_path)))


def _fresh(reports, tmp_path):
    fresh = tmp_path / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    ingest(reports, fresh, SETTINGS, FakeEmbedder())
    return fresh


def test_deleting_a_report_writes_no_segment_and_its_passages_are_never_returned(tmp_path):
    reports, index = tmp_path / "reports", tmp_path / "index"
    shutil.copytree(REPORTS_DIR, reports)
    ingest(reports, index, SETTINGS, FakeEmbedder())
    segments = _segments(index)
    gone = sorted(p.name for p in reports.glob("*.txt"))[0]
    (reports / gone).unlink()
    embedder = FakeEmbedder()
    report = ingest(reports, index, SETTINGS, embedder)
    assert report.removed == [gone] and not embedder.embedded
    after = _segments(index)
    assert [s["name"] for s in after] == [s["name"] for s in segments] and after[0]["deleted"]
    store = load_index(index)
    assert gone not in {d.source for d in store.docs}
    vector = store.vectors_for([int(store.passages.live_ids()[0])])[0]
    found = store.dense.search(vector, store.dense.ntotal)
    assert len(found) == store.passages.passage_count() and all(store.passages.chunk(int(i)).source != gone for i in found.ids)
    assert_same_content(store, load_index(_fresh(reports, tmp_path)))


def test_a_segment_mostly_deleted_is_rewritten_without_its_dead_passages(tmp_path):
    reports, index = tmp_path / "reports", tmp_path / "index"
    shutil.copytree(REPORTS_DIR, reports)
    ingest(reports, index, SETTINGS, FakeEmbedder())
    for name in sorted(p.name for p in reports.glob("*.txt"))[:4]:
        (reports / name).unlink()
    embedder = FakeEmbedder()
    ingest(reports, index, SETTINGS, embedder)
    store = load_index(index)
    assert not embedder.embedded and store.dense.ntotal == store.passages.passage_count() and not _segments(index)[0]["deleted"]
    assert_same_content(store, load_index(_fresh(reports, tmp_path)))


def test_a_renamed_report_keeps_its_new_name_through_later_merges(tmp_path, monkeypatch):
    import rag.index.writer as writer

    monkeypatch.setattr(writer, "MAX_SEGMENTS", 1)
    monkeypatch.setattr(writer, "MERGE_FACTOR", 2)
    reports, index = tmp_path / "reports", tmp_path / "index"
    reports.mkdir()
    files = sorted(REPORTS_DIR.glob("*.txt"))
    shutil.copy(files[0], reports)
    ingest(reports, index, SETTINGS, FakeEmbedder())
    (reports / files[0].name).rename(reports / "改名.txt")
    ingest(reports, index, SETTINGS, FakeEmbedder())
    assert load_index(index).manifest["renamed"]
    shutil.copy(files[1], reports)
    ingest(reports, index, SETTINGS, FakeEmbedder())  # two segments -> merged into one, written with the new name
    store = load_index(index)
    assert len(_segments(index)) == 1 and not store.manifest["renamed"]
    assert "改名.txt" in {d.source for d in store.docs} and "改名.txt" in {c.source for c in store.chunks}
    assert_same_content(store, load_index(_fresh(reports, tmp_path)))


def test_an_index_in_the_first_format_is_rebuilt_from_its_own_vectors(tmp_path):
    """Upgrading must not re-embed a corpus: the old version's vectors seed the embedding cache."""
    import faiss

    reports, index = tmp_path / "reports", tmp_path / "index"
    reports.mkdir()
    for path in sorted(REPORTS_DIR.glob("*.txt"))[:2]:
        shutil.copy(path, reports)
    new = load_index(_fresh(reports, tmp_path))
    # the first format, written by hand: docs.jsonl, chunks.jsonl, dense.faiss and a v1 manifest
    version = index / "v-20250101T000000-00000000"
    version.mkdir(parents=True)
    ids = new.passages.live_ids()
    with (version / "docs.jsonl").open("w", encoding="utf-8") as fh:
        for d in new.docs:
            fh.write(json.dumps(d.record(), ensure_ascii=False) + "\n")
    with (version / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for i in ids:
            c = new.passages.chunk(int(i))
            fh.write(json.dumps({k: getattr(c, k) for k in ("chunk_id", "doc_id", "source", "title", "section", "start", "end", "text")}, ensure_ascii=False) + "\n")
    dense = faiss.IndexFlatIP(new.dim)
    dense.add(new.vectors_for([int(i) for i in ids]))
    faiss.write_index(dense, str(version / "dense.faiss"))
    old = {k: v for k, v in new.manifest.items() if k not in ("segments", "renamed", "checksum")}
    (version / "manifest.json").write_text(json.dumps({**old, "format_version": 1}), encoding="utf-8")
    (index / "CURRENT").write_text(version.name, encoding="utf-8")
    embedder = FakeEmbedder()
    report = ingest(reports, index, SETTINGS, embedder)
    assert not embedder.embedded and report.cached_chunks == len(ids) > 0
    assert_same_content(load_index(index), new)


@pytest.mark.parametrize("keep", [[True, True], [True, False], [False, True]])
def test_merged_postings_equal_postings_of_the_kept_entries(keep):
    from rag.index.postings import Postings

    a = [["低保", "户", "低保"], ["项目"], []]
    b = [["道路", "低保"], ["户", "户", "项目"]]
    keep_a, keep_b = np.array([keep[0], True, keep[1]]), np.array([True, keep[1]])
    merged = Postings.merge([(Postings.from_tokens(a), keep_a), (Postings.from_tokens(b), keep_b)])
    kept = [t for t, k in zip(a, keep_a) if k] + [t for t, k in zip(b, keep_b) if k]
    direct = Postings.from_tokens(kept)
    for token in {t for toks in kept for t in toks} | {""}:
        got, want = merged.postings_of(token), direct.postings_of(token)
        assert (got is None) == (want is None) or (got is not None and got[0].size == 0 and want is None)
        if want is not None:
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(merged.lengths, direct.lengths)


def test_a_file_as_it_was_is_not_read_again_and_a_touched_or_copied_one_is(tmp_path, monkeypatch):
    """Seeing that 68k files are unchanged must not mean reading 134 MB: name, size and mtime as at the last
    ingest are enough (git's index does the same); any change to them and the file is read."""
    import os

    import rag.load as load_module

    reports, index = tmp_path / "reports", tmp_path / "index"
    shutil.copytree(REPORTS_DIR, reports)
    ingest(reports, index, SETTINGS, FakeEmbedder())
    read: list[str] = []
    real = load_module.read_document
    monkeypatch.setattr(load_module, "read_document", lambda path, root: read.append(path.name) or real(path, root))
    names = sorted(p.name for p in reports.glob("*.txt"))
    report = ingest(reports, index, SETTINGS, FakeEmbedder())
    assert read == [] and sorted(report.unchanged) == names and not report.added and not report.removed
    touched = reports / names[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    shutil.copy(reports / names[1], reports / "副本.txt")
    report = ingest(reports, index, SETTINGS, FakeEmbedder())
    assert sorted(read) == sorted([names[0], "副本.txt"]) and names[0] in report.unchanged
    assert "same content as" in report.skipped["副本.txt"] and not report.added
    read.clear()
    (reports / names[2]).write_text((reports / names[2]).read_text(encoding="utf-8") + "\n新增：全年修路5公里。", encoding="utf-8")
    report = ingest(reports, index, SETTINGS, FakeEmbedder())
    assert names[2] in read and report.added == [names[2]]
    assert_same_content(load_index(index), load_index(_fresh(reports, tmp_path)))
