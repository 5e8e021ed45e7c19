"""Knowledge: the reviewed corpus, its store, the hybrid search index and the search API.

Importing this package is cheap: heavy dependencies (torch, faiss, bm25s) load only in the modules
that need them, because ``knowledge.language`` is also imported by Rasa's NLU pipeline.
"""
