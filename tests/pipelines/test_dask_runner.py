"""The same pipelines on a distributed Beam runner: DaskRunner on a two-process dask.distributed cluster."""

from __future__ import annotations

import pytest

from flows.reindex import reindex
from tests.conftest import make_corpus, small_config, write_parquet


@pytest.mark.distributed
def test_dask_runner_writes_the_same_files_as_the_direct_runner(prefect_server, tmp_path):
    from dask.distributed import Client, LocalCluster, get_task_stream

    write_parquet(make_corpus(1200, seed=2), str(tmp_path / "in" / "a.parquet"))
    write_parquet(make_corpus(300, seed=3).slice(0, 300), str(tmp_path / "in" / "b.parquet"))

    def run(run_id: str, runner: str, args: list[str]) -> dict:
        # One output per runner: a shared output would let the second run reuse the first one's stages.
        config = small_config(
            tmp_path, output=str(tmp_path / run_id), label_column="topic", model="fake:32", shards=4,
            eval_queries=200, runner=runner, pipeline_args=args, run_id=run_id,
        )  # fmt: skip
        return reindex(config)

    direct = run("direct", "DirectRunner", [])
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        with get_task_stream(client) as stream:
            dask = run("dask", "DaskRunner", [f"--dask_client_address={cluster.scheduler_address}"])
        workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2, f"expected both Dask workers to run pipeline tasks, saw {workers}"

    def hashes(manifest: dict) -> dict[str, str]:
        return {f["path"]: f["sha256"] for f in manifest["files"] if not f["path"].startswith("report")}

    assert dask["reused"] == {} and direct["reused"] == {}
    assert hashes(dask) == hashes(direct)
    assert dask["counts"] == direct["counts"]
    assert any(p.startswith("codes/") for p in hashes(dask)) and any(
        p.startswith("index/") for p in hashes(dask)
    )
    # Duplicated ids in b.parquet (it repeats doc-00000..) are rejected the same way on both runners.
    assert direct["counts"]["rejected"] == 300
