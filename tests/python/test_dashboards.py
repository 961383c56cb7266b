"""The shipped Grafana dashboard and Prometheus alerts refer only to metrics Sluice exposes.

Why: a dashboard panel or alert on a misspelt or renamed metric shows "no data" or never fires,
silently. Both files are parsed, every `sluice_*` metric in their PromQL is extracted, and each
must exist in a live /metrics scrape taken after real traffic (a produce, a consumer group
commit), so the labelled series exist too. The alerts must cover what operators page on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests
import yaml
from confluent_kafka import Consumer, TopicPartition

from conftest import REPO_ROOT, wait_until
from test_metrics import create_topic, produce, scrape

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "sluice-dashboard.json"
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\bsluice_[a-z0-9_]+")


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))

    walk(dash["panels"])
    exprs.extend(v["query"] for v in dash.get("templating", {}).get("list", [])
                 if isinstance(v.get("query"), str) and "sluice_" in v["query"])
    return exprs


def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def test_files_are_well_formed():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] and dash["uid"] and dash["panels"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in dash["panels"]:
        assert p["targets"], f"panel {p['title']!r} has no query"
        for t in p["targets"]:
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
    rules = alert_rules()
    for r in rules:
        assert r["alert"] and r["expr"] and r["labels"]["severity"] in ("warning", "critical")
        assert r["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", r.get("for", "0s")), r
        assert r["expr"].count("(") == r["expr"].count(")"), r["expr"]


def test_alerts_cover_what_operators_page_on():
    exprs = {r["alert"]: r["expr"] for r in alert_rules()}
    needed = {
        "consumer lag growing": ("sluice_consumer_group_lag", "delta("),
        "lag seconds over a threshold": ("sluice_consumer_group_lag_seconds", ">"),
        "disk filling": ("sluice_data_dir_free_bytes", "predict_linear("),
        "request error rate": ("sluice_request_errors_total", "sluice_requests_total"),
        "under-replicated partitions": ("sluice_under_replicated_partitions", "> 0"),
    }
    for what, parts in needed.items():
        assert any(all(p in e for p in parts) for e in exprs.values()), f"no alert for {what}"


def test_every_referenced_metric_is_exposed(sluice, unique_topic):
    topic, group = unique_topic(), unique_topic("g")
    create_topic(sluice.http_url, topic, 2)
    produce(sluice.bootstrap, topic, 200)
    c = Consumer({"bootstrap.servers": sluice.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.subscribe([topic])
        wait_until(lambda: (m := c.poll(0.5)) is not None and m.error() is None, 30,
                   "a record to consume")
        c.commit(asynchronous=False)
    finally:
        c.close()

    referenced = set()
    for e in dashboard_exprs() + [r["expr"] for r in alert_rules()]:
        referenced |= set(METRIC.findall(e))
    assert len(referenced) >= 20, referenced

    def exposed():
        names = {name for name, _ in scrape(sluice.http_url)}
        return names if referenced <= names else None

    try:
        wait_until(exposed, 10, "every referenced metric to appear in /metrics")
    except AssertionError:
        names = {name for name, _ in scrape(sluice.http_url)}
        raise AssertionError(f"not exposed: {sorted(referenced - names)}")
    # And with labels the dashboard groups by: the traffic's topic and group are there.
    samples = scrape(sluice.http_url)
    labelled = {(n, k, v) for (n, ls) in samples for k, v in ls}
    assert ("sluice_records_in_total", "topic", topic) in labelled
    assert ("sluice_consumer_group_lag", "group", group) in labelled
    assert ("sluice_requests_total", "api", "Produce") in labelled
    assert requests.get(f"{sluice.http_url}/health/ready", timeout=10).status_code == 200
