"""The database: its schema as data (`schema`, and the browse page's derived tables in
`derived`), saving papers (`papers`), which stored value wins (`precedence`), which
stored paper a typed id (`ids`) or a record (`identity`) is, merges, tags, saved queries
and runs, citation keys, arXiv's query syntax compiled to SQL (`search`), and the browse
page's queries (`browse`, `browse_search`, `browse_counts`).

It imports `sources`' query grammar, `enrich` and `config`; never `ingest` or above."""
