"""A run as a whole: its manifest, publish, verify, sizes, report, retention (gc), rollback and the stages'
cache keys."""
