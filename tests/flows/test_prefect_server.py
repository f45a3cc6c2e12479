"""The temporary Prefect server of `vecpress run`: started at once, so its start-up overlaps the run's checks;
waited for only when the flow needs it; gone when the run leaves, whether or not the flow ever ran."""

import httpx
import pytest

from flows import preflight
from flows.prefect_server import starting_server


def test_a_run_that_fails_its_checks_leaves_no_server_behind(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    preflight.environment_defaults()
    with pytest.raises(ValueError, match="a check failed"):
        with starting_server(120) as server:
            assert server.proc.poll() is None  # started before anything inside ran
            raise ValueError("a check failed")
    assert server.proc.poll() is not None and server.stopped and not server.used


def test_connect_waits_for_the_server_and_points_prefect_at_it(prefect_server, monkeypatch, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    preflight.environment_defaults()
    # no server named anywhere, as for a user's `vecpress run` (the test session's server is set aside)
    with temporary_settings(restore_defaults={PREFECT_API_URL}), preflight.prefect_api() as connect:
        with connect() as api:
            assert PREFECT_API_URL.value() == api
            assert httpx.get(f"{api}/health", timeout=5).status_code == 200
    with pytest.raises(httpx.HTTPError):  # stopped on leaving
        httpx.get(f"{api}/health", timeout=2)


def test_a_server_named_by_the_prefect_settings_is_used_and_the_temporary_one_stopped(
    prefect_server, monkeypatch
):
    from prefect.settings import PREFECT_API_URL

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    preflight.environment_defaults()
    named = PREFECT_API_URL.value()  # the test session's server, as a profile would name one
    assert named
    with preflight.prefect_api() as connect, connect() as api:
        assert api == named and PREFECT_API_URL.value() == named


def test_a_server_already_named_is_used_and_none_is_started(monkeypatch):
    from flows import prefect_server

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(prefect_server, "TemporaryServer", lambda *_: pytest.fail("started a server"))
    with preflight.prefect_api() as connect, connect() as nothing:
        assert nothing is None  # the flow reports to the server named in the environment
