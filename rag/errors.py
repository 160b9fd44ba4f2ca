"""The small family of errors the engine raises. "Nothing relevant found" is an answer, not an error."""


class RagError(Exception):
    """Base class: something the user can act on (the UI shows the message)."""


class ConfigError(RagError, ValueError):
    """config.toml or an override has a bad value."""


class EmptyQuestionError(RagError, ValueError):
    """The question is empty or only whitespace."""


class UnreadableReportError(RagError):
    """A report file cannot be read or decoded; ingest skips it and reports it by name."""


class IndexMissingError(RagError):
    """No index at the given folder (build one with `rag ingest DIR`)."""


class IndexCorruptError(RagError):
    """The index folder exists but its files are incomplete or inconsistent."""


class IndexWriteError(RagError, OSError):
    """A new index version could not be written (disk full, permissions); the previous version stays live."""


class IndexMismatchError(RagError):
    """The index was built with another embedding model or splitter settings than the current config."""


class IndexFormatError(IndexMismatchError):
    """The index was written in another on-disk format than this code reads (``rag ingest`` rebuilds it)."""


class EmbeddingError(RagError):
    """The embedding model cannot be loaded or returned something unusable."""


class ServerBusyError(RagError):
    """A question could not start answering within the server's time budget (too many waiting); try again."""


class UnknownReportError(RagError, ValueError):
    """A question was restricted to reports the index does not hold (the message names them)."""
