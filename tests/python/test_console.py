"""The web console (issue 6) in a real headless Chromium, and the message-browser endpoint behind it.

Why: the console is what operators look at; a page that throws, shows a stale number or a lag
chart that does not move is a bug users see first. Each test drives Debian's chromium through
Playwright against a running broker fed by confluent-kafka, waits for conditions (never sleeps),
fails on any console error or uncaught page error, and saves a screenshot of the page: into the
test's temporary directory, or into docs/console/ (the screenshots in the docs are these) when
SLUICE_SCREENSHOTS=1, so ordinary runs leave the tree clean.

Run: .venv/bin/pytest -q tests/python/test_console.py   (needs /usr/bin/chromium:
scripts/install-test-deps.sh installs it). Refresh the docs' screenshots:
SLUICE_SCREENSHOTS=1 .venv/bin/pytest -q tests/python/test_console*.py
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from playwright import sync_api

from conftest import REPO_ROOT, wait_until


CHROMIUM = Path("/usr/bin/chromium")
DOCS_SHOTS = REPO_ROOT / "docs" / "console"
VIEWPORT = {"width": 1400, "height": 900}
WAIT_MS = 15_000

# Payloads the message-browser test looks for on the page.
KEY = "order-4711"
VALUE = {"order_id": 4711, "customer": "ada@example.com", "items": [{"sku": "LAMP-01", "qty": 2}]}
HEADER = ("trace-id", "7f3c9a1e-console-test")


# --------------------------------------------------------------------------------------------
# Fixtures: one broker with a little realistic data, one browser
# --------------------------------------------------------------------------------------------


def produce(bootstrap: str, topic: str, records, **conf) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    failures = []
    for r in records:
        p.produce(topic, on_delivery=lambda err, _m: failures.append(err) if err else None, **r)
    assert p.flush(30) == 0, "records still in flight after 30 s"
    assert not failures, failures


def high_watermark(bootstrap: str, topic: str, partition: int) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "console-test-probe"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


@pytest.fixture(scope="module")
def console(sluice_module):
    """The module's broker with topics 'orders' (3 partitions), 'payments' and 'clicks'."""
    b = sluice_module
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    futures = admin.create_topics([NewTopic("orders", 3, 1), NewTopic("payments", 2, 1),
                                   NewTopic("clicks", 1, 1, config={"retention.ms": "86400000"})])
    for f in futures.values():
        f.result(timeout=30)
    produce(b.bootstrap, "orders", [
        {"key": f"order-{i}", "value": json.dumps({"order_id": i, "amount": i * 2.5}), "partition": i % 3}
        for i in range(300)], **{"compression.type": "lz4"})
    produce(b.bootstrap, "payments", [{"key": f"pay-{i}", "value": f"payment {i}"} for i in range(40)])
    return b


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-test-deps.sh")
    with sync_api.sync_playwright() as pw:
        br = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield br
        br.close()


class Page:
    """A browser tab that records console errors and uncaught exceptions."""

    def __init__(self, browser, base_url: str, shots: Path):
        self.base = base_url
        self.shots = shots
        self.page = browser.new_page(viewport=VIEWPORT, color_scheme="light")
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def open(self, route: str):
        self.page.goto(f"{self.base}/console/#{route}")
        return self.page

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def assert_no_errors(self) -> None:
        assert not self.errors, "\n".join(self.errors)


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory) -> Path:
    """Where screenshots go: docs/console/ only when asked (SLUICE_SCREENSHOTS=1)."""
    if os.environ.get("SLUICE_SCREENSHOTS") == "1":
        return DOCS_SHOTS
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture
def tab(browser, console, shots_dir):
    t = Page(browser, console.http_url, shots_dir)
    yield t
    t.page.close()


def expect():
    return sync_api.expect


# --------------------------------------------------------------------------------------------
# Serving the app
# --------------------------------------------------------------------------------------------


def test_root_redirects_and_console_paths_serve_the_app(console):
    r = requests.get(console.http_url + "/", allow_redirects=False, timeout=10)
    assert r.status_code in (301, 302, 303, 307, 308) and r.headers["location"] == "/console/"
    for path in ["/console/", "/console/topics/orders", "/console/some/deep/link"]:
        r = requests.get(console.http_url + path, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "/console/assets/app.js" in r.text
    r = requests.get(console.http_url + "/console/assets/app.js", timeout=10)
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert requests.get(console.http_url + "/console/assets/nope.js", timeout=10).status_code == 404


# --------------------------------------------------------------------------------------------
# The records endpoint: decoding and bad input
# --------------------------------------------------------------------------------------------


def records(b, topic, partition, **params):
    return requests.get(f"{b.http_url}/v1/topics/{topic}/partitions/{partition}/records",
                        params=params, timeout=10)


def test_records_endpoint_decodes_batches_and_pages(console):
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    # orders-1 holds order-1, order-4, ... (lz4 batches): a page of 5 from offset 10.
    r = records(console, "orders", 1, offset=10, limit=5)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [x["offset"] for x in page["records"]] == [10, 11, 12, 13, 14]
    assert page["next_offset"] == 15 and page["high_watermark"] == 100 and page["log_start_offset"] == 0
    first = page["records"][0]
    assert first["key"] == b64("order-31") and json.loads(base64.b64decode(first["value"])) == {
        "order_id": 31, "amount": 77.5}
    assert first["partition"] == 1 and first["timestamp_type"] == "CreateTime" and first["headers"] == []
    # By timestamp: the first record at or after record 20's timestamp.
    ts = records(console, "orders", 1, offset=20, limit=1).json()["records"][0]["timestamp"]
    by_ts = records(console, "orders", 1, timestamp_ms=ts, limit=1).json()["records"][0]
    assert by_ts["timestamp"] == ts and by_ts["offset"] <= 20
    # Past the end: nothing, and the next offset is the high watermark.
    end = records(console, "orders", 1, offset=10_000).json()
    assert end["records"] == [] and end["next_offset"] == 100


@pytest.mark.parametrize("codec", ["gzip", "snappy", "zstd"])
def test_records_endpoint_decodes_every_codec(console, codec):
    topic = {"gzip": "audit-log", "snappy": "sensor-readings", "zstd": "page-views"}[codec]
    produce(console.bootstrap, topic, [{"key": f"{codec}-{i}", "value": f"{codec} value {i}" * 20,
                                        "headers": [("n", str(i).encode())]} for i in range(50)],
            **{"compression.type": codec, "linger.ms": 50})
    page = records(console, topic, 0, offset=0, limit=500).json()
    assert [x["offset"] for x in page["records"]] == list(range(50))
    for i, x in enumerate(page["records"]):
        assert base64.b64decode(x["key"]).decode() == f"{codec}-{i}"
        assert base64.b64decode(x["value"]).decode() == f"{codec} value {i}" * 20
        assert x["headers"] == [{"key": "n", "value": base64.b64encode(str(i).encode()).decode()}]


def test_records_endpoint_skips_transaction_markers(console):
    p = Producer({"bootstrap.servers": console.bootstrap, "transactional.id": "console-txn"})
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(3):
        p.produce("clicks", key=f"k{i}", value=f"click {i}", headers=[("h", None)])
    p.commit_transaction(30)
    page = records(console, "clicks", 0, limit=500).json()
    # Three records at 0..2 and the commit marker at 3, which is not a record to browse.
    assert [x["offset"] for x in page["records"]] == [0, 1, 2]
    assert page["high_watermark"] == 4 and page["next_offset"] == 4
    assert page["records"][0]["headers"] == [{"key": "h", "value": None}]


@pytest.mark.parametrize("topic,partition,params,status,code", [
    ("no-such-topic", "0", {}, 404, 40401),
    ("orders", "7", {}, 404, 40402),
    ("orders", "-1", {}, 404, 40402),
    ("orders", "x", {}, 400, 400),
    ("orders", "0", {"offset": "-1"}, 400, 400),
    ("orders", "0", {"offset": "ten"}, 400, 400),
    ("orders", "0", {"timestamp_ms": "-2"}, 400, 400),
    ("orders", "0", {"offset": "1", "timestamp_ms": "1"}, 400, 400),
    ("orders", "0", {"limit": "0"}, 400, 400),
    ("orders", "0", {"limit": "501"}, 400, 400),
    ("orders", "0", {"limit": "9999999999999999999999"}, 400, 400),
])
def test_records_endpoint_rejects_bad_input(console, topic, partition, params, status, code):
    r = records(console, topic, partition, **params)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_code"] == code and isinstance(body["message"], str) and body["message"]


# --------------------------------------------------------------------------------------------
# Pages in the browser
# --------------------------------------------------------------------------------------------


def test_overview_shows_cluster_and_live_throughput(console, tab):
    stop = threading.Event()

    def traffic():  # steady produce + consume so the throughput chart has something to draw
        p = Producer({"bootstrap.servers": console.bootstrap, "linger.ms": 20})
        c = Consumer({"bootstrap.servers": console.bootstrap, "group.id": "overview-reader",
                      "auto.offset.reset": "earliest"})
        c.subscribe(["payments"])
        while not stop.is_set():
            for i in range(200):
                p.produce("payments", value=b"x" * 512)
            p.poll(0)
            c.consume(500, timeout=0.1)
        p.flush(10)
        c.close()

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    try:
        page = tab.open("/")
        e = expect()
        e(page.locator("h1")).to_have_text("Overview")
        e(page.locator(".stat", has_text="Brokers").locator(".value")).to_have_text("1")
        stats = requests.get(console.http_url + "/v1/stats", timeout=10).json()
        e(page.locator(".stat", has_text="Partitions").locator(".value")).to_have_text(f"{stats['partitions']:,}")
        # Two throughput samples (one every 2 s) with records flowing in.
        page.wait_for_function("""() => {
            const svg = document.querySelector('#throughput-chart svg');
            return svg && Number(svg.dataset.points) >= 2 && JSON.parse(svg.dataset.values)[0].some(v => v > 0);
        }""", timeout=WAIT_MS)
        e(page.locator(".stat", has_text="Disk used").locator(".value")).not_to_have_text("—")
        tab.shot("overview")
    finally:
        stop.set()
        t.join(30)
    tab.assert_no_errors()


def test_topics_list_and_topic_detail(console, tab):
    page = tab.open("/topics")
    e = expect()
    topics = requests.get(console.http_url + "/v1/topics", timeout=10).json()
    user_topics = [t["name"] for t in topics if not t["internal"]]
    assert {"orders", "payments", "clicks"} <= set(user_topics)
    e(page.locator("tbody tr")).to_have_count(len(user_topics))  # internal topics hidden by default
    e(page.locator("tbody tr", has_text="orders").locator("td").nth(1)).to_have_text("3")
    tab.shot("topics")

    page.locator("a", has_text="orders").first.click()
    e(page.locator("h1")).to_contain_text("orders")
    e(page.locator("tbody tr")).to_have_count(3)
    hw = high_watermark(console.bootstrap, "orders", 0)
    e(page.locator("tbody tr").first.locator("td").nth(5)).to_have_text(f"{hw:,}")
    tab.shot("topic")

    page.locator(".tabs a", has_text="Configuration").click()
    e(page.locator("tbody tr", has_text="cleanup.policy")).to_contain_text("delete")
    tab.assert_no_errors()


def test_message_browser_shows_produced_record(console, tab):
    produce(console.bootstrap, "orders", [{
        "key": KEY, "value": json.dumps(VALUE), "partition": 2,
        "headers": [(HEADER[0], HEADER[1].encode())]}])
    hw = high_watermark(console.bootstrap, "orders", 2)
    page = tab.open(f"/topics/orders/messages?p=2&offset={hw - 3}")
    e = expect()
    row = page.locator("#messages tbody tr", has_text=KEY)
    e(row).to_have_count(1)
    e(row.locator("td").first).to_have_text(f"{hw - 1:,}")
    # Auto format pretty-prints JSON; the header is shown as key: value.
    e(row.locator("pre")).to_contain_text('"customer": "ada@example.com"')
    e(row.locator("pre")).to_contain_text('"sku": "LAMP-01"')
    e(row.locator(".hdr")).to_have_text(f"{HEADER[0]}: {HEADER[1]}")
    tab.shot("messages")

    page.locator("#msg-format button", has_text="Hex").click()
    e(row.locator("pre")).to_contain_text("7b 22 6f 72 64 65 72 5f")  # {"order_
    page.locator("#msg-format button", has_text="Text").click()
    e(row.locator("pre")).to_have_text(json.dumps(VALUE))

    # Browsing by timestamp from the record's own time finds it first or among the first.
    page.locator(".seg button", has_text="Timestamp").click()
    page.locator("#msg-ts").fill("2000-01-01T00:00:00")
    page.locator("#msg-load").click()
    e(page.locator("#messages tbody tr").first.locator("td").first).to_have_text("0")
    tab.assert_no_errors()


def test_group_page_lag_grows_while_consumer_is_paused(console, tab):
    group = "billing"
    c = Consumer({"bootstrap.servers": console.bootstrap, "group.id": group,
                  "client.id": "billing-worker-1", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["payments"])
    try:
        seen = 0
        total = high_watermark(console.bootstrap, "payments", 0) + high_watermark(console.bootstrap, "payments", 1)

        def consumed_all():
            nonlocal seen
            seen += len([m for m in c.consume(500, timeout=0.5) if m.error() is None])
            return seen >= total

        wait_until(consumed_all, 30, f"consumer to read {total} records")
        c.commit(asynchronous=False)
        committed = {tp.partition: tp.offset for tp in
                     c.committed([TopicPartition("payments", 0), TopicPartition("payments", 1)], timeout=10)}
        # From here the consumer is paused: it stays in the group but reads nothing.

        def expected_lag():
            return sum(high_watermark(console.bootstrap, "payments", p) - committed[p] for p in (0, 1))

        page = tab.open("/groups")
        e = expect()
        e(page.locator("tbody tr", has_text=group)).to_have_count(1)
        tab.shot("groups")

        page.locator("a", has_text=group).click()
        e(page.locator("h1")).to_have_text(group)
        e(page.locator("#total-lag")).to_have_attribute("data-value", str(expected_lag()))

        produce(console.bootstrap, "payments", [{"key": f"late-{i}", "value": "late payment"}
                                                for i in range(25)])
        lag = expected_lag()
        assert lag >= 25
        e(page.locator("#total-lag")).to_have_attribute("data-value", str(lag))
        e(page.locator("#total-lag")).to_have_text(f"{lag:,}")
        # The chart keeps the samples: at least two points, the latest above the first.
        page.wait_for_function("""(lag) => {
            const svg = document.querySelector('#lag-chart svg');
            if (!svg) return false;
            const v = JSON.parse(svg.dataset.values)[0];
            return v.length >= 2 && v[v.length - 1] === lag && v[v.length - 1] > v[0];
        }""", arg=lag, timeout=WAIT_MS)
        e(page.locator("tbody tr", has_text="billing-worker-1")).to_contain_text("payments-")
        tab.shot("group")
    finally:
        c.close()
    tab.assert_no_errors()


def test_unknown_page_renders_not_found(console, tab):
    page = tab.open("/no/such/page")
    expect()(page.locator("h1")).to_have_text("Page not found")
    tab.assert_no_errors()
