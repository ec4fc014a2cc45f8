"""Storage both stages share: the catalog (SQLite: every chunk, its metadata and vector), the vector store
(Chroma) and the keyword index (BM25), and the chunk record they hold. `ingest` writes them; `rag` reads them.
Nothing here imports the ingest stage or the query stage."""
