"""The labeled corpus: real-text extraction, assembly into splits, quality checks and loading."""
