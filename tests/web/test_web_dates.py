"""The page's day fields are read by the commands' parser: a bad day is the same one line."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from perphedge.cli.wiring import Adapters
from perphedge.dates import DAY_FIX
from perphedge.web.app import create_app
from perphedge.web.security import Launch
from perphedge.web.state import Workspace

PORT = 48124
ORIGIN = f"http://127.0.0.1:{PORT}"
EXAMPLE = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"


@pytest.fixture
def client() -> tuple[TestClient, dict[str, str]]:
    launch, workspace = Launch(port=PORT), Workspace()
    workspace.load(EXAMPLE)
    client = TestClient(create_app(launch, Adapters(), workspace), base_url=ORIGIN)
    client.cookies.set(launch.cookie_name, launch.token)
    return client, {"x-csrf-token": launch.csrf_token, "origin": ORIGIN, "hx-request": "true"}


@pytest.mark.parametrize(
    ("path", "form", "shown"),
    [
        ("/backtest/run", {"since": "2024-13-01", "until": "2024-02-01"}, "from='2024-13-01'"),
        ("/backtest/run", {"since": "2024-01-01", "until": "01/02/2024"}, "to='01/02/2024'"),
        ("/paper/start", {"start": "2024-02-30"}, "start='2024-02-30'"),
    ],
)
def test_a_bad_day_is_said_in_one_line(client, path: str, form: dict[str, str], shown: str) -> None:
    http, headers = client
    answer = http.post(path, data=form, headers=headers)
    assert answer.status_code == 200  # htmx swaps it into the part of the page that asked
    assert f"{shown} is invalid: {DAY_FIX}</p>" in html.unescape(answer.text)


def test_an_empty_day_is_said_missing(client) -> None:
    http, headers = client
    answer = http.post("/paper/start", data={"start": ""}, headers=headers)
    assert f"start is missing: {DAY_FIX}</p>" in html.unescape(answer.text)
