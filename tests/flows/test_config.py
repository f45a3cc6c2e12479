import pytest

from flows.config import ConfigError, PlanConfig, ReindexConfig


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input: in/*.parquet\noutput: out\ntext_column: body\nshards: 2\n")
    config = ReindexConfig.from_yaml(path, shards=8, codec=None)
    assert (config.input, config.text_column, config.shards, config.codec) == (
        "in/*.parquet",
        "body",
        8,
        "auto",
    )
    assert config.embedder().model == "all-MiniLM-L6-v2"


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input: a\noutput: b\nshard: 2\n")
    with pytest.raises(ConfigError, match="unknown config key 'shard'"):
        ReindexConfig.from_yaml(path)
    with pytest.raises(
        ConfigError, match=r"^--shards \(shards\): Input should be greater than or equal to 1, got 0$"
    ):
        ReindexConfig.build(input="a", output="b", shards=0)
    with pytest.raises(ConfigError, match="--run-id .*should match pattern"):
        ReindexConfig.build(input="a", output="b", run_id="../escape")


def test_a_plan_and_a_run_share_their_defaults():
    shared = set(ReindexConfig.model_fields) & set(PlanConfig.model_fields)
    assert {"model", "batch_size", "plan_time_budget_s", "seed", "backend"} <= shared
    for key in shared - {"input"}:
        assert ReindexConfig.model_fields[key].default == PlanConfig.model_fields[key].default, key
    # a plan is made for a run of the run's default training sample
    assert (
        PlanConfig.model_fields["run_sample_size"].default
        == ReindexConfig.model_fields["sample_size"].default
    )


def test_the_default_backend_is_resolved_to_what_will_embed():
    # on this CPU machine: OpenVINO for the packaged model, torch for the fake one; never "auto" recorded
    default = ReindexConfig.build(input="a", output="b")
    assert (default.backend, default.precision) == ("openvino", "int8")
    assert (default.fit_settings().embedder.backend, default.fit_settings().embedder.precision) == (
        "openvino",
        "int8",
    )
    fake = PlanConfig.build(input="a", model="fake:8").embedder()
    assert (fake.backend, fake.precision) == ("torch", "fp32")
    named = ReindexConfig.build(input="a", output="b", backend="torch")
    assert (named.backend, named.precision) == ("torch", "fp32")
    assert ReindexConfig.build(input="a", output="b", precision="fp32").backend == "openvino"


def test_a_plan_needs_one_source():
    with pytest.raises(ConfigError, match=r"^give --input .* or --embeddings"):
        PlanConfig.build()
    with pytest.raises(ConfigError, match=r"^give --input"):
        PlanConfig.build(input="a", embeddings="b")
    assert PlanConfig.build(embeddings="out").goal() is None
