"""Build a tiny, randomly initialised sentence-transformers model entirely offline, for tests.

``build_tiny_sentence_transformer(folder)`` trains a small WordPiece vocabulary on Chinese + English
text, wraps it as a transformers ``BertTokenizerFast``, creates a 2-layer, 32-d ``BertModel`` from a
fixed seed, and saves a SentenceTransformer (Transformer + mean Pooling) into ``folder``, so that
``SentenceTransformer(str(folder), device="cpu")`` loads it with ``HF_HUB_OFFLINE=1``. It takes a few
seconds and nothing touches the network. The vectors mean nothing semantically: this model is for
testing plumbing (shapes, prompts, normalisation, determinism), not retrieval quality.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = PROJECT_ROOT / "data" / "reports"

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_SEQ_LENGTH = 128

# Always part of the training text, so the vocabulary covers the words the tests use even when
# data/reports/ is absent; the reports (if present) only add more CJK characters.
BUILTIN_SENTENCES = [
    "2022年全县低保户数为1234户，较上年减少56户。",
    "全县低保户数是多少？防汛工作做得怎么样？（问答：请参见第3页；详见附表）",
    "全镇共有低保户312户，特困供养人员48人，按时足额发放救助资金。",
    "今年汛期降雨偏多，全县组织防汛演练12次，转移群众3000余人。",
    "防汛抗旱指挥部落实24小时值班制度，确保安全度汛。",
    "坚持以习近平新时代中国特色社会主义思想为指导，推进乡村振兴战略。",
    "全年实现地区生产总值增长6.5%，一般公共预算收入完成8.2亿元。",
    "新建农村公路45公里，改造危房320户，新增就业岗位1500个。",
    "加强疫情防控，完善医疗卫生服务体系，提升基层治理能力。",
    "教育、医疗、养老等民生事业持续改善，群众满意度不断提高。",
    "query: passage: the quick brown fox jumps over the lazy dog",
    "This annual report summarises the work of the county government in 2022.",
    "How many households receive the minimum living allowance (dibao)?",
    "Flood control drills were held and residents were evacuated before the storm.",
    "abc def ghi jkl mno pqr stu vwx yz 0123456789",
]


def _training_texts() -> list[str]:
    texts = list(BUILTIN_SENTENCES)
    if REPORTS_DIR.is_dir():
        for path in sorted(REPORTS_DIR.glob("*.txt")):  # sorted: same corpus, same vocabulary, every run
            try:
                texts.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
            except (OSError, UnicodeDecodeError):
                continue
    return texts


def _train_vocab(texts: list[str]) -> dict[str, int]:
    """Train a WordPiece vocabulary with ``tokenizers`` and number it canonically.

    The trainer stops before learning any merge: tokenizers' WordPiece/BPE trainer breaks ties between
    equally frequent pairs in hash-map order, which is randomised per process, so learnt merges (and even
    the vocabulary size) change from run to run. What is left is the alphabet of the corpus plus its
    ``##`` continuation forms: a character-level WordPiece vocabulary (as bert-base-chinese is for CJK),
    identical on every run once sorted. Every Chinese character of the corpus is in it, so Chinese text
    is not all ``[UNK]``.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece
    from tokenizers.trainers import WordPieceTrainer

    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    # Same normalisation as BertTokenizerFast: lowercase, and a space around every CJK character,
    # so each Chinese character becomes its own word (and its own vocabulary entry).
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = WordPieceTrainer(
        vocab_size=len(SPECIAL_TOKENS),  # below the alphabet size: no merges (see above)
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        continuing_subword_prefix="##",
    )
    tok.train_from_iterator(texts, trainer=trainer)
    learnt = sorted(t for t in tok.get_vocab() if t not in SPECIAL_TOKENS)
    # Canonical ids: the specials first (0-4, as BERT expects [PAD]=0), then the tokens in sorted order.
    return {token: i for i, token in enumerate(SPECIAL_TOKENS + learnt)}


def _make_tokenizer(vocab: dict[str, int]):
    from transformers import BertTokenizerFast

    try:  # transformers 5.x: BertTokenizerFast is BertTokenizer, built from a vocab dict
        return BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=MAX_SEQ_LENGTH)
    except TypeError:  # pragma: no cover - transformers 4.x wants a vocab file
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            vocab_file = Path(tmp) / "vocab.txt"
            vocab_file.write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n", encoding="utf-8")
            return BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=MAX_SEQ_LENGTH)


def _st_modules():
    try:  # sentence-transformers >= 5.4 / 6.x: the canonical location
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # pragma: no cover - older releases (``models`` is a deprecated alias since 5.4)
        from sentence_transformers.models import Pooling, Transformer
    return Transformer, Pooling


def tiny_tokenizer_and_config(**extra):
    """The shared tokenizer and a tiny BERT config (2 layers, 32-d) for the test models; ``extra`` adds
    config fields (e.g. ``num_labels=1`` for a cross-encoder)."""
    from transformers import BertConfig

    tokenizer = _make_tokenizer(_train_vocab(_training_texts()))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_SEQ_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )
    return tokenizer, config


def build_tiny_sentence_transformer(folder: Path) -> Path:
    """Write a tiny random-weight sentence-transformers model into ``folder`` and return ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, config = tiny_tokenizer_and_config()
    torch.manual_seed(0)
    model = BertModel(config)
    model.eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))

    Transformer, Pooling = _st_modules()
    transformer = Transformer(str(folder), max_seq_length=MAX_SEQ_LENGTH)
    dim_of = getattr(transformer, "get_embedding_dimension", None) or transformer.get_word_embedding_dimension
    pooling = Pooling(dim_of(), "mean")
    st_model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    st_model.save(str(folder))
    return folder


if __name__ == "__main__":  # manual check: python tests/tiny_models.py /tmp/tiny-st
    import sys

    out = build_tiny_sentence_transformer(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-st"))
    print(out)
