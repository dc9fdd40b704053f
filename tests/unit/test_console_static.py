"""The console's static files as the gateway serves them (gateway/console.py): the app shell for
every console route, immutable hashed assets, the security headers, nothing from outside the build."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.console import CSP, IMMUTABLE, mount_console


@pytest.fixture
def build(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script type="module" src="/console/assets/app-1a2b.js"></script>')
    (root / "assets" / "app-1a2b.js").write_text("console.log('app')")
    (root / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(b"console.log('app')"))
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


def client(root: Path) -> TestClient:
    app = FastAPI()
    mount_console(app, root)
    return TestClient(app)


@pytest.mark.parametrize("path", ["/console/", "/console/voices", "/console/voices/v1/consent", "/console/owner/tvo_x"])
def test_every_console_route_gets_the_app_shell_revalidated_with_the_policy(build, path):
    answer = client(build).get(path)
    assert answer.status_code == 200
    assert answer.text.startswith("<!doctype html>")
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "frame-ancestors 'none'" in CSP
    assert answer.headers["referrer-policy"] == "no-referrer"  # an owner's URL holds their token
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_hashed_assets_are_cached_for_a_year(build):
    answer = client(build).get("/console/assets/app-1a2b.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in answer.headers
    assert answer.status_code == 200 and answer.text == "console.log('app')"
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["content-security-policy"] == CSP


@pytest.mark.parametrize(
    ("accept", "coding"), [("gzip, deflate", "gzip"), ("br", None), ("br, gzip;q=0.5", "gzip"), ("gzip;q=0", None)]
)
def test_the_build_s_compressed_copy_goes_to_a_browser_that_takes_it(build, accept, coding):
    answer = client(build).get("/console/assets/app-1a2b.js", headers={"accept-encoding": accept})
    assert answer.headers.get("content-encoding") == coding
    assert answer.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert answer.headers["vary"] == "Accept-Encoding"
    assert answer.text == "console.log('app')"  # httpx undoes the encoding


@pytest.mark.parametrize(
    "path",
    ["/console/assets/missing.js", "/console/assets/../../secret.txt", "/console/assets/%2e%2e/%2e%2e/secret.txt"],
)
def test_nothing_outside_the_assets_folder_is_served(build, path):
    answer = client(build).get(path)
    assert answer.status_code == 404
    assert "outside the build" not in answer.text


def test_the_bare_path_redirects_to_the_app(build):
    answer = client(build).get("/console", follow_redirects=False)
    assert answer.status_code == 308 and answer.headers["location"] == "/console/"


def test_an_unbuilt_console_says_how_to_build_it(tmp_path):
    answer = client(tmp_path / "nothing").get("/console/")
    assert answer.status_code == 503
    assert "make console" in answer.text
