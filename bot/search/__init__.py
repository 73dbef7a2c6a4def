"""Encode, search and fuse: dense (FAISS) and lexical (BM25) retrieval over chunks."""
