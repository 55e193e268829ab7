"""A 通报 seen as a person sees it (issue 13 item 7, R19): a month of ratings through the signed API, the HTML
report served by the local cloud opened in headless Chromium, the charts drawn and the Chinese in a CJK font;
the XLSX read back with openpyxl, its charts there; the public summary without sign-in and without staff.

Skipped only where chromium is absent outside CI (`make browser` installs it); in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import io
import json
import random
import struct
import urllib.request
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from infra.localcloud import demo_month
from infra.localcloud.people import id_token
from tests.browser import Browser, chromium_path, in_ci
from tests.e2e.conftest import Hub

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "report-2026-11-city.png"
BEIJING = ZoneInfo("Asia/Shanghai")
LAST_EVENING = datetime.fromisoformat("2026-11-30T20:00:00+08:00")
DAY_AFTER = datetime.fromisoformat("2026-12-01T09:00:00+08:00")  # November is over; its ratings are all in


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and raw rows (RGB or RGBA, 8 bits) of a non-interlaced PNG, as Chromium writes them."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    channels = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, channels)]  # type: ignore[misc]


def _coloured(pixels: list[bytes]) -> int:
    """Pixels that are neither white nor grey: bars and lines, not background or text."""
    return sum(1 for p in pixels if max(p) - min(p) > 60)


@pytest.fixture(scope="module")
def november(hub: Hub) -> Hub:
    """November's ratings across the demo counties (a fifth of the demo month's), posted on its last evening (so
    their work orders are dispatched in November too), read on 1 December."""
    hub.cloud.move_clock(set_to=LAST_EVENING)
    client = demo_month.Hub(hub.cloud.api_url, lambda user: id_token(hub.cloud.seeded, user),
                            lambda when: hub.cloud.move_clock(set_to=when), hub.cloud.drain)  # fmt: skip
    connector_id, secret = demo_month.register_connector(client)
    rng, ratings, day = random.Random(20), [], date(2026, 11, 1)
    while day < date(2026, 12, 1):
        ratings += [r for r, _, _ in demo_month.day_ratings(rng, day, len(ratings), scale=0.2)]
        day += timedelta(days=1)
    for i in range(0, len(ratings), 100):
        status, answer = client.post_ratings(connector_id, secret, ratings[i : i + 100])
        assert status == 202, answer
        assert {r["outcome"] for r in answer["results"]} == {"accepted"}, answer
    hub.cloud.drain()  # forwarded, orders dispatched, rollups counted from the streams
    hub.cloud.move_clock(set_to=DAY_AFTER)
    return hub


def _get(hub: Hub, path: str, user: str | None = None) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {id_token(hub.cloud.seeded, user)}"} if user else {}
    request = urllib.request.Request(hub.cloud.api_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def test_the_city_report_is_drawn_in_a_browser_with_chinese_glyphs_R19(november: Hub) -> None:
    executable = chromium_path()
    if executable is None:
        if in_ci():
            pytest.fail("chromium is not installed: .ci/run runs `make browser` (Debian chromium, fonts-noto-cjk)")
        pytest.skip("chromium is not installed (`make browser` installs it and a CJK font)")
    token = id_token(november.cloud.seeded, "ganzhou-management")
    url = f"{november.cloud.api_url}/v1/reports?period=2026-11&region=360700&format=html"
    with Browser(executable) as browser:
        browser.send("Network.enable")
        browser.send("Network.setExtraHTTPHeaders", headers={"Authorization": f"Bearer {token}"})
        browser.open(url)
        assert "通报" in str(browser.evaluate("document.title"))
        charts = browser.evaluate("[...document.querySelectorAll('figure.chart')].map(f => f.id)")
        assert {"chart-grade-mix", "chart-trend", "chart-top-tags", "chart-rectification",
                "chart-staff-ranking"} <= set(charts)  # fmt: skip
        # every chart has marks with a size on the page, and its labels laid out as text
        drawn = browser.evaluate("""[...document.querySelectorAll('figure.chart svg')].map(svg => ({
            marks: [...svg.querySelectorAll('path, rect')].filter(e => { const b = e.getBBox();
                     return b.width > 2 && b.height > 2; }).length,
            texts: [...svg.querySelectorAll('text')].filter(t => t.getComputedTextLength() > 0).length}))""")
        assert all(chart["marks"] >= 2 and chart["texts"] > 3 for chart in drawn), drawn  # bars or lines, labels
        # the Chinese is drawn with a CJK font that has its glyphs, in the heading and in a chart's labels
        probe = browser.evaluate("""(() => { const t = [...document.querySelectorAll('#chart-grade-mix svg text')]
            .find(t => /[\u4e00-\u9fff]/.test(t.textContent)); t.id = 'cjk-probe'; return t.textContent; })()""")
        assert probe and any("\u4e00" <= ch <= "\u9fff" for ch in probe)
        for selector in ("h1", "#cjk-probe"):
            fonts = browser.fonts(selector)
            assert any("CJK" in f["familyName"] or "WenQuanYi" in f["familyName"] for f in fonts), fonts
            assert all(f["glyphCount"] > 0 for f in fonts), fonts
        # the pixels: the grade-mix chart has coloured bars, the page is not blank
        box = browser.evaluate("(() => { const r = document.querySelector('#chart-grade-mix').getBoundingClientRect();"
                               " return [r.x, r.y + window.scrollY, r.width, r.height]; })()")  # fmt: skip
        png = browser.screenshot(SCREENSHOT)
    width, _, pixels = _png_pixels(png)
    x, y, w, h = (int(v) for v in box)
    inside = [pixels[row * width + col] for row in range(y, y + h) for col in range(x, min(width, x + w))]
    assert _coloured(inside) > 0.05 * len(inside), "the grade-mix chart has no coloured bars"
    assert SCREENSHOT.stat().st_size > 20_000


def test_the_workbook_holds_a_sheet_per_view_with_native_charts(november: Hub) -> None:
    status, body, content_type = _get(november, "/v1/reports?period=2026-11&region=360704&format=xlsx",
                                      "ganxian-management")  # fmt: skip
    assert status == 200 and content_type.startswith("application/vnd.openxmlformats"), body[:300]
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames[0] == "总体情况" and "指标定义" in book.sheetnames
    charted = [name for name in book.sheetnames if book[name]._charts]
    assert len(charted) >= 4, charted
    summary = book["总体情况"]
    figures = {summary.cell(r, 5).value: summary.cell(r, 2).value for r in range(5, summary.max_row + 1)}
    assert figures["rated_total"] > 0


def test_the_figures_match_a_recount_of_the_ratings(november: Hub) -> None:
    """评价总量 and the grade counts of the city's report equal a count of the stored ratings themselves: rated in
    November (Beijing time) in the city, adopted (R14, R17)."""
    status, body, _ = _get(november, "/v1/reports?period=2026-11&region=360700&format=json", "operator")
    assert status == 200
    report = json.loads(body)
    dynamodb, items, start = november.cloud.client("dynamodb"), [], None
    while True:
        page = dynamodb.scan(TableName=november.cloud.resources["RatingsTable"], **({"ExclusiveStartKey": start}
                             if start else {}))  # fmt: skip
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    grades: dict[str, int] = {}
    for item in items:
        if item["sk"]["S"] != "RATING" or "not_adopted_by" in item:
            continue
        rating = json.loads(item["rating"]["S"])
        rated = datetime.fromisoformat(rating["rated_at"]).astimezone(BEIJING)
        if rated.strftime("%Y-%m") == "2026-11" and rating["target"]["region_code"].startswith("3607"):
            grades[rating["grade"]] = grades.get(rating["grade"], 0) + 1
    assert report["summary"]["values"]["rated_total"]["value"] == sum(grades.values()) > 50
    assert {g: n for g, n in report["summary"]["grades"].items() if n} == grades
    # an operator reads staff by id, never a rater's name or phone
    assert "演示用户" not in body.decode("utf-8")


def test_the_public_summary_needs_no_sign_in_and_names_no_staff(november: Hub) -> None:
    status, body, content_type = _get(november, "/v1/public/reports?period=2026-11&region=360700&format=html")
    assert status == 200 and content_type.startswith("text/html"), body[:300]
    page = body.decode("utf-8")
    assert "向社会公布" in page
    assert not any(name in page for _, _, name, _ in demo_month.WINDOWS)


@pytest.mark.parametrize(
    ("path", "user", "status", "code"),
    [
        ("/v1/reports?period=2026-11&region=360700&format=html", "ganxian-management", 403, "FORBIDDEN"),
        ("/v1/reports?period=2026-11&region=360704&format=pdf", "ganxian-management", 400, "REPORT_FORMAT_UNKNOWN"),
        ("/v1/reports?period=2026-13&region=360704", "ganxian-management", 400, "REPORT_PERIOD_INVALID"),
        ("/v1/reports?period=2026-12&region=360704", "ganxian-management", 404, "REPORT_NOT_READY"),
        ("/v1/reports?period=2026-11&region=360704", None, 401, "TOKEN_MISSING"),
    ],
)
def test_bad_report_requests_are_refused_with_their_code(november: Hub, path, user, status, code) -> None:
    got, body, _ = _get(november, path, user)
    answer = json.loads(body)
    assert (got, answer["errors"][0]["code"]) == (status, code)
    assert answer["errors"][0]["message_zh"]
