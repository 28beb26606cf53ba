"""The local page lets in only its own launch: token, Host check, CSRF, offline assets."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from perphedge.cli.wiring import Adapters
from perphedge.web.app import create_app, plotly_js_path
from perphedge.web.security import Launch

PORT = 48123
ORIGIN = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def launch() -> Launch:
    return Launch(port=PORT)


@pytest.fixture
def client(launch: Launch) -> TestClient:
    app = create_app(launch, Adapters())
    return TestClient(app, base_url=ORIGIN, follow_redirects=False)


def _enter(client: TestClient, launch: Launch) -> None:
    first = client.get(f"/?token={launch.token}")
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    client.cookies.set(launch.cookie_name, launch.token)


def test_every_path_needs_the_token(client: TestClient, launch: Launch) -> None:
    for path in ("/", "/glossary", "/static/htmx.min.js", "/static/plotly.min.js", "/nowhere"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "token" in answer.text
    assert client.get("/?token=wrong").status_code == 403
    _enter(client, launch)
    assert client.get("/glossary").status_code == 200


def test_a_token_of_another_launch_is_refused(client: TestClient) -> None:
    other = Launch(port=PORT)
    assert client.get(f"/?token={other.token}").status_code == 403
    client.cookies.set(other.cookie_name, other.token)
    assert client.get("/").status_code == 403


def test_foreign_host_is_refused_even_with_the_token(client: TestClient, launch: Launch) -> None:
    """DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    _enter(client, launch)
    answer = client.get("/", headers={"host": f"evil.example:{PORT}"})
    assert answer.status_code == 403 and "host" in answer.text
    assert client.get("/", headers={"host": "127.0.0.1:1"}).status_code == 403
    assert client.get("/", headers={"host": f"localhost:{PORT}"}).status_code == 200


def test_posts_need_the_csrf_token_and_our_origin(client: TestClient, launch: Launch) -> None:
    _enter(client, launch)
    form = {"action": "check", "holdings-0-asset": "BTC", "holdings-0-quantity": "1"}
    assert client.post("/start/form", data=form).status_code == 403
    wrong = {"x-csrf-token": "0" * 32}
    assert client.post("/start/form", data=form, headers=wrong).status_code == 403
    good = {"x-csrf-token": launch.csrf_token}
    cross = {**good, "origin": "http://evil.example"}
    assert client.post("/start/form", data=form, headers=cross).status_code == 403
    same = {**good, "origin": ORIGIN, "hx-request": "true"}
    answer = client.post("/start/form", data=form, headers=same)
    assert answer.status_code == 200 and "Everything is valid." in answer.text


def test_pages_load_scripts_from_this_server_only(client: TestClient, launch: Launch) -> None:
    _enter(client, launch)
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/static/", "data:")) for s in sources), sources
    assert launch.csrf_token in page.text and launch.token not in page.text


def test_plotly_is_served_from_the_plotly_package(client: TestClient, launch: Launch) -> None:
    _enter(client, launch)
    served = client.get("/static/plotly.min.js")
    assert served.status_code == 200
    assert served.content == plotly_js_path().read_bytes()
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and b"htmx" in htmx.content[:2000]
    assert client.get("/static/htmx.LICENSE.txt").status_code == 200


def test_the_page_never_imports_the_cli() -> None:
    """Entry points call services: the web package imports no perphedge.cli module."""
    root = Path(__file__).resolve().parents[2] / "src" / "perphedge" / "web"
    for file in root.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.startswith("perphedge.cli") for n in names), (file, names)


def test_the_web_stack_stays_out_of_other_commands() -> None:
    """`perphedge --help` (and every other command) starts without Starlette or uvicorn."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from perphedge.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "web = ('starlette', 'uvicorn', 'jinja2', 'perphedge.web')\n"
        "print(sorted(m for m in sys.modules if m.startswith(web)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_live_orders_need_allow_execute() -> None:
    """Read-only by default: no order buttons and every order route refused; with
    --allow-execute the page offers to show the orders before anything is sent."""
    from perphedge.web.state import Workspace

    example = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"
    for allowed in (False, True):
        launch = Launch(port=PORT, allow_execute=allowed)
        workspace = Workspace()
        workspace.load(example)
        app = create_app(launch, Adapters(), workspace)
        client = TestClient(app, base_url=ORIGIN, follow_redirects=False)
        client.cookies.set(launch.cookie_name, launch.token)
        page = client.get("/live").text
        assert ("Orders allowed" in page) is allowed and ("Read-only" in page) is not allowed
        assert ('id="preview-open"' in page) is allowed
        if not allowed:
            headers = {"x-csrf-token": launch.csrf_token}
            for path in ("/live/preview", "/live/send"):
                refused = client.post(path, data={"kind": "open"}, headers=headers)
                assert refused.status_code == 409 and "--allow-execute" in refused.text
