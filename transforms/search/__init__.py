"""Searching a run and measuring it: shards, id maps, hits' texts, queries, evaluation and the exact
neighbours it carries over."""
