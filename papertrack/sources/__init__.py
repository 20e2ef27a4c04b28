"""Where papers come from: the polite HTTP session (`http`), arXiv's API (`arxiv`) and its
query rewriting (`arxiv_rewrite`) and grammar (`arxiv_query`), a local arXiv stand-in for the demo and
tests (`arxiv_standin`), DBLP (`dblp`) and arXiv's bulk snapshot (`snapshot`). They yield
`Paper` records and never touch the database. `locks`: the machine-wide endpoint locks
that pace every process talking to a service, and the same flock for a database file."""
