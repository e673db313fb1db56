"""`ckptdiff audit`: every artifact under some roots, each inspected, verified, scanned (and checked)."""
