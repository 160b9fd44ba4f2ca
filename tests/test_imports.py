"""`import rag` stays light: no torch, gradio, faiss or sentence-transformers until they are needed."""

import subprocess
import sys


def test_import_rag_does_not_import_heavy_modules():
    code = (
        "import sys, rag, embeddings; "
        "heavy = [m for m in ('torch', 'gradio', 'faiss', 'sentence_transformers', 'transformers', 'jieba', 'ray') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
