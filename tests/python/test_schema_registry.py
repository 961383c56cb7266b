"""The built-in schema registry against Confluent's own Python client and raw HTTP.

Why: Sluice's registry claims Confluent Schema Registry compatibility, so it is driven by what
users run: confluent-kafka's `SchemaRegistryClient` with `AvroSerializer`/`AvroDeserializer`
(register, look up, produce and consume typed records through the broker, evolve schemas under
every compatibility level) and raw `requests` calls that pin each endpoint's payload, status code
and Confluent error code, including bad input (which must never produce a 500). A SIGKILL test
checks that ids, versions and configuration live in `_schemas` and survive a crash.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
import requests
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

CT = "application/vnd.schemaregistry.v1+json"


def record(name: str, fields: list[dict], namespace: str = "sluice.test") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": namespace, "fields": fields})


USER_V1 = record("User", [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}])
USER_V2 = record("User", [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
                          {"name": "email", "type": ["null", "string"], "default": None}])


def subject(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Http:
    """Raw HTTP to the registry; every answer is checked to be JSON with the registry's type."""

    def __init__(self, base: str):
        self.base = base
        self.s = requests.Session()

    def call(self, method: str, path: str, body=None, raw: bytes | None = None,
             content_type: str = CT, **params):
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        r = self.s.request(method, self.base + path, data=data, params=params or None,
                           headers={"Content-Type": content_type}, timeout=30)
        assert r.status_code < 500, f"{method} {path} -> {r.status_code} {r.text}"
        return r

    def ok(self, method: str, path: str, body=None, **params):
        r = self.call(method, path, body, **params)
        assert r.status_code == 200, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json()

    def err(self, method: str, path: str, body=None, *, status: int, code: int,
            raw: bytes | None = None, **params) -> str:
        r = self.call(method, path, body, raw=raw, **params)
        assert r.status_code == status, f"{method} {path} -> {r.status_code} {r.text}"
        doc = r.json()
        assert doc["error_code"] == code, doc
        assert isinstance(doc["message"], str) and doc["message"], doc
        return doc["message"]


@pytest.fixture
def http(sluice_module) -> Http:
    return Http(sluice_module.registry_url)


@pytest.fixture
def client(sluice_module) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": sluice_module.registry_url})


# -- Confluent's Python client ------------------------------------------------------------------

def test_client_register_lookup_and_get_by_id(sluice_module, client):
    s1, s2 = subject("users"), subject("users")
    id1 = client.register_schema(s1, Schema(USER_V1, "AVRO"))
    assert id1 >= 1
    # Same schema, different layout: same id, no new version.
    relaid = json.dumps(json.loads(USER_V1), indent=2)
    # (a fresh client, so its cache cannot answer for the registry)
    assert SchemaRegistryClient({"url": sluice_module.registry_url}).register_schema(
        s1, Schema(relaid, "AVRO")) == id1
    # Same schema under another subject reuses the id.
    assert client.register_schema(s2, Schema(USER_V1, "AVRO")) == id1
    found = client.lookup_schema(s1, Schema(USER_V1, "AVRO"))
    assert (found.schema_id, found.version, found.subject) == (id1, 1, s1)
    fetched = client.get_schema(id1)
    assert json.loads(fetched.schema_str) == json.loads(USER_V1)
    id2 = client.register_schema(s1, Schema(USER_V2, "AVRO"))
    assert id2 > id1
    latest = client.get_latest_version(s1)
    assert (latest.version, latest.schema_id) == (2, id2)
    assert client.get_versions(s1) == [1, 2]
    assert {s1, s2} <= set(client.get_subjects())
    assert client.get_version(s1, 1).schema_id == id1


def test_avro_serde_end_to_end_through_the_broker(sluice_module, client, unique_topic):
    topic = unique_topic("avro")
    ser = AvroSerializer(client, USER_V1)
    de = AvroDeserializer(client)
    users = [{"name": f"user-{i}", "age": 20 + i} for i in range(20)]
    p = Producer({"bootstrap.servers": sluice_module.bootstrap})
    for u in users:
        ctx = SerializationContext(topic, MessageField.VALUE)
        p.produce(topic, value=ser(u, ctx))
    assert p.flush(30) == 0
    # The serializer registered the schema under the topic's value subject.
    registered = client.get_latest_version(f"{topic}-value")
    assert json.loads(registered.schema.schema_str) == json.loads(USER_V1)
    c = Consumer({"bootstrap.servers": sluice_module.bootstrap, "group.id": subject("g"),
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < len(users) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            # Confluent wire format: magic 0 and the registered id.
            assert m.value()[0] == 0
            assert int.from_bytes(m.value()[1:5], "big") == registered.schema_id
            got.append(de(m.value(), SerializationContext(topic, MessageField.VALUE)))
    finally:
        c.close()
    assert got == users


# (level, versions in order, expected outcome of registering each: True = accepted)
EVOLUTIONS = {
    "BACKWARD": [
        [{"name": "a", "type": "int"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],  # ok vs latest only
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}, {"name": "c", "type": "int"}],
    ],
    "BACKWARD_TRANSITIVE": [
        [{"name": "a", "type": "int"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],  # fails against v1
    ],
    "FORWARD": [
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}],
        [{"name": "a", "type": "int"}],  # ok vs latest only
        [{"name": "a", "type": "long"}],
    ],
    "FORWARD_TRANSITIVE": [
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}],
        [{"name": "a", "type": "int"}],  # fails against v1
    ],
    "FULL": [
        [{"name": "a", "type": "int"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],  # ok vs latest only
        [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}],
    ],
    "FULL_TRANSITIVE": [
        [{"name": "a", "type": "int"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}],
        [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}],  # fails against v1
    ],
    "NONE": [
        [{"name": "a", "type": "int"}],
        [{"name": "a", "type": "string"}],
        [{"name": "z", "type": "boolean"}],
    ],
}
OUTCOMES = {
    "BACKWARD": [True, True, True, False],
    "BACKWARD_TRANSITIVE": [True, True, False],
    "FORWARD": [True, True, True, False],
    "FORWARD_TRANSITIVE": [True, True, False],
    "FULL": [True, True, True, False],
    "FULL_TRANSITIVE": [True, True, False],
    "NONE": [True, True, True],
}


@pytest.mark.parametrize("level", list(EVOLUTIONS))
def test_schema_evolution_under_each_compatibility_level(client, http, level):
    s = subject(level.lower())
    assert client.set_compatibility(s, level) == {"compatibility": level}
    assert client.get_compatibility(s) == level
    for fields, accepted in zip(EVOLUTIONS[level], OUTCOMES[level]):
        schema = Schema(record("Evolving", fields), "AVRO")
        verdict = http.ok("POST", f"/compatibility/subjects/{s}/versions",
                          {"schema": schema.schema_str}, verbose="true")
        assert verdict["is_compatible"] == accepted, verdict
        if accepted:
            client.register_schema(s, schema)
            continue
        assert verdict["messages"], verdict
        with pytest.raises(SchemaRegistryError) as e:
            client.register_schema(s, schema)
        assert e.value.http_status_code == 409
        assert e.value.error_code == 409
        assert "incompatible with an earlier schema" in e.value.error_message
        assert level in e.value.error_message
        assert "errorType:" in e.value.error_message
    assert len(client.get_versions(s)) == OUTCOMES[level].count(True)


# -- Raw HTTP: every endpoint ---------------------------------------------------------------------

def test_subjects_versions_and_schemas_endpoints(http):
    s = subject("raw")
    # Schemas of this test only, so id lookups see no other test's subjects.
    ns = f"raw{uuid.uuid4().hex[:8]}"
    USER_V1 = record("User", json.loads(globals()["USER_V1"])["fields"], ns)
    USER_V2 = record("User", json.loads(globals()["USER_V2"])["fields"], ns)
    assert http.ok("GET", "/") == {}
    first = http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V1})
    assert set(first) == {"id"}
    sid = first["id"]
    # Content types Confluent also accepts.
    r = http.call("POST", f"/subjects/{s}/versions", {"schema": USER_V1},
                  content_type="application/json")
    assert r.status_code == 200 and r.json() == {"id": sid}
    assert r.headers["Content-Type"].startswith(CT)
    r = http.call("POST", f"/subjects/{s}/versions", {"schema": USER_V1},
                  content_type="application/octet-stream")
    assert r.json() == {"id": sid}
    v2 = http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V2, "schemaType": "AVRO"})["id"]

    assert s in http.ok("GET", "/subjects")
    assert http.ok("GET", "/subjects", subjectPrefix=s) == [s]
    assert http.ok("GET", f"/subjects/{s}/versions") == [1, 2]
    doc = http.ok("GET", f"/subjects/{s}/versions/1")
    assert doc == {"subject": s, "version": 1, "id": sid, "schema": USER_V1}
    assert http.ok("GET", f"/subjects/{s}/versions/latest")["id"] == v2
    assert http.ok("GET", f"/subjects/{s}/versions/-1")["version"] == 2
    assert http.ok("GET", f"/subjects/{s}/versions/1/schema") == json.loads(USER_V1)
    assert http.ok("POST", f"/subjects/{s}", {"schema": USER_V2}) == {
        "subject": s, "version": 2, "id": v2, "schema": USER_V2}

    assert http.ok("GET", f"/schemas/ids/{sid}") == {"schema": USER_V1}
    assert http.ok("GET", f"/schemas/ids/{sid}", subject=s) == {"schema": USER_V1}
    assert http.ok("GET", f"/schemas/ids/{sid}/schema") == json.loads(USER_V1)
    assert http.ok("GET", f"/schemas/ids/{sid}/versions") == [{"subject": s, "version": 1}]
    assert http.ok("GET", f"/schemas/ids/{v2}/subjects") == [s]
    assert "AVRO" in http.ok("GET", "/schemas/types")
    listed = http.ok("GET", "/schemas", subjectPrefix=s)
    assert [(x["subject"], x["version"]) for x in listed] == [(s, 1), (s, 2)]
    assert [x["version"] for x in http.ok("GET", "/schemas", subjectPrefix=s, latestOnly="true")] == [2]

    # Soft delete one version, then the subject; permanent delete needs the soft one first.
    assert http.ok("DELETE", f"/subjects/{s}/versions/1") == 1
    assert http.ok("GET", f"/subjects/{s}/versions") == [2]
    assert http.ok("GET", f"/subjects/{s}/versions", deleted="true") == [1, 2]
    http.err("GET", f"/subjects/{s}/versions/1", status=404, code=40402)
    assert http.ok("GET", f"/subjects/{s}/versions/1", deleted="true")["id"] == sid
    http.err("DELETE", f"/subjects/{s}/versions/1", status=404, code=40406)
    http.err("DELETE", f"/subjects/{s}/versions/2", status=404, code=40407, permanent="true")
    assert http.ok("DELETE", f"/subjects/{s}/versions/1", permanent="true") == 1
    http.err("DELETE", f"/subjects/{s}", status=404, code=40405, permanent="true")
    assert http.ok("DELETE", f"/subjects/{s}") == [2]
    assert s not in http.ok("GET", "/subjects")
    assert s in http.ok("GET", "/subjects", deleted="true")
    http.err("GET", f"/subjects/{s}/versions", status=404, code=40401)
    http.err("DELETE", f"/subjects/{s}", status=404, code=40404)
    # Re-registering after a soft delete continues the version numbers.
    assert http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V2})["id"] == v2
    assert http.ok("GET", f"/subjects/{s}/versions") == [3]
    assert http.ok("DELETE", f"/subjects/{s}") == [3]
    assert http.ok("DELETE", f"/subjects/{s}", permanent="true") == [2, 3]
    assert s not in http.ok("GET", "/subjects", deleted="true")
    http.err("GET", f"/subjects/{s}/versions", status=404, code=40401)


def test_config_and_mode_endpoints(http):
    s = subject("cfg")
    assert http.ok("GET", "/config")["compatibilityLevel"] == "BACKWARD"
    http.err("GET", f"/config/{s}", status=404, code=40408)
    assert http.ok("GET", f"/config/{s}", defaultToGlobal="true") == {"compatibilityLevel": "BACKWARD"}
    assert http.ok("PUT", f"/config/{s}", {"compatibility": "full_transitive"}) == {
        "compatibility": "FULL_TRANSITIVE"}
    assert http.ok("GET", f"/config/{s}") == {"compatibilityLevel": "FULL_TRANSITIVE"}
    http.err("PUT", f"/config/{s}", {"compatibility": "SIDEWAYS"}, status=422, code=42203)
    assert http.ok("DELETE", f"/config/{s}") == {"compatibilityLevel": "FULL_TRANSITIVE"}
    http.err("GET", f"/config/{s}", status=404, code=40408)
    http.err("DELETE", f"/config/{subject('none')}", status=404, code=40401)

    assert http.ok("GET", "/mode") == {"mode": "READWRITE"}
    http.err("GET", f"/mode/{s}", status=404, code=40409)
    assert http.ok("GET", f"/mode/{s}", defaultToGlobal="true") == {"mode": "READWRITE"}
    http.err("PUT", f"/mode/{s}", {"mode": "SOMETIMES"}, status=422, code=42204)
    assert http.ok("PUT", f"/mode/{s}", {"mode": "READONLY"}) == {"mode": "READONLY"}
    msg = http.err("POST", f"/subjects/{s}/versions", {"schema": USER_V1}, status=422, code=42205)
    assert "read-only" in msg
    assert http.ok("DELETE", f"/mode/{s}") == {"mode": "READONLY"}
    http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V1})
    # IMPORT needs an empty subject (or force) and allows an explicit id and version.
    http.err("PUT", f"/mode/{s}", {"mode": "IMPORT"}, status=422, code=42205)
    imp = subject("import")
    assert http.ok("PUT", f"/mode/{imp}", {"mode": "IMPORT"}) == {"mode": "IMPORT"}
    assert http.ok("POST", f"/subjects/{imp}/versions",
                   {"schema": record("Imported", [{"name": "x", "type": "int"}]),
                    "id": 90001, "version": 7}) == {"id": 90001}
    assert http.ok("GET", f"/subjects/{imp}/versions") == [7]
    assert http.ok("GET", "/schemas/ids/90001")["schema"].startswith('{"type": "record"')
    http.err("POST", f"/subjects/{imp}/versions",
             {"schema": record("Other", [{"name": "y", "type": "int"}]), "id": 90001},
             status=422, code=42205)
    http.ok("DELETE", f"/mode/{imp}")
    # Global modes: IMPORT needs an empty registry; READONLY stops every subject's writes.
    http.err("PUT", "/mode", {"mode": "IMPORT"}, status=422, code=42205)
    assert http.ok("PUT", "/mode", {"mode": "READONLY"}) == {"mode": "READONLY"}
    try:
        http.err("POST", f"/subjects/{subject('ro')}/versions", {"schema": USER_V1},
                 status=422, code=42205)
        assert http.ok("GET", f"/mode/{s}", defaultToGlobal="true") == {"mode": "READONLY"}
    finally:
        assert http.ok("PUT", "/mode", {"mode": "READWRITE"}) == {"mode": "READWRITE"}
    # Deleting a subject drops its own compatibility level too.
    http.ok("PUT", f"/config/{s}", {"compatibility": "NONE"})
    assert http.ok("DELETE", f"/subjects/{s}") == [1]
    http.err("GET", f"/config/{s}", status=404, code=40408)
    http.err("POST", f"/subjects/{imp}/versions",
             {"schema": record("Other", [{"name": "y", "type": "int"}]), "id": 90002},
             status=422, code=42205)


def test_compatibility_endpoints(http):
    s = subject("compat")
    # Nothing registered yet: anything is compatible with "all versions".
    assert http.ok("POST", f"/compatibility/subjects/{s}/versions", {"schema": USER_V1}) == {
        "is_compatible": True}
    http.err("POST", f"/compatibility/subjects/{s}/versions/latest", {"schema": USER_V1},
             status=404, code=40401)
    http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V1})
    bad = record("User", [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
                          {"name": "nickname", "type": "string"}])
    assert http.ok("POST", f"/compatibility/subjects/{s}/versions/latest", {"schema": bad}) == {
        "is_compatible": False}
    verbose = http.ok("POST", f"/compatibility/subjects/{s}/versions/1", {"schema": bad},
                      verbose="true")
    assert verbose["is_compatible"] is False
    assert any("READER_FIELD_MISSING_DEFAULT_VALUE" in m and "nickname" in m
               for m in verbose["messages"]), verbose
    assert http.ok("POST", f"/compatibility/subjects/{s}/versions/1", {"schema": USER_V2},
                   verbose="true") == {"is_compatible": True, "messages": []}
    http.err("POST", f"/compatibility/subjects/{s}/versions/9", {"schema": USER_V2},
             status=404, code=40402)
    msg = http.err("POST", f"/subjects/{s}/versions", {"schema": bad}, status=409, code=409)
    assert "nickname" in msg and "BACKWARD" in msg


def test_references_are_resolved_stored_and_protected(http):
    addr_subject, person_subject = subject("addr"), subject("person")
    address = record("Address", [{"name": "street", "type": "string"}])
    aid = http.ok("POST", f"/subjects/{addr_subject}/versions", {"schema": address})["id"]
    person = record("Person", [{"name": "name", "type": "string"},
                               {"name": "home", "type": "sluice.test.Address"}])
    refs = [{"name": "sluice.test.Address", "subject": addr_subject, "version": 1}]
    pid = http.ok("POST", f"/subjects/{person_subject}/versions",
                  {"schema": person, "references": refs})["id"]
    assert pid != aid
    assert http.ok("GET", f"/subjects/{person_subject}/versions/1")["references"] == refs
    assert http.ok("GET", f"/schemas/ids/{pid}")["references"] == refs
    assert http.ok("GET", f"/subjects/{addr_subject}/versions/1/referencedby") == [pid]
    assert http.ok("POST", f"/subjects/{person_subject}",
                   {"schema": person, "references": refs})["id"] == pid
    # The referenced schema cannot be deleted while it is in use.
    http.err("DELETE", f"/subjects/{addr_subject}/versions/1", status=422, code=42206)
    http.err("DELETE", f"/subjects/{addr_subject}", status=422, code=42206)
    # Without the reference the type is unknown; references to nothing are invalid.
    http.err("POST", f"/subjects/{subject('p')}/versions", {"schema": person},
             status=422, code=42201)
    http.err("POST", f"/subjects/{subject('p')}/versions",
             {"schema": person, "references": [{"name": "sluice.test.Address",
                                                "subject": subject("nowhere"), "version": 1}]},
             status=422, code=42201)
    # References of references are resolved too (Order -> Customer -> Address).
    cust_subject, order_subject = subject("cust"), subject("order")
    customer = record("Customer", [{"name": "addr", "type": "sluice.test.Address"}])
    cid = http.ok("POST", f"/subjects/{cust_subject}/versions",
                  {"schema": customer, "references": refs})["id"]
    order = record("Order", [{"name": "by", "type": "sluice.test.Customer"},
                             {"name": "ship_to", "type": "sluice.test.Address"}])
    order_refs = [{"name": "sluice.test.Customer", "subject": cust_subject, "version": 1}]
    oid = http.ok("POST", f"/subjects/{order_subject}/versions",
                  {"schema": order, "references": order_refs})["id"]
    assert http.ok("GET", f"/subjects/{cust_subject}/versions/1/referencedby") == [oid]
    assert sorted(http.ok("GET", f"/subjects/{addr_subject}/versions/1/referencedby")) == sorted([pid, cid])
    for s in (order_subject, cust_subject):
        http.ok("DELETE", f"/subjects/{s}")
    # Once the referrer is gone, the referenced version can go.
    http.ok("DELETE", f"/subjects/{person_subject}")
    assert http.ok("DELETE", f"/subjects/{addr_subject}/versions/1") == 1


def test_bad_input_gets_confluent_error_codes(http):
    s = subject("bad")
    http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V1})
    for schema in ['{"type": "record", "name": "X"}', "{not json", '"nosuchtype"',
                   '{"type": "enum", "name": "E", "symbols": ["A", "A"]}', ""]:
        http.err("POST", f"/subjects/{s}/versions", {"schema": schema}, status=422, code=42201)
    http.err("POST", f"/subjects/{s}/versions", {"schema": USER_V1, "schemaType": "XML"},
             status=422, code=42201)
    http.err("POST", f"/subjects/{s}/versions", {}, status=422, code=42201)
    # Malformed request bodies: Confluent's server answers 400 with error_code 400.
    http.err("POST", f"/subjects/{s}/versions", raw=b"{nope", status=400, code=400)
    http.err("POST", f"/subjects/{s}/versions", {"schema": {"type": "string"}}, status=400, code=400)
    http.err("POST", f"/subjects/{s}", raw=b"[1,2", status=400, code=400)
    http.err("PUT", "/config", raw=b"", status=400, code=400)
    # Unknown things.
    http.err("GET", f"/subjects/{subject('missing')}/versions", status=404, code=40401)
    http.err("GET", f"/subjects/{subject('missing')}/versions/1", status=404, code=40401)
    http.err("POST", f"/subjects/{subject('missing')}", {"schema": USER_V1}, status=404, code=40401)
    http.err("DELETE", f"/subjects/{subject('missing')}", status=404, code=40401)
    http.err("GET", f"/subjects/{s}/versions/99", status=404, code=40402)
    http.err("POST", f"/subjects/{s}", {"schema": USER_V2}, status=404, code=40403)
    http.err("GET", "/schemas/ids/987654", status=404, code=40403)
    http.err("GET", "/schemas/ids/987654/versions", status=404, code=40403)
    for v in ["0", "-2", "abc", "99999999999"]:
        http.err("GET", f"/subjects/{s}/versions/{v}", status=422, code=42202)
    http.err("GET", "/no/such/path", status=404, code=404)
    http.err("PATCH", f"/subjects/{s}/versions", status=405, code=405)
    # Subjects with characters that need escaping round-trip.
    odd = f"weird {uuid.uuid4().hex[:6]}/é?&"
    quoted = requests.utils.quote(odd, safe="")
    sid = http.ok("POST", f"/subjects/{quoted}/versions", {"schema": USER_V1})["id"]
    assert http.ok("GET", f"/subjects/{quoted}/versions/1")["subject"] == odd
    assert odd in http.ok("GET", "/subjects")
    assert sid >= 1


def test_json_and_protobuf_go_through_the_same_registry(http):
    assert sorted(http.ok("GET", "/schemas/types")) == ["AVRO", "JSON", "PROTOBUF"]
    js, pb = subject("json"), subject("proto")
    json_schema = json.dumps({"type": "object", "properties": {"a": {"type": "integer"}}})
    jid = http.ok("POST", f"/subjects/{js}/versions", {"schema": json_schema, "schemaType": "JSON"})["id"]
    assert http.ok("GET", f"/schemas/ids/{jid}") == {"schema": json_schema, "schemaType": "JSON"}
    assert http.ok("GET", f"/subjects/{js}/versions/1")["schemaType"] == "JSON"
    # Same text as AVRO is a different schema (and not valid Avro).
    http.err("POST", f"/subjects/{subject('j')}/versions", {"schema": json_schema},
             status=422, code=42201)
    proto = 'syntax = "proto3";\npackage t;\nmessage M { string a = 1; }\n'
    pid = http.ok("POST", f"/subjects/{pb}/versions", {"schema": proto, "schemaType": "PROTOBUF"})["id"]
    assert pid != jid
    assert http.ok("GET", f"/schemas/ids/{pid}")["schemaType"] == "PROTOBUF"
    assert http.ok("POST", f"/subjects/{pb}", {"schema": proto, "schemaType": "PROTOBUF"})["id"] == pid
    http.err("POST", f"/subjects/{pb}/versions", {"schema": "syntax = nonsense", "schemaType": "PROTOBUF"},
             status=422, code=42201)
    # A schema of another type under the same subject is not compatible with it.
    http.err("POST", f"/subjects/{pb}/versions", {"schema": json_schema, "schemaType": "JSON"},
             status=409, code=409)


def test_garbage_never_gets_a_500(http):
    s = subject("junk")
    http.ok("POST", f"/subjects/{s}/versions", {"schema": USER_V1})
    bodies = [b"", b"null", b"[]", b"42", b'"str"', b"{", b"\xff\xfe", b'{"schema": null}',
              b'{"schema": 5}', b'{"schema": "\\u0000"}', b'{"references": "x"}',
              b'{"schema": "{}", "references": [{"name": 1}]}',
              b'{"schema": "[]"}', b'{"schema": "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"}',
              b'{"schema": "' + b"[" * 5000 + b'"}', b'{"schema": "\\"int\\"", "version": "x"}']
    paths = [f"/subjects/{s}/versions", f"/subjects/{s}", f"/compatibility/subjects/{s}/versions",
             f"/compatibility/subjects/{s}/versions/latest", "/config", f"/config/{s}",
             "/mode", f"/mode/{s}"]
    for path in paths:
        for b in bodies:
            method = "PUT" if path.startswith(("/config", "/mode")) else "POST"
            r = http.call(method, path, raw=b)
            assert r.status_code in (200, 400, 404, 409, 422), (path, b, r.status_code, r.text)
            if r.status_code != 200:
                assert isinstance(r.json()["error_code"], int)
    for path in ["/schemas/ids/-1", "/schemas/ids/x", "/schemas/ids/99999999999", "/subjects/%00",
                 f"/subjects/{s}/versions/latest/referencedby", "/contexts"]:
        http.call("GET", path)
    for path in ["/subjects/%FF%FE/versions", "/subjects?subjectPrefix=%FF"]:
        r = http.call("GET", path)
        assert r.status_code in (200, 400, 404), (path, r.status_code, r.text)
        assert r.status_code == 200 or isinstance(r.json()["error_code"], int)
    # The registry still works and holds exactly what was registered.
    assert http.ok("GET", f"/subjects/{s}/versions") == [1]


def test_concurrent_registrations_get_distinct_stable_ids(http):
    from concurrent.futures import ThreadPoolExecutor
    ns = f"conc{uuid.uuid4().hex[:8]}"
    schemas = [record(f"T{i}", [{"name": "x", "type": "int"}], ns) for i in range(16)]

    def reg(i):
        return Http(http.base).ok("POST", f"/subjects/{ns}-{i}/versions",
                                  {"schema": schemas[i]})["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(reg, range(16)))
        again = list(pool.map(reg, range(16)))
    assert len(set(ids)) == 16
    assert again == ids
    # One schema registered at once under many subjects gets one id.
    shared = record("Shared", [{"name": "y", "type": "long"}], ns)
    with ThreadPoolExecutor(8) as pool:
        shared_ids = set(pool.map(
            lambda i: Http(http.base).ok("POST", f"/subjects/{ns}-shared-{i}/versions",
                                         {"schema": shared})["id"], range(8)))
    assert len(shared_ids) == 1


def test_ids_and_subjects_survive_sigkill(sluice_factory):
    b = sluice_factory()
    h = Http(b.registry_url)
    s1, s2, s3 = subject("crash"), subject("crash"), subject("crash")
    id1 = h.ok("POST", f"/subjects/{s1}/versions", {"schema": USER_V1})["id"]
    id2 = h.ok("POST", f"/subjects/{s1}/versions", {"schema": USER_V2})["id"]
    assert h.ok("POST", f"/subjects/{s2}/versions", {"schema": USER_V1})["id"] == id1
    other = record("Other", [{"name": "x", "type": "long"}])
    id3 = h.ok("POST", f"/subjects/{s3}/versions", {"schema": other})["id"]
    h.ok("PUT", f"/config/{s2}", {"compatibility": "NONE"})
    h.ok("PUT", "/config", {"compatibility": "FULL"})
    h.ok("DELETE", f"/subjects/{s3}")
    # A permanently deleted subject holding the newest id: gone after the restart, id not reused.
    s4 = subject("crash")
    id4 = h.ok("POST", f"/subjects/{s4}/versions",
               {"schema": record("Gone", [{"name": "g", "type": "int"}])})["id"]
    h.ok("DELETE", f"/subjects/{s4}")
    h.ok("DELETE", f"/subjects/{s4}", permanent="true")
    before = {s: h.ok("GET", f"/subjects/{s}/versions/latest") for s in (s1, s2)}
    b.kill()
    b.start()
    h = Http(b.registry_url)
    assert sorted(h.ok("GET", "/subjects")) == sorted([s1, s2])
    assert s3 in h.ok("GET", "/subjects", deleted="true")
    assert s4 not in h.ok("GET", "/subjects", deleted="true")
    h.err("GET", f"/schemas/ids/{id4}", status=404, code=40403)
    for s, doc in before.items():
        assert h.ok("GET", f"/subjects/{s}/versions/latest") == doc
    assert h.ok("GET", f"/subjects/{s1}/versions") == [1, 2]
    assert h.ok("GET", f"/schemas/ids/{id2}") == {"schema": USER_V2}
    assert h.ok("GET", f"/config/{s2}") == {"compatibilityLevel": "NONE"}
    assert h.ok("GET", "/config") == {"compatibilityLevel": "FULL"}
    # Ids keep counting from where they were; none is handed out twice.
    new = h.ok("POST", f"/subjects/{subject('after')}/versions",
               {"schema": record("Fresh", [{"name": "f", "type": "int"}])})["id"]
    assert new > max(id1, id2, id3, id4)
    assert h.ok("POST", f"/subjects/{s1}/versions", {"schema": USER_V1})["id"] == id1


def test_cli_schema_commands(sluice_module, sluice_bin, tmp_path):
    url = ["--registry-url", sluice_module.registry_url]
    s = subject("cli")

    def run(*args, ok=True):
        r = subprocess.run([str(sluice_bin), "schema", *args], capture_output=True, text=True,
                           timeout=30)
        assert (r.returncode == 0) == ok, (args, r.returncode, r.stdout, r.stderr)
        return r

    path = tmp_path / "user.avsc"
    path.write_text(USER_V1)
    sid = int(run("register", s, "--file", str(path), *url).stdout.strip())
    assert s in run("list", "--prefix", s, *url).stdout.split("\n")
    got = json.loads(run("get", s, *url).stdout)
    assert (got["id"], got["version"]) == (sid, 1)
    assert json.loads(run("get", "--id", str(sid), *url).stdout)["schema"] == USER_V1
    assert run("check", s, "--schema", USER_V2, *url).stdout.startswith("compatible")
    bad = record("User", [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
                          {"name": "z", "type": "string"}])
    r = run("check", s, "--schema", bad, *url, ok=False)
    assert "incompatible" in r.stdout and "READER_FIELD_MISSING_DEFAULT_VALUE" in r.stdout
    r = run("register", s, "--schema", bad, *url, ok=False)
    assert "error_code 409" in r.stderr
    # A schema with a reference.
    holder = subject("cli-holder")
    holder_schema = record("Holder", [{"name": "u", "type": "sluice.test.User"}])
    hid = int(run("register", holder, "--schema", holder_schema,
                  "--reference", f"sluice.test.User={s}:1", *url).stdout.strip())
    assert json.loads(run("get", "--id", str(hid), *url).stdout)["references"] == [
        {"name": "sluice.test.User", "subject": s, "version": 1}]
    r = run("register", holder, "--schema", holder_schema, "--reference", "nonsense", *url, ok=False)
    assert "NAME=SUBJECT:VERSION" in r.stderr
    run("delete", holder, *url)
    assert run("delete", s, *url).stdout.strip() == "[1]"
    r = run("get", s, *url, ok=False)
    assert "40401" in r.stderr
    assert run("delete", s, "--permanent", *url).stdout.strip() == "[1]"
