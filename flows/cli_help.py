"""The ``vecpress`` command line's help text: what vecpress does, and examples for each command."""

from __future__ import annotations

DESCRIPTION = """\
vecpress re-indexes a document corpus kept in Parquet into a compact, evaluated FAISS index: it embeds the
documents, fits a codec, encodes them into sharded codes, builds and evaluates index shards and publishes the
run atomically. Then it searches and serves the published index."""

EXAMPLES = {
    "vecpress": """\
examples:
  vecpress sample-data --output data/news --limit 2000
  vecpress run --input data/news --output out/news --id-column doc_id --text-column body --label-column topic
  vecpress search --index out/news "which graphics card for linux"
  vecpress serve --index out/news --port 8000
  vecpress <command> --help     options of one command, with their defaults""",
    "run": """\
examples:
  vecpress run --input 'gs://bucket/corpus/*.parquet' --output s3://bucket/indexes/news \\
               --text-column body --id-column doc_id --shards 8
  vecpress run --config configs/demo.yaml --shards 8        a YAML config (keys as below); flags override it
  vecpress run --config configs/demo.yaml --codec auto --budget-bytes 16   plan the codec for a goal
  vecpress run --config configs/demo.yaml --codec 'OPQ32,PQ32' --refine SQ8 --rerank 20
  vecpress run --config configs/demo.yaml --backend onnx --precision int8
Every option is also a key of the YAML config: the flag's name with underscores (--batch-size: batch_size),
except --time-budget (plan_time_budget_s), --lock-lease (lock_lease_s), --gc-grace (gc_grace_s),
--pipeline-arg (pipeline_args).""",
    "plan": """\
examples:
  vecpress plan --input 'corpus/*.parquet' --text-column body --budget-bytes 16 --label-column topic
  vecpress plan --embeddings out/news --target-recall 0.95 --stored-budget-bytes 400
  vecpress plan --embeddings out/news --max-loss-points 1 --label-column label --corpus-rows 5000000
Writes plan.json, plan.md and plan.png under --out; 'vecpress run --codec auto' with the same goal plans and
uses the pick itself.""",
    "search": """\
examples:
  vecpress search --index out/news "cheap flights to lisbon" "space shuttle launch"
  vecpress search --index s3://bucket/indexes/news -k 20 --queries-file queries.txt --json --no-text""",
    "serve": """\
examples:
  vecpress serve --index out/news --port 8000
  curl -s localhost:8000/health
  curl -s localhost:8000/search -H 'content-type: application/json' \\
       -d '{"queries": ["space shuttle launch"], "k": 5}'
POST /search takes queries, k, nprobe (IVF lists probed) and rerank (candidates re-ranked per result) and
answers hits with doc_id, score, text and label. GET /health gives the run served, its counts, codec and
quality. A newly published run is loaded and verified before it replaces the old one.""",
    "inspect": """\
examples:
  vecpress inspect out/news
  vecpress inspect s3://bucket/indexes/news --json --no-verify""",
    "verify": """\
examples:
  vecpress verify out/news      exit 0 when every file matches the manifest, 2 when any does not""",
    "gc": """\
examples:
  vecpress gc out/news --dry-run          what would go, and the bytes it would free
  vecpress gc out/news --keep-runs 5
'vecpress run' collects the same way after each publish (--keep-runs, default 3).""",
    "rollback": """\
examples:
  vecpress rollback out/news                       back to the run published before the current one
  vecpress rollback out/news 20261205T020000Z-1a2b3c
The run is verified against its manifest first; a running `vecpress serve` follows the change.""",
    "sample-data": """\
examples:
  vecpress sample-data --output data/news
  vecpress sample-data --output data/news --limit 2000 --seed 1""",
}
