"""A run's counts and reuse, assembled from what its stages returned."""

from tests.conftest import make_manifest
from transforms.run import assemble
from transforms.run.last_run import LastRun
from transforms.run.manifest import Counts
from transforms.storage.layout import RunLayout

STAGES = assemble.Stages(
    embedded={"read": 10, "embedded": 9, "rejected": 1, "reuse": {"chunks": 2, "chunks_reused": 1}},
    fitted={"kept": {"from_run": "r0"}, "not_kept": None},
    encoded={"rows": 9, "files_reused": 3, "encoded_files": 1},
    built={"rows": 9, "shards_reused": 1},
    evaluated={"figures": {}},
    timings_s={"embed": 1.0},
    reused={"build": "out/runs/r0"},
)


def test_counts_add_up_from_each_stage():
    assert assemble.counts(STAGES) == Counts(read=10, embedded=9, rejected=1, indexed=9, encoded=9)


def test_reuse_says_what_came_from_earlier_work_and_from_which_run():
    assert assemble.reuse(STAGES, None) == {
        "chunks": 2,
        "chunks_reused": 1,
        "code_files_reused": 3,
        "code_files_encoded": 1,
        "index_shards_reused": 1,
        "codec_kept": {"from_run": "r0"},
        "codec_not_kept": None,
        "previous_run": None,
    }
    previous = LastRun(RunLayout("out", "r0", 2), make_manifest("out", "r0", 2), None)
    assert assemble.reuse(STAGES, previous)["previous_run"] == "r0"
