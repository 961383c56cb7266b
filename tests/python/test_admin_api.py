"""The JSON admin API (`/v1/...`) and its OpenAPI document, over HTTP against a real broker.

Why: operators, scripts and the web console manage Sluice through this API, so every endpoint
must answer in the documented shape, change the broker exactly as the equivalent Kafka request
would (checked through real Kafka clients), and meet bad input (unknown topics and groups,
invalid configs, malformed or oversized bodies, wrong methods, random junk) with a 4xx JSON
error in Confluent's shape: never a 5xx, a hang or a dead broker.
"""

from __future__ import annotations

import json
import random
import time

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from conftest import wait_until

T = 10  # HTTP timeout, seconds


@pytest.fixture(scope="module")
def api(sluice_module):
    return sluice_module


def url(b, path: str) -> str:
    return f"{b.http_url}{path}"


def assert_error(r: requests.Response, status: int, code: int | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body.get("error_code"), int) and isinstance(body.get("message"), str), body
    if code is not None:
        assert body["error_code"] == code, body
    return body


def create(b, name: str, **kw) -> dict:
    r = requests.post(url(b, "/v1/topics"), json={"name": name, **kw}, timeout=T)
    assert r.status_code == 201, r.text
    return r.json()


def produce(b, topic: str, count: int, partition: int | None = None) -> None:
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 2})
    for i in range(count):
        kw = {"partition": partition} if partition is not None else {}
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), **kw)
    assert p.flush(30) == 0


# ------------------------------------------------------------------------------------------
# cluster
# ------------------------------------------------------------------------------------------


def test_cluster_brokers_and_stats(api):
    c = requests.get(url(api, "/v1/cluster"), timeout=T).json()
    assert c["cluster_id"] and c["controller_id"] == 0 and c["version"]
    assert c["brokers"] == [{"node_id": 0, "host": "127.0.0.1", "port": api.port, "rack": None}]
    assert requests.get(url(api, "/v1/brokers"), timeout=T).json() == c["brokers"]
    # The cluster id is the one Kafka clients see.
    md = AdminClient({"bootstrap.servers": api.bootstrap}).list_topics(timeout=10)
    assert md.cluster_id == c["cluster_id"]
    s = requests.get(url(api, "/v1/stats"), timeout=T).json()
    for k in ["ts_ms", "bytes_in_total", "bytes_out_total", "records_in_total",
              "records_out_total", "disk_bytes", "topics", "partitions", "groups", "connections"]:
        assert isinstance(s[k], int) and s[k] >= 0, (k, s)
    assert abs(s["ts_ms"] - time.time() * 1000) < 60_000


def test_health(api):
    assert requests.get(url(api, "/health/live"), timeout=T).json() == {"status": "live"}
    assert requests.get(url(api, "/health/ready"), timeout=T).json() == {"status": "ready"}


# ------------------------------------------------------------------------------------------
# topics
# ------------------------------------------------------------------------------------------


def test_topic_lifecycle(api, unique_topic):
    name = unique_topic()
    t = create(api, name, partitions=2, configs={"retention.ms": 3600000, "cleanup.policy": "delete"})
    assert t["name"] == name and t["internal"] is False and t["topic_id"]
    assert [p["partition"] for p in t["partitions"]] == [0, 1]
    for p in t["partitions"]:
        assert p["leader"] == 0 and p["leader_epoch"] == 0 and p["segments"] >= 1
        for k in ["log_start_offset", "high_watermark", "last_stable_offset", "log_end_offset",
                  "size_bytes"]:
            assert p[k] == 0, (k, p)
    configs = {c["name"]: c for c in t["configs"]}
    assert configs["retention.ms"] == {"name": "retention.ms", "value": "3600000",
                                       "source": "DYNAMIC_TOPIC_CONFIG", "is_default": False,
                                       "read_only": False, "sensitive": False}
    assert configs["segment.bytes"]["is_default"] is True

    # Kafka clients see the topic as created.
    admin = AdminClient({"bootstrap.servers": api.bootstrap})
    md = admin.list_topics(timeout=10)
    assert len(md.topics[name].partitions) == 2

    produce(api, name, 7, partition=1)
    listed = {x["name"]: x for x in requests.get(url(api, "/v1/topics"), timeout=T).json()}
    assert listed[name]["partitions"] == 2 and listed[name]["records"] == 7
    assert listed[name]["size_bytes"] > 0 and listed[name]["replication_factor"] == 1
    d = requests.get(url(api, f"/v1/topics/{name}"), timeout=T).json()
    assert d["partitions"][1]["high_watermark"] == 7 and d["partitions"][1]["log_end_offset"] == 7
    assert d["topic_id"] == t["topic_id"]

    # Configs: set one, reset another to its default; the Kafka API agrees.
    r = requests.patch(url(api, f"/v1/topics/{name}/configs"), timeout=T,
                       json={"configs": {"retention.ms": None, "max.message.bytes": "2000000"}})
    assert r.status_code == 200, r.text
    now = {c["name"]: c for c in r.json()}
    assert now["retention.ms"]["is_default"] is True
    assert now["max.message.bytes"]["value"] == "2000000"
    assert {c["name"]: c for c in requests.get(url(api, f"/v1/topics/{name}/configs"),
                                              timeout=T).json()} == now
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    described = admin.describe_configs([res])[res].result(timeout=10)
    assert described["max.message.bytes"].value == "2000000"
    assert described["retention.ms"].is_default

    # Partitions: grow, and refuse to shrink with Kafka's INVALID_PARTITIONS.
    r = requests.post(url(api, f"/v1/topics/{name}/partitions"), json={"count": 4}, timeout=T)
    assert r.status_code == 200 and len(r.json()["partitions"]) == 4
    wait_until(lambda: len(admin.list_topics(timeout=10).topics[name].partitions) == 4, 10,
               "clients to see 4 partitions")
    body = assert_error(requests.post(url(api, f"/v1/topics/{name}/partitions"),
                                      json={"count": 3}, timeout=T), 400, 40001)
    assert body["kafka_error_code"] == 37

    # Duplicate create: 409 with Kafka's TOPIC_ALREADY_EXISTS.
    body = assert_error(requests.post(url(api, "/v1/topics"), json={"name": name}, timeout=T),
                        409, 40901)
    assert body["kafka_error_code"] == 36 and body["kafka_error"] == "TOPIC_ALREADY_EXISTS"

    # Delete.
    assert requests.delete(url(api, f"/v1/topics/{name}"), timeout=T).status_code == 204
    assert_error(requests.get(url(api, f"/v1/topics/{name}"), timeout=T), 404, 40403)
    wait_until(lambda: name not in admin.list_topics(timeout=10).topics, 10,
               "clients to see the topic gone")


def test_create_with_defaults_and_invalid_requests(api, unique_topic):
    t = create(api, unique_topic())
    assert len(t["partitions"]) == 1  # num.partitions
    cases = [
        ({"name": "bad name!"}, 400, 40001),
        ({"name": unique_topic(), "partitions": 0}, 400, 40001),
        ({"name": unique_topic(), "replication_factor": 3}, 400, 40001),
        ({"name": unique_topic(), "configs": {"retention.ms": "soon"}}, 400, 40002),
        ({"name": unique_topic(), "configs": {"no.such.config": "1"}}, 400, 40002),
        ({"name": unique_topic(), "configs": {"retention.ms": [1]}}, 400, 40002),
        ({"partitions": 1}, 400, 40003),
        ({"name": 5}, 400, 40003),
        ({"name": unique_topic(), "surprise": 1}, 400, 40003),
    ]
    for body, status, code in cases:
        assert_error(requests.post(url(api, "/v1/topics"), json=body, timeout=T), status, code)
    names = {x["name"] for x in requests.get(url(api, "/v1/topics"), timeout=T).json()}
    assert not any(isinstance(b.get("name"), str) and b["name"] in names for b, _, _ in cases)


def test_invalid_config_values_leave_topic_unchanged(api, unique_topic):
    name = unique_topic()
    create(api, name)
    before = requests.get(url(api, f"/v1/topics/{name}/configs"), timeout=T).json()
    for configs in [{"retention.ms": "abc"}, {"cleanup.policy": "sometimes"},
                    {"min.insync.replicas": -5}, {"unknown.setting": "x"}]:
        body = assert_error(requests.patch(url(api, f"/v1/topics/{name}/configs"),
                                           json={"configs": configs}, timeout=T), 400)
        assert body["error_code"] in (40001, 40002), body
    assert requests.get(url(api, f"/v1/topics/{name}/configs"), timeout=T).json() == before


def test_unknown_topic_everywhere(api):
    for method, path, body in [
        ("GET", "/v1/topics/no-such-topic", None),
        ("GET", "/v1/topics/no-such-topic/configs", None),
        ("PATCH", "/v1/topics/no-such-topic/configs", {"configs": {"retention.ms": "1"}}),
        ("POST", "/v1/topics/no-such-topic/partitions", {"count": 3}),
        ("DELETE", "/v1/topics/no-such-topic", None),
        ("POST", "/v1/groups/g/reset-offsets", {"topic": "no-such-topic", "to": "earliest"}),
    ]:
        assert_error(requests.request(method, url(api, path), json=body, timeout=T), 404, 40403)


# ------------------------------------------------------------------------------------------
# groups
# ------------------------------------------------------------------------------------------


def test_groups_describe_reset_and_delete(api, unique_topic):
    topic, group = unique_topic(), unique_topic("g")
    create(api, topic, partitions=2)
    produce(api, topic, 10, partition=0)
    produce(api, topic, 4, partition=1)
    t0 = int(time.time() * 1000)
    # The records below must be strictly after t0 on the millisecond clock.
    wait_until(lambda: int(time.time() * 1000) > t0, 1, "the millisecond clock to pass t0", interval=0.001)
    produce(api, topic, 5, partition=0)

    c = Consumer({"bootstrap.servers": api.bootstrap, "group.id": group, "client.id": "admin-t",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.subscribe([topic])
        got = 0
        deadline = time.monotonic() + 30
        while got < 19 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got += 1
        assert got == 19
        c.commit(offsets=[TopicPartition(topic, 0, 12), TopicPartition(topic, 1, 4)],
                 asynchronous=False)

        listed = {g["group_id"]: g for g in requests.get(url(api, "/v1/groups"), timeout=T).json()}
        g = listed[group]
        assert g["members"] == 1 and g["state"] == "Stable" and g["protocol_type"] == "consumer"
        assert g["protocol"]

        d = requests.get(url(api, f"/v1/groups/{group}"), timeout=T).json()
        assert d["group_id"] == group and d["state"] == "Stable"
        assert d["coordinator"] == {"node_id": 0, "host": "127.0.0.1", "port": api.port}
        [member] = d["members"]
        assert member["client_id"] == "admin-t" and member["member_id"] and member["host"]
        assert sorted((a["topic"], a["partition"]) for a in member["assignments"]) == \
            [(topic, 0), (topic, 1)]
        offsets = {o["partition"]: o for o in d["offsets"] if o["topic"] == topic}
        assert offsets[0]["committed_offset"] == 12 and offsets[0]["log_end_offset"] == 15
        assert offsets[0]["lag"] == 3 and offsets[0]["lag_seconds"] > 0
        assert offsets[1]["lag"] == 0 and offsets[1]["lag_seconds"] == 0
        assert d["total_lag"] == 3

        # Active members: resets and deletes are refused, as Kafka's tools refuse them.
        assert_error(requests.post(url(api, f"/v1/groups/{group}/reset-offsets"), timeout=T,
                                   json={"topic": topic, "to": "earliest"}), 409, 40902)
        assert_error(requests.delete(url(api, f"/v1/groups/{group}"), timeout=T), 409, 40902)
    finally:
        c.close()

    wait_until(lambda: requests.get(url(api, f"/v1/groups/{group}"), timeout=T).json()["state"]
               == "Empty", 15, "the group to become Empty after the consumer left")

    def reset(**body):
        r = requests.post(url(api, f"/v1/groups/{group}/reset-offsets"), timeout=T,
                          json={"topic": topic, **body})
        assert r.status_code == 200, r.text
        return {o["partition"]: o["offset"] for o in r.json()["offsets"]}

    def committed():
        c2 = Consumer({"bootstrap.servers": api.bootstrap, "group.id": group})
        try:
            tps = c2.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
            return {tp.partition: tp.offset for tp in tps}
        finally:
            c2.close()

    assert reset(to="earliest") == {0: 0, 1: 0} == committed()
    assert reset(to="latest") == {0: 15, 1: 4} == committed()
    assert reset(to="offset", offset=3, partitions=[0]) == {0: 3}
    assert committed() == {0: 3, 1: 4}
    assert reset(to="offset", offset=999, partitions=[1]) == {1: 4}  # clamped to the end
    assert reset(to="timestamp", timestamp_ms=t0) == {0: 10, 1: 4}
    d = requests.get(url(api, f"/v1/groups/{group}"), timeout=T).json()
    assert {o["partition"]: o["lag"] for o in d["offsets"]} == {0: 5, 1: 0}

    for body in [{"topic": topic, "to": "yesterday"}, {"topic": topic, "to": "offset"},
                 {"topic": topic, "to": "timestamp"}, {"to": "earliest"}]:
        assert_error(requests.post(url(api, f"/v1/groups/{group}/reset-offsets"), json=body,
                                   timeout=T), 400)
    assert_error(requests.post(url(api, f"/v1/groups/{group}/reset-offsets"), timeout=T,
                               json={"topic": topic, "to": "earliest", "partitions": [7]}),
                 404, 40403)

    assert requests.delete(url(api, f"/v1/groups/{group}"), timeout=T).status_code == 204
    assert_error(requests.get(url(api, f"/v1/groups/{group}"), timeout=T), 404, 40404)
    assert_error(requests.delete(url(api, f"/v1/groups/{group}"), timeout=T), 404, 40404)
    assert group not in {g["group_id"] for g in requests.get(url(api, "/v1/groups"),
                                                               timeout=T).json()}


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def test_malformed_oversized_wrong_method_unknown_path(api, unique_topic):
    name = unique_topic()
    create(api, name)
    for raw in [b"{", b"", b"null", b"[]", b"\xff\xfe", b'{"configs": 5}', b'{"configs": {"a": {}}}']:
        r = requests.patch(url(api, f"/v1/topics/{name}/configs"), data=raw, timeout=T,
                           headers={"content-type": "application/json"})
        assert_error(r, 400)
    assert_error(requests.post(url(api, "/v1/topics"), data=b'{"name": ', timeout=T), 400, 40003)
    # Over 1 MiB: 413, in the JSON shape, and the broker keeps serving.
    big = json.dumps({"name": "x", "configs": {"k": "v" * (1024 * 1024 + 10)}})
    assert_error(requests.post(url(api, "/v1/topics"), data=big, timeout=T), 413)
    assert_error(requests.patch(url(api, f"/v1/topics/{name}/configs"), data=big, timeout=T), 413)
    # Wrong methods: 405 JSON.
    for method, path in [("PUT", "/v1/topics"), ("DELETE", "/v1/cluster"),
                         ("POST", f"/v1/topics/{name}"), ("GET", "/v1/groups/x/reset-offsets"),
                         ("POST", "/metrics"), ("DELETE", "/health/live")]:
        assert_error(requests.request(method, url(api, path), timeout=T), 405, 405)
    # Unknown paths under /v1: 404 JSON.
    for path in ["/v1/nope", "/v1/topics/a/b/c/d/e", "/v1/groups/x/y"]:
        assert_error(requests.get(url(api, path), timeout=T), 404, 40400)
    assert requests.get(url(api, "/health/ready"), timeout=T).status_code == 200


def test_fuzz_no_5xx_and_broker_survives(api, unique_topic):
    rng = random.Random(6)
    name = unique_topic()
    create(api, name)
    paths = ["/v1/topics", f"/v1/topics/{name}", f"/v1/topics/{name}/configs",
             f"/v1/topics/{name}/partitions", "/v1/groups", "/v1/groups/fz",
             "/v1/groups/fz/reset-offsets", "/v1/cluster", "/v1/stats", "/v1/topics/%00",
             "/v1/topics/" + "a" * 300, "/v1/groups/%ff%fe", "/v1/topics/..%2f..", "/v1/"]
    values = [None, True, -1, 0, 2**63, -2**63, 1e308, "", "x" * 1000, [], {}, [1, "a"],
              {"a": None}, "earliest", "latest", "timestamp", "offset", name]
    keys = ["name", "partitions", "replication_factor", "configs", "count", "topic", "to",
            "offset", "timestamp_ms", "retention.ms", "cleanup.policy"]
    for _ in range(200):
        method = rng.choice(["GET", "POST", "PATCH", "DELETE", "PUT"])
        path = rng.choice(paths)
        kind = rng.random()
        if kind < 0.3:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        else:
            body = {rng.choice(keys): rng.choice(values) for _ in range(rng.randrange(5))}
            if rng.random() < 0.3:
                body["configs"] = {rng.choice(keys): rng.choice(values)}
            data = json.dumps(body).encode()
        if method == "DELETE" and path == f"/v1/topics/{name}":
            continue  # keep the fuzz target alive
        r = requests.request(method, url(api, path), data=data, timeout=T)
        assert r.status_code < 500, (method, path, data, r.status_code, r.text)
        if r.status_code >= 400:
            assert_error(r, r.status_code)
    api.assert_alive()
    produce(api, name, 1)
    assert requests.get(url(api, f"/v1/topics/{name}"), timeout=T).status_code == 200


# ------------------------------------------------------------------------------------------
# OpenAPI
# ------------------------------------------------------------------------------------------


def test_openapi_document_matches_the_server(api, unique_topic):
    """Every documented operation exists on the live server (never the router's 404 or a 405),
    and no other method is served on a documented path. (The Rust test `openapi::tests` checks
    the other direction: every route of the router is documented.)"""
    doc = requests.get(url(api, "/openapi.json"), timeout=T).json()
    assert doc["openapi"].startswith("3.")
    topic = unique_topic()
    create(api, topic)
    methods = ["get", "post", "put", "patch", "delete"]
    documented = 0
    for path, item in doc["paths"].items():
        concrete = (path.replace("{name}", topic).replace("{id}", "openapi-probe")
                    .replace("{p}", "0"))
        for m in methods:
            if m == "delete" and "{name}" in path:
                concrete_m = concrete.replace(topic, "openapi-no-such-topic")
            else:
                concrete_m = concrete
            r = requests.request(m.upper(), url(api, concrete_m), json={}, timeout=T)
            if m in item:
                documented += 1
                assert r.status_code != 405, (m, path, r.text)
                assert r.status_code < 500, (m, path, r.text)
                if r.status_code == 404:
                    assert r.json()["error_code"] != 40400, (m, path, "route missing")
                for code, resp in item[m]["responses"].items():
                    assert code.isdigit() and "description" in resp
            else:
                assert r.status_code == 405, (m, path, r.status_code)
    assert documented >= 17
