"""The embed stage: its plan, a chunk's worker, the chunk store and its vector files, a run's embeddings,
reuse of vectors by text, row ids and sampling."""
