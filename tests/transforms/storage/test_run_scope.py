import numpy as np

from transforms.storage import run_scope


def test_outside_a_run_nothing_is_kept():
    calls = []
    for _ in range(2):
        run_scope.once("k", lambda: calls.append(1) or np.arange(3))
    run_scope.put("k", 1)
    assert len(calls) == 2 and run_scope.get("k") is None and not run_scope.active()


def test_within_a_run_a_value_is_worked_out_once_and_dropped_at_its_end():
    calls = []
    with run_scope.scope():
        first = run_scope.once(("a", 1), lambda: calls.append(1) or np.arange(3))
        again = run_scope.once(("a", 1), lambda: calls.append(1) or np.arange(3))
        other = run_scope.once(("a", 2), lambda: calls.append(1) or np.arange(4))
        assert again is first and len(other) == 4 and len(calls) == 2
        with run_scope.scope():  # a nested run shares it
            assert run_scope.get(("a", 1)) is first
        assert run_scope.get(("a", 1)) is first  # still open
    assert run_scope.get(("a", 1)) is None
    with run_scope.scope():
        assert run_scope.get(("a", 1)) is None  # a later run starts empty
