"""The app can be installed: its manifest answers JSON to anyone, and its icons are there."""

from __future__ import annotations

import io

from PIL import Image

from portal_pages import Portal


def test_the_manifest_names_the_app_and_its_icons_are_reachable(browsers: Portal) -> None:
    client = browsers.anonymous()
    answer = client.get("/app/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["start_url"] == "/app/"
    assert manifest["display"] == "standalone"
    assert manifest["short_name"]
    assert manifest["name"]
    assert manifest["theme_color"]
    sizes = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200, icon["src"]
        assert image.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(image.content)).size
        assert f"{width}x{height}" == icon["sizes"]
        sizes.add((icon["sizes"], icon.get("purpose", "any")))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_every_app_page_links_the_manifest(browsers: Portal) -> None:
    page = browsers.anonymous().get("/app/nowhere")
    assert '<link rel="manifest" href="/app/manifest.webmanifest">' in page.text
    assert 'rel="apple-touch-icon"' in page.text
