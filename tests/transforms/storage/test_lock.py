import pytest

from transforms.storage import io, lock


@pytest.mark.parametrize("where", ["local", "memory"])
def test_second_writer_is_refused_and_told_who_holds_the_output(where, tmp_path, memory_root):
    output = str(tmp_path / "out") if where == "local" else memory_root
    with lock.output_lock(output, "run-a"):
        assert lock.holder(output)["run_id"] == "run-a"
        with pytest.raises(lock.OutputLocked, match="being written by run .*run-a"):
            with lock.output_lock(output, "run-b"):
                pass
    assert lock.holder(output) is None
    with lock.output_lock(output, "run-b"):  # free again once the first run is done
        pass


def test_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError, match="stage failed"):
        with lock.output_lock(str(tmp_path), "r"):
            raise RuntimeError("stage failed")
    assert not io.exists(lock.lock_url(str(tmp_path)))
