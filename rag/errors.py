"""The library's own error types; the CLI turns each into one line and an exit code."""


class RagError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 1


class SetupError(RagError):
    """Installation or model files are missing or damaged."""


class ConfigError(RagError):
    """Settings are invalid."""

    exit_code = 2


class InputError(RagError):
    """The user's input (folder, file, question) cannot be used."""

    exit_code = 2


class IndexMissingError(RagError):
    """Nothing was ingested yet."""


class EmbedderMismatchError(RagError):
    """The collection was built with another embedder."""


class ModelError(RagError):
    """The chat or embedding service failed (auth, unknown model, unreachable, rate limit, timeout)."""

    exit_code = 3


class StoreError(RagError):
    """The vector store failed or is unreachable."""

    exit_code = 3


class BusyError(RagError):
    """Another ingest holds the data directory."""

    exit_code = 4
