"""Embedding stage: article and claim vectors (embedder.py, bundled model, cache) and the cross-encoder reranker (rerank.py)."""
