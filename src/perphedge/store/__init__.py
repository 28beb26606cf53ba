"""Local storage: the market-data store (DuckDB) and the trade journal (SQLite)."""
