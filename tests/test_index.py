"""Damaged index files: every file of a version is checksummed in the manifest and checked at load.

Each file of a built index is damaged in turn (emptied, truncated, overwritten with random bytes, deleted,
lines swapped); loading must either fail with one of the project's errors, naming the file and the fix, or
give back exactly the same index (so no answer changes silently). Uses the counting fake embedder: these
tests are about the files, not the model.
"""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest

from rag.config import load_settings
from rag.errors import IndexCorruptError, IndexMissingError, RagError
from rag.index import CURRENT_FILE, current_version, load_index, verify_index
from rag.ingest import ingest

from conftest import REPORTS_DIR, FakeEmbedder, segment_file

SETTINGS = load_settings()
DAMAGES = ("empty", "truncated", "random", "deleted", "swapped")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(reports folder, index folder, file names of the index relative to the index folder)."""
    root = tmp_path_factory.mktemp("built")
    reports = root / "reports"
    reports.mkdir()
    for name in sorted(p.name for p in REPORTS_DIR.glob("*.txt"))[:2]:
        shutil.copy(REPORTS_DIR / name, reports / name)
    index = root / "index"
    ingest(reports, index, SETTINGS, FakeEmbedder())
    version = current_version(index)
    stored = [p for folder in (version, index / "segments") for p in folder.rglob("*") if p.is_file()]
    files = [CURRENT_FILE] + sorted(p.relative_to(index).as_posix() for p in stored)
    return reports, index, files


def damage(path, how: str) -> None:
    data = path.read_bytes()
    rng = random.Random(f"{path.name}-{how}")
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(len(data))))
    elif how == "deleted":
        path.unlink()
    elif how == "swapped":
        lines = data.splitlines(keepends=True)
        if len(set(lines)) >= 2:
            i, j = 0, len(lines) - 1
            while lines[i] == lines[j]:
                j -= 1
            lines[i], lines[j] = lines[j], lines[i]
            path.write_bytes(b"".join(lines))
        else:  # one line (or a binary file without newlines): swap its halves
            half = len(data) // 2
            path.write_bytes(data[half:] + data[:half])


def same_index(a, b) -> bool:
    if a.docs != b.docs or a.chunks != b.chunks or a.manifest != b.manifest:
        return False
    rows = list(range(len(a.chunks)))
    return bool(np.array_equal(a.vectors_for(rows), b.vectors_for(rows)))


@pytest.mark.parametrize("how", DAMAGES)
def test_every_damaged_index_file_is_detected_or_harmless(built, tmp_path, how):
    reports, index, files = built
    good = load_index(index)
    for n, name in enumerate(files):
        copy = tmp_path / f"copy{n}"
        shutil.copytree(index, copy)
        damage(copy / name, how)
        try:
            store = load_index(copy)
        except (IndexCorruptError, IndexMissingError) as exc:
            message = str(exc)
            if isinstance(exc, IndexCorruptError):
                assert name.split("/")[-1] in message, (name, how, message)
                assert "rag ingest" in message and "--rebuild" in message, message
            # `rag ingest` over the damaged index says the same (no traceback, nothing overwritten) -- unless
            # only the pointer is damaged: then the one version is intact, made live again, and ingest goes on
            if isinstance(exc, IndexCorruptError) and name == CURRENT_FILE:
                ingest(reports, copy, SETTINGS, FakeEmbedder())
                assert same_index(load_index(copy), good)
            elif isinstance(exc, IndexCorruptError):
                with pytest.raises(IndexCorruptError):
                    ingest(reports, copy, SETTINGS, FakeEmbedder())
        else:
            assert same_index(store, good), f"{name} {how}: the index loaded with changed content"
        shutil.rmtree(copy)


def test_a_damaged_index_is_rebuilt_by_ingest_rebuild(built, tmp_path):
    reports, index, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    damage(segment_file(copy, "passages.jsonl"), "random")
    with pytest.raises(IndexCorruptError):
        load_index(copy)
    ingest(reports, copy, SETTINGS, FakeEmbedder(), rebuild=True)
    assert len(load_index(copy).chunks) == len(load_index(index).chunks)
    # a damaged pointer file does not stop the rebuild either
    (copy / CURRENT_FILE).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(IndexCorruptError, match=CURRENT_FILE):
        load_index(copy)
    ingest(reports, copy, SETTINGS, FakeEmbedder(), rebuild=True)
    assert len(load_index(copy).chunks) == len(load_index(index).chunks)


def test_large_files_are_sampled_at_load_and_fully_checked_by_verify(built, tmp_path, monkeypatch):
    import rag.index.folder as index_module

    reports, index, _ = built
    monkeypatch.setattr(index_module, "FULL_HASH_MAX", 1024)  # every file above 1 KB counts as large
    monkeypatch.setattr(index_module, "SAMPLE_BLOCK", 256)
    copy = tmp_path / "copy"
    ingest(reports, copy, SETTINGS, FakeEmbedder())
    assert verify_index(copy) >= 10
    target = segment_file(copy, "texts.jsonl")
    data = bytearray(target.read_bytes())
    assert len(data) > 8 * 256
    # a character outside the sampled blocks (年 -> 月, same length): load's fast check passes, verify finds it
    where = data.index("年".encode(), 300, len(data) // 4 - 10)
    data[where : where + 3] = "月".encode()
    target.write_bytes(bytes(data))
    load_index(copy)
    with pytest.raises(IndexCorruptError, match="texts.jsonl"):
        verify_index(copy)
    # a byte in a sampled block (the first): found at load
    data[0] = ord("[")
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="texts.jsonl"):
        load_index(copy)


def test_only_project_errors_escape_load(built, tmp_path):
    """Random damage anywhere never surfaces as anything but a RagError."""
    _, index, files = built
    rng = random.Random(7)
    for trial in range(20):
        copy = tmp_path / f"t{trial}"
        shutil.copytree(index, copy)
        name = rng.choice(files[1:])
        path = copy / name
        data = bytearray(path.read_bytes())
        if data:
            data[rng.randrange(len(data))] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(RagError):
            load_index(copy)
        shutil.rmtree(copy)


@pytest.mark.parametrize("where", ["passages", "manifest", "postings"])
def test_disk_full_says_so_and_keeps_the_previous_index(built, tmp_path, monkeypatch, where):
    import errno

    import rag.index.segment as segment_module
    import rag.index.writer as writer_module
    from rag.errors import IndexWriteError
    from rag.index.postings import Postings

    reports, index, _ = built
    copy, more = tmp_path / "copy", tmp_path / "reports"
    shutil.copytree(index, copy)
    shutil.copytree(reports, more)
    shutil.copy(sorted(REPORTS_DIR.glob("*.txt"))[3], more)
    good = load_index(copy)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "passages":
        monkeypatch.setattr(segment_module, "write_lines", full)
    elif where == "manifest":
        monkeypatch.setattr(writer_module, "_write_bytes", full)
    else:
        monkeypatch.setattr(Postings, "save", full)
    with pytest.raises(IndexWriteError) as err:
        ingest(more, copy, SETTINGS, FakeEmbedder())
    assert f"disk full at {copy}" in str(err.value) and "previous index kept" in str(err.value)
    monkeypatch.undo()
    assert same_index(load_index(copy), good)
    assert verify_index(copy) > 0
    assert [p.name for p in copy.iterdir() if p.name.startswith(("v-", ".staging-", ".CURRENT."))] == [good.path.name]
    assert sorted(p.name for p in (copy / "segments").iterdir()) == sorted(e["name"] for e in good.manifest["segments"])


def two_versions(tmp_path):
    """An index whose live version added a third report to an earlier, intact version of two."""
    reports = tmp_path / "reports"
    reports.mkdir()
    names = sorted(p.name for p in REPORTS_DIR.glob("*.txt"))[:3]
    for name in names[:2]:
        shutil.copy(REPORTS_DIR / name, reports / name)
    index = tmp_path / "index"
    ingest(reports, index, SETTINGS, FakeEmbedder())
    earlier = current_version(index)
    shutil.copy(REPORTS_DIR / names[2], reports / names[2])
    ingest(reports, index, SETTINGS, FakeEmbedder())
    assert current_version(index) != earlier
    return reports, index, earlier, names[2]


@pytest.mark.parametrize("how", ["random", "deleted"])
def test_a_damaged_live_version_rolls_back_to_the_previous_intact_one(tmp_path, how):
    """Loading refused with the rebuild command although the previous version, kept on disk, was intact."""
    reports, index, earlier, third = two_versions(tmp_path)
    live = current_version(index)
    damage(segment_file(index, "passages.jsonl", live), how)
    with pytest.raises(IndexCorruptError):
        load_index(index)  # strict by default: nothing is served silently
    store = load_index(index, roll_back=True)
    assert store.path == earlier and third not in {d.source for d in store.docs}
    assert live.name in store.rolled_back_from and "passages.jsonl" in store.rolled_back_from
    assert current_version(index) == earlier and verify_index(index)  # the intact version is live again


def test_ingest_on_a_damaged_index_rolls_back_and_embeds_only_what_changed_since(tmp_path):
    reports, index, earlier, third = two_versions(tmp_path)
    damage(segment_file(index, "dense.faiss"), "random")
    embedder = FakeEmbedder()
    report = ingest(reports, index, SETTINGS, embedder)
    assert report.rolled_back_from and "dense.faiss" in report.rolled_back_from and "rolled back" in report.summary()
    assert report.added == [third] and len(report.unchanged) == 2
    third_chunks = [c for c in load_index(index).chunks if c.source == third]
    # the two intact reports were not embedded again, nor the third: the embedding cache (beside the versions,
    # undamaged) still holds the vectors the damaged version was built from
    assert report.cached_chunks == len(third_chunks) and report.embedded_chunks == 0 and not embedder.embedded
    verify_index(index)


def test_without_an_intact_earlier_version_or_with_rollback_off_the_damage_is_reported(tmp_path):
    reports, index, earlier, _ = two_versions(tmp_path)
    damage(segment_file(index, "reports.jsonl"), "truncated")
    off = SETTINGS.replace({"corpus.auto_rollback": False})
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        ingest(reports, index, off, FakeEmbedder())
    damage(segment_file(index, "reports.jsonl", earlier), "truncated")
    with pytest.raises(IndexCorruptError, match="reports.jsonl"):
        load_index(index, roll_back=True)


def test_a_damaged_pointer_rolls_back_to_the_newest_intact_version(tmp_path):
    reports, index, earlier, third = two_versions(tmp_path)
    live = current_version(index)
    (index / CURRENT_FILE).write_bytes(b"\xff\xfe\x00garbage")
    store = load_index(index, roll_back=True)
    assert store.path == live and third in {d.source for d in store.docs}
