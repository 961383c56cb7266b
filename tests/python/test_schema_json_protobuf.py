"""JSON Schema and Protobuf through the built-in registry and the broker, with Confluent's own client.

Why: the registry claims Confluent compatibility for all three formats, so confluent-kafka's
`JSONSerializer`/`JSONDeserializer` and `ProtobufSerializer`/`ProtobufDeserializer` must work
against it unchanged: they register their schema (Protobuf as a base64 FileDescriptorProto),
frame records in the wire format, and read them back typed. Evolutions follow Confluent's rules:
an accepted one and one refused with 409 per format (JSON Schema's open/closed content model
rules included). Last, a topic with `confluent.value.schema.validation` refuses an unframed
record from the Python producer with INVALID_RECORD and takes a serialized one.

The Protobuf message classes are built at run time from a FileDescriptorProto (no protoc).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

ORDER_V1 = json.dumps({
    "title": "Order", "type": "object", "additionalProperties": False,
    "properties": {"id": {"type": "integer"}, "item": {"type": "string"}},
    "required": ["id", "item"],
})
# Closed content model: an optional property may be added (BACKWARD compatible).
ORDER_V2 = json.dumps({
    "title": "Order", "type": "object", "additionalProperties": False,
    "properties": {"id": {"type": "integer"}, "item": {"type": "string"},
                   "note": {"type": "string"}},
    "required": ["id", "item"],
})
# A type change is not.
ORDER_BAD = json.dumps({
    "title": "Order", "type": "object", "additionalProperties": False,
    "properties": {"id": {"type": "string"}, "item": {"type": "string"}, "note": {"type": "string"}},
    "required": ["id", "item"],
})

USER_PROTO_V2 = 'syntax = "proto3";\npackage sluice.test;\n' \
                'message User { string name = 1; int32 age = 2; string email = 3; }\n'
USER_PROTO_BAD = 'syntax = "proto3";\npackage sluice.test;\n' \
                 'message User { string name = 1; string age = 2; string email = 3; }\n'


def user_class():
    """sluice.test.User { string name = 1; int32 age = 2; } as a generated-like message class."""
    fdp = descriptor_pb2.FileDescriptorProto(name=f"sluice_user_{uuid.uuid4().hex[:6]}.proto",
                                             package="sluice.test", syntax="proto3")
    m = fdp.message_type.add(name="User")
    F = descriptor_pb2.FieldDescriptorProto
    m.field.add(name="name", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="age", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.test.User"))


@pytest.fixture
def client(sluice_module) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": sluice_module.registry_url})


def consume_values(bootstrap: str, topic: str, count: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                  "auto.offset.reset": "earliest"})
    # Manual assignment: no group rebalance to wait for.
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got.append(m.value())
    finally:
        c.close()
    assert len(got) == count, f"read {len(got)} of {count} records from {topic}"
    return got


def produce_values(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    errors = []
    for v in values:
        p.produce(topic, value=v, on_delivery=lambda err, _msg: err and errors.append(err))
    assert p.flush(30) == 0
    assert errors == []


def test_json_schema_serde_end_to_end(sluice_module, client, unique_topic):
    topic = unique_topic("json")
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = JSONSerializer(ORDER_V1, client)
    orders = [{"id": i, "item": f"item-{i}"} for i in range(10)]
    produce_values(sluice_module.bootstrap, topic, [ser(o, ctx) for o in orders])

    registered = client.get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "JSON"
    assert json.loads(registered.schema.schema_str) == json.loads(ORDER_V1)

    de = JSONDeserializer(None, schema_registry_client=client)
    raw = consume_values(sluice_module.bootstrap, topic, len(orders))
    assert all(v[0] == 0 and int.from_bytes(v[1:5], "big") == registered.schema_id for v in raw)
    assert [de(v, ctx) for v in raw] == orders


def test_json_schema_evolution_accepted_and_refused(client):
    subject = f"orders-{uuid.uuid4().hex[:8]}"
    first = client.register_schema(subject, Schema(ORDER_V1, "JSON"))
    assert client.test_compatibility(subject, Schema(ORDER_V2, "JSON"))
    second = client.register_schema(subject, Schema(ORDER_V2, "JSON"))
    assert second != first
    assert client.get_versions(subject) == [1, 2]
    assert not client.test_compatibility(subject, Schema(ORDER_BAD, "JSON"))
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, Schema(ORDER_BAD, "JSON"))
    assert refused.value.http_status_code == 409

    # Open content model: adding a property is refused (old data may hold it with another type).
    open_subject = f"open-{uuid.uuid4().hex[:8]}"
    client.register_schema(open_subject, Schema(json.dumps(
        {"type": "object", "properties": {"a": {"type": "string"}}}), "JSON"))
    with pytest.raises(SchemaRegistryError) as open_refused:
        client.register_schema(open_subject, Schema(json.dumps(
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}), "JSON"))
    assert open_refused.value.http_status_code == 409


def test_protobuf_serde_end_to_end(sluice_module, client, unique_topic):
    User = user_class()
    topic = unique_topic("proto")
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = ProtobufSerializer(User, client, {"use.deprecated.format": False})
    users = [User(name=f"user-{i}", age=30 + i) for i in range(10)]
    produce_values(sluice_module.bootstrap, topic, [ser(u, ctx) for u in users])

    registered = client.get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "PROTOBUF"

    de = ProtobufDeserializer(User, {"use.deprecated.format": False})
    raw = consume_values(sluice_module.bootstrap, topic, len(users))
    # Wire format: magic 0, the id, then the message index (0 = first message) and the message.
    assert all(v[0] == 0 and int.from_bytes(v[1:5], "big") == registered.schema_id for v in raw)
    got = [de(v, ctx) for v in raw]
    assert [(u.name, u.age) for u in got] == [(u.name, u.age) for u in users]
    # With the registry, the deserializer fetches the writer's schema by id (format=serialized).
    de_sr = ProtobufDeserializer(User, {"use.deprecated.format": False}, schema_registry_client=client)
    assert [(u.name, u.age) for u in (de_sr(v, ctx) for v in raw)] == [(u.name, u.age) for u in users]

    # Evolution of the same subject with .proto text: a new field is fine, a type change is not.
    subject = f"{topic}-value"
    assert client.test_compatibility(subject, Schema(USER_PROTO_V2, "PROTOBUF"))
    v2 = client.register_schema(subject, Schema(USER_PROTO_V2, "PROTOBUF"))
    assert v2 != registered.schema_id
    assert client.get_versions(subject) == [1, 2]  # (get_latest_version is cached client-side)
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, Schema(USER_PROTO_BAD, "PROTOBUF"))
    assert refused.value.http_status_code == 409


def test_broker_refuses_unframed_values_on_a_validated_topic(sluice_module, client, unique_topic):
    topic = unique_topic("validated")
    admin = AdminClient({"bootstrap.servers": sluice_module.bootstrap})
    futures = admin.create_topics([NewTopic(topic, 1, 1, config={"confluent.value.schema.validation": "true"})])
    futures[topic].result(15)
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = JSONSerializer(ORDER_V1, client)
    framed = ser({"id": 1, "item": "book"}, ctx)

    p = Producer({"bootstrap.servers": sluice_module.bootstrap})
    reports: list[KafkaError | None] = []
    for value in (b'{"id": 2, "item": "no schema id"}', framed):
        p.produce(topic, value=value, on_delivery=lambda err, _msg: reports.append(err))
        assert p.flush(30) == 0
    refused, accepted = reports
    assert refused is not None and refused.code() == KafkaError.INVALID_RECORD, refused
    assert accepted is None, accepted
    assert consume_values(sluice_module.bootstrap, topic, 1) == [framed]
