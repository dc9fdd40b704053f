"""The cross-tenant speaker index (FAISS), rebuilt by every replica from a compacted Kafka topic."""
