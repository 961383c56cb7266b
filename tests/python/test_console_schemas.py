"""The console's schema registry pages and registry-aware message browser (issue 7), in a real
headless Chromium, plus the read-only `/v1/schemas/...` API behind them.

Why: the registry listens on its own port, so the console reads it through proxy routes on the
HTTP listener; a subject list that misses a subject, a diff that hides the field a new version
added, or a browser that shows Avro bytes instead of the record are what users would hit.
Schemas are registered and records produced with confluent-kafka's own SchemaRegistryClient and
AvroSerializer / JSONSerializer against the built-in registry, as applications do.

Run: .venv/bin/pytest -q tests/python/test_console_schemas.py   (needs /usr/bin/chromium).
SLUICE_SCREENSHOTS=1 also writes docs/console/schemas.png, schema-subject.png and
messages-schema.png.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from test_console import Page, browser, expect, shots_dir  # noqa: F401  (fixtures)

TOPIC = "payments-avro"
SUBJECT = f"{TOPIC}-value"
JSON_TOPIC = "shipments-json"
PAYMENT_V1 = {
    "type": "record", "name": "Payment", "namespace": "com.example.billing",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}],
}
# Version 2 adds a field with a default: BACKWARD compatible.
PAYMENT_V2 = {**PAYMENT_V1, "fields": PAYMENT_V1["fields"] + [
    {"name": "currency", "type": "string", "default": "EUR"}]}
PAYMENT = {"id": "pay-7781", "amount": 129.5, "currency": "NOK"}
SHIPMENT_SCHEMA = {"type": "object", "title": "Shipment",
                   "properties": {"parcel": {"type": "string"}, "weight_kg": {"type": "number"}}}
SHIPMENT = {"parcel": "PX-300", "weight_kg": 2.25}
PROTO_TOPIC = "orders-proto"


def order_classes():
    """shop.Order { string sku = 1; int64 total_cents = 2; Status status = 3; Line line = 4; }
    with a nested shop.Order.Line, built at run time (no protoc); returns (Order, Line)."""
    fdp = descriptor_pb2.FileDescriptorProto(name="console_order.proto", package="shop", syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    status = fdp.enum_type.add(name="Status")
    status.value.add(name="NEW", number=0)
    status.value.add(name="PAID", number=1)
    order = fdp.message_type.add(name="Order")
    line = order.nested_type.add(name="Line")
    line.field.add(name="qty", number=1, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    order.field.add(name="sku", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    order.field.add(name="total_cents", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    order.field.add(name="status", number=3, type=F.TYPE_ENUM, type_name=".shop.Status", label=F.LABEL_OPTIONAL)
    order.field.add(name="line", number=4, type=F.TYPE_MESSAGE, type_name=".shop.Order.Line", label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order.Line")))


def produce(bootstrap: str, topic: str, value: bytes) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    errors = []
    p.produce(topic, value=value, key=b"k-1", on_delivery=lambda e, _m: errors.append(e) if e else None)
    assert p.flush(30) == 0 and not errors, errors


@pytest.fixture(scope="module")
def registry(sluice_module):
    """The module's broker with two versions of SUBJECT, one Avro record and one JSON record."""
    b = sluice_module
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    topics = [NewTopic(TOPIC, 1, 1), NewTopic(JSON_TOPIC, 1, 1), NewTopic(PROTO_TOPIC, 1, 1)]
    for f in admin.create_topics(topics).values():
        f.result(timeout=30)
    client = SchemaRegistryClient({"url": b.registry_url})
    ids = [client.register_schema(SUBJECT, Schema(json.dumps(s), "AVRO")) for s in (PAYMENT_V1, PAYMENT_V2)]
    assert ids[0] != ids[1]
    ser = AvroSerializer(client, json.dumps(PAYMENT_V2))
    produce(b.bootstrap, TOPIC, ser(PAYMENT, SerializationContext(TOPIC, MessageField.VALUE)))
    jser = JSONSerializer(json.dumps(SHIPMENT_SCHEMA), client)
    produce(b.bootstrap, JSON_TOPIC, jser(SHIPMENT, SerializationContext(JSON_TOPIC, MessageField.VALUE)))
    # Protobuf: the top-level message (index path [0]) and a nested one (path [0, 0]).
    Order, Line = order_classes()
    pctx = SerializationContext(PROTO_TOPIC, MessageField.VALUE)
    produce(b.bootstrap, PROTO_TOPIC, ProtobufSerializer(Order, client, {"use.deprecated.format": False})(
        Order(sku="LAMP-01", total_cents=12_999_000_000, status=1, line=Line(qty=3)), pctx))
    # The same file registers as the same schema; the payload's index path names Order.Line.
    line_ser = ProtobufSerializer(Line, client, {"use.deprecated.format": False})
    produce(b.bootstrap, PROTO_TOPIC, line_ser(Line(qty=7), pctx))
    b.schema_ids = ids
    return b


@pytest.fixture
def tab(browser, registry, shots_dir):  # noqa: F811
    t = Page(browser, registry.http_url, shots_dir)
    yield t
    t.page.close()


def get(b, path: str) -> requests.Response:
    return requests.get(b.http_url + path, timeout=10)


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def test_subjects_list_latest_version_type_and_compatibility(registry):
    r = get(registry, "/v1/schemas/subjects")
    assert r.status_code == 200, r.text
    rows = {s["subject"]: s for s in r.json()}
    assert rows[SUBJECT] == {"subject": SUBJECT, "latest_version": 2, "id": registry.schema_ids[1],
                             "schema_type": "AVRO", "compatibility": "BACKWARD", "versions": 2}
    assert rows[f"{JSON_TOPIC}-value"]["schema_type"] == "JSON"


def test_subject_and_version_endpoints(registry):
    info = get(registry, f"/v1/schemas/subjects/{SUBJECT}").json()
    assert info["compatibility"] == "BACKWARD"
    assert [(v["version"], v["id"], v["schemaType"]) for v in info["versions"]] == [
        (1, registry.schema_ids[0], "AVRO"), (2, registry.schema_ids[1], "AVRO")]
    v1 = get(registry, f"/v1/schemas/subjects/{SUBJECT}/versions/1").json()
    assert json.loads(v1["schema"]) == PAYMENT_V1 and v1["version"] == 1 and v1["referencedBy"] == []
    latest = get(registry, f"/v1/schemas/subjects/{SUBJECT}/versions/latest").json()
    assert latest["version"] == 2 and latest["id"] == registry.schema_ids[1]
    by_id = get(registry, f"/v1/schemas/ids/{registry.schema_ids[0]}").json()
    assert by_id["versions"] == [{"subject": SUBJECT, "version": 1}] and by_id["schemaType"] == "AVRO"


def test_subject_names_with_slashes_and_spaces(registry):
    client = SchemaRegistryClient({"url": registry.registry_url})
    name = "team a/orders"
    client.register_schema(name, Schema(json.dumps({"type": "string"}), "AVRO"))
    info = get(registry, "/v1/schemas/subjects/" + requests.utils.quote(name, safe="")).json()
    assert info["subject"] == name and [v["version"] for v in info["versions"]] == [1]
    assert name in {s["subject"] for s in get(registry, "/v1/schemas/subjects").json()}
    # A soft-deleted subject leaves the list (and the pages' screenshots).
    client.delete_subject(name)
    assert name not in {s["subject"] for s in get(registry, "/v1/schemas/subjects").json()}
    assert get(registry, "/v1/schemas/subjects/" + requests.utils.quote(name, safe="")).status_code == 404


@pytest.mark.parametrize("path, status, code", [
    ("/v1/schemas/subjects/no-such-subject", 404, 40401),
    ("/v1/schemas/subjects/no-such-subject/versions/1", 404, 40401),
    (f"/v1/schemas/subjects/{SUBJECT}/versions/9", 404, 40402),
    (f"/v1/schemas/subjects/{SUBJECT}/versions/abc", 422, 42202),
    ("/v1/schemas/ids/987654", 404, 40403),
    ("/v1/schemas/ids/not-a-number", 404, 40403),
])
def test_errors_in_confluent_shape(registry, path, status, code):
    r = get(registry, path)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_code"] == code and body["message"], body


def test_routes_are_read_only(registry):
    for path in ["/v1/schemas/subjects", f"/v1/schemas/subjects/{SUBJECT}/versions/1"]:
        r = requests.post(registry.http_url + path, json={"schema": "{}"}, timeout=10)
        assert r.status_code == 405 and r.json()["error_code"] == 405, r.text
        r = requests.delete(registry.http_url + path, timeout=10)
        assert r.status_code == 405, r.text
    assert get(registry, f"/v1/schemas/subjects/{SUBJECT}").json()["versions"][0]["version"] == 1


def test_records_endpoint_decodes_registry_payloads(registry):
    page = get(registry, f"/v1/topics/{TOPIC}/partitions/0/records").json()
    [rec] = page["records"]
    assert rec["value_schema"] == {"schema_id": registry.schema_ids[1], "schema_type": "AVRO",
                                   "versions": [[SUBJECT, 2]], "decoded": PAYMENT}
    assert list(rec["value_schema"]["decoded"]) == ["id", "amount", "currency"]  # schema order
    assert "key_schema" not in rec  # a plain key
    [jrec] = get(registry, f"/v1/topics/{JSON_TOPIC}/partitions/0/records").json()["records"]
    assert jrec["value_schema"]["schema_type"] == "JSON" and jrec["value_schema"]["decoded"] == SHIPMENT
    assert list(jrec["value_schema"]["decoded"]) == list(SHIPMENT)  # as written


def test_records_endpoint_decodes_protobuf_messages(registry):
    records = get(registry, f"/v1/topics/{PROTO_TOPIC}/partitions/0/records").json()["records"]
    assert [r["value_schema"]["schema_type"] for r in records] == ["PROTOBUF", "PROTOBUF"]
    assert records[0]["value_schema"]["versions"] == [[f"{PROTO_TOPIC}-value", 1]]
    # proto3 JSON mapping: int64 as a string, enum by name, nested message as an object.
    assert records[0]["value_schema"]["decoded"] == {
        "sku": "LAMP-01", "totalCents": "12999000000", "status": "PAID", "line": {"qty": 3}}
    assert records[1]["value_schema"]["decoded"] == {"qty": 7}
    # The Python serializer registered a base64 descriptor; the console also gets .proto text.
    v = get(registry, f"/v1/schemas/subjects/{PROTO_TOPIC}-value/versions/1").json()
    assert v["schemaType"] == "PROTOBUF" and "message" not in v["schema"]
    assert v["schemaText"] == (
        'syntax = "proto3";\npackage shop;\n\nenum Status {\n  NEW = 0;\n  PAID = 1;\n}\n\n'
        "message Order {\n  message Line {\n    int32 qty = 1;\n  }\n  string sku = 1;\n"
        "  int64 total_cents = 2;\n  shop.Status status = 3;\n  shop.Order.Line line = 4;\n}\n")


def test_registry_turned_off_answers_json_404(sluice_factory):
    b = sluice_factory(args=["--set", "schema.registry.listeners="])
    r = get(b, "/v1/schemas/subjects")
    assert r.status_code == 404 and r.json()["error_code"] == 404
    assert "not enabled" in r.json()["message"]


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


def test_schemas_page_lists_subjects(registry, tab):
    page = tab.open("/schemas")
    e = expect()
    row = page.locator("tbody tr", has_text=SUBJECT)
    e(row).to_have_count(1)
    e(row).to_contain_text("AVRO")
    e(row).to_contain_text("BACKWARD")
    e(row.locator("td").nth(1)).to_have_text("2")
    e(page.locator("#nav a.active")).to_have_text("Schemas")
    tab.shot("schemas")
    row.locator("a").click()
    e(page.locator(".page-head h1")).to_have_text(SUBJECT)
    tab.assert_no_errors()


def test_subject_page_versions_schema_and_diff(registry, tab):
    page = tab.open(f"/schemas/{SUBJECT}")
    e = expect()
    e(page.locator("#schema-versions tbody tr")).to_have_count(2)
    e(page.locator("#schema-versions .version-link")).to_have_text(["v2", "v1"])
    e(page.locator("#schema-text")).to_contain_text('"name": "currency"')
    # The default diff is v1 -> v2: the added field's lines are highlighted as added, none removed.
    e(page.locator("#diff-summary")).to_have_text("+5 −0 lines")
    added = page.locator("#schema-diff .diff-line.add")
    e(added.filter(has_text='"name": "currency"')).to_have_count(1)
    e(added.filter(has_text='"default": "EUR"')).to_have_count(1)
    e(page.locator("#schema-diff .diff-line.del")).to_have_count(0)
    tab.shot("schema-subject")

    # Choosing version 1 shows its schema; the diff reversed shows the field removed.
    page.locator('#schema-versions .version-link[data-version="1"]').click()
    e(page.locator("#schema-text")).not_to_contain_text("currency")
    page.locator("#diff-from").select_option("2")
    page.locator("#diff-to").select_option("1")
    e(page.locator("#schema-diff .diff-line.del").filter(has_text='"name": "currency"')).to_have_count(1)
    e(page.locator("#diff-summary")).to_have_text("+0 −5 lines")
    e(page.locator("#schema-diff .diff-line.add")).to_have_count(0)
    tab.assert_no_errors()


def test_message_browser_shows_decoded_avro_record(registry, tab):
    page = tab.open(f"/topics/{TOPIC}/messages?p=0&offset=0")
    e = expect()
    row = page.locator("#messages tbody tr")
    e(row).to_have_count(1)
    e(row.locator(".schema-tag")).to_contain_text(f"schema id {registry.schema_ids[1]} ({SUBJECT}, version 2)")
    value = row.locator("pre.decoded")
    e(value).to_contain_text('"id": "pay-7781"')
    e(value).to_contain_text('"amount": 129.5')
    e(value).to_contain_text('"currency": "NOK"')
    e(value).to_have_text(re.compile(r'"id".*"amount".*"currency"', re.S))  # fields in schema order
    tab.shot("messages-schema")
    # Hex still shows the raw wire format: magic byte 0, then the id.
    page.locator("#msg-format button", has_text="Hex").click()
    e(row.locator("pre")).to_contain_text(f"00 00 00 00 {registry.schema_ids[1]:02x}")
    tab.assert_no_errors()
