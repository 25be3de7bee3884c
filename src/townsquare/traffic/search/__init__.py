"""Search: the tokenizer and the index (sync, BM25 query, the brand rule)."""
