"""The browser side is served by the gateway alone: the playground at ``/``, its modules, and
``/docs`` and ``/redoc`` from vendored copies (no CDN). The browser test drives the pages; these
check what every page may load, quickly and without a browser."""

from __future__ import annotations

import hashlib
import re

import httpx

from app.api.web import STATIC_DIR
from tests.servers import ServerThread

UI = STATIC_DIR / "ui"
ASSET_REF = re.compile(r"""(?:src|href)=["']([^"'#]+)["']""")
IMPORT = re.compile(r"""^import\s.*?from\s+'(\./[^']+)';""", re.MULTILINE)


def test_the_playground_is_served_at_the_root(base_gateway: ServerThread) -> None:
    resp = httpx.get(f"{base_gateway.url}/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    policy = resp.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    refs = ASSET_REF.findall(resp.text)
    assert "static/ui/js/main.js" in refs
    for ref in refs:
        assert not ref.startswith(("http:", "https:", "//")), ref
        asset = httpx.get(f"{base_gateway.url}/{ref}")
        assert asset.status_code == 200, ref


def test_every_module_import_resolves_to_a_shipped_file() -> None:
    modules = sorted((UI / "js").glob("*.js"))
    assert len(modules) >= 10
    for module in modules:
        text = module.read_text()
        for target in IMPORT.findall(text):
            assert (module.parent / target).is_file(), f"{module.name} imports {target}"
        # no URL but XML namespaces: a page must not reach beyond this gateway
        urls = re.findall(r"https?://[^'\"\s)]+", text)
        assert all(u.startswith("http://www.w3.org/") for u in urls), (module.name, urls)


def test_modules_are_served_as_javascript(base_gateway: ServerThread) -> None:
    resp = httpx.get(f"{base_gateway.url}/static/ui/js/main.js")
    assert resp.status_code == 200
    assert "javascript" in resp.headers["content-type"]
    assert resp.headers.get("etag")


def test_docs_and_redoc_load_only_local_assets(base_gateway: ServerThread) -> None:
    for page, asset in (
        ("/docs", "/static/vendor/swagger-ui/swagger-ui-bundle.js"),
        ("/redoc", "/static/vendor/redoc/redoc.standalone.js"),
    ):
        resp = httpx.get(f"{base_gateway.url}{page}")
        assert resp.status_code == 200, page
        refs = ASSET_REF.findall(resp.text)
        assert asset in refs, (page, refs)
        for ref in refs:
            assert ref.startswith("/static/"), (page, ref)
            assert httpx.get(f"{base_gateway.url}{ref}").status_code == 200, ref
        assert "cdn." not in resp.text and "fonts.googleapis" not in resp.text
    assert httpx.get(f"{base_gateway.url}/openapi.json").json()["info"]["title"] == "imagegate"


def test_static_files_stay_inside_their_folder(base_gateway: ServerThread) -> None:
    for path in ("/static/../config.py", "/static/%2e%2e/config.py", "/static/nope.js"):
        assert httpx.get(f"{base_gateway.url}{path}").status_code == 404, path


def test_vendored_assets_match_their_recorded_hashes() -> None:
    """``make vendor`` records each file's SHA-256; a hand edit or a partial update fails here."""
    vendor = STATIC_DIR / "vendor"
    packages, recorded = {}, {}
    for line in (vendor / "VERSIONS").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if "  " in line:  # sha256sum's "<digest>  <file>"
            digest, name = line.split("  ", 1)
            recorded[name] = digest
        else:
            package, version = line.split(" ")
            packages[package] = version
    assert set(packages) == {"swagger-ui-dist", "redoc"}
    shipped = {
        str(p.relative_to(vendor)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in vendor.rglob("*")
        if p.is_file() and p.name != "VERSIONS"
    }
    assert shipped == recorded
    assert {"swagger-ui/LICENSE", "redoc/LICENSE"} <= set(shipped)
    bundle = (vendor / "redoc" / "redoc.standalone.js").read_text()
    assert "cdn.redoc.ly" not in bundle
