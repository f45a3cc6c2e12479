"""The encode and build stages: code files per vector file, each shard's codes, and index shards built from
codes."""
