"""The database: its schema as data (`schema`), saving papers (`papers`), which stored value
wins (`precedence`), which stored paper a record is (`identity`), merges, tags, saved
queries and runs, citation keys, and arXiv's query syntax compiled to SQL (`search`).

It imports `sources`' query grammar, `enrich` and `config`; never `ingest` or above."""
