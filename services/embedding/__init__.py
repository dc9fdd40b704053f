"""Embedding: voice enrollment, speaker embeddings, the cross-tenant speaker index, consent."""
