"""What an index holds, in one place: `rag status`, `rag status --json` and `GET /v1/status` report the same."""

from __future__ import annotations

from rag.settings import Settings


def index_status(settings: Settings) -> dict:
    """Documents, chunks, per-folder last ingest, failures, low kept ratios and notes; the embedder that filled
    the index, its collection and data directory."""
    from rag.wiring import open_catalog

    catalog = open_catalog(settings)
    try:
        status = catalog.status()
        status["embedder"] = catalog.get_meta("embedder", "unknown")
    finally:
        catalog.close()
    status["collection"] = settings.store.collection
    status["data_dir"] = str(settings.data_path)
    status["last_ingest"] = max((f["last_ingest"] for f in status["folders"]), default=None)
    return status
