"""Getting papers into the store: harvests of saved queries (`harvest`, DBLP linking in
`link_dblp`), the bulk snapshot import (`snapshot`, parsed in `pool`'s processes), and
saved queries run locally (`local_match`)."""
