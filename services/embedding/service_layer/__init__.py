"""Embedding use cases: enrollment, analysis, verification, consent."""
