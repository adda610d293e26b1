"""The OpenAPI schema: generated without a warning, valid, and documenting what every
operation shares from one place (errors, declared parameters, the idempotency header)."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

IDEMPOTENT = {
    ("post", "/api/v1/orders/"),
    ("post", "/api/v1/subscriptions/{id}/change/"),
    ("post", "/api/v1/subscriptions/{id}/cancel/"),
    ("post", "/api/v1/payments/"),
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_documents_its_errors_in_the_one_shape(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    ops = list(operations(schema))
    assert len(ops) >= 70
    for path, method, operation in ops:
        responses = operation["responses"]
        assert {"401", "403"} <= set(responses), (method, path)
        if method != "get":
            assert {"400", "404", "409"} <= set(responses), (method, path)
        if "{id}" in path:
            assert "404" in responses, (method, path)
        for code, response in responses.items():
            if code >= "400":
                assert response["content"]["application/json"]["schema"] == error, (path, code)


def test_idempotent_operations_document_the_header_and_422(schema):
    for path, method, operation in operations(schema):
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        idempotent = (method, path) in IDEMPOTENT
        assert ("Idempotency-Key" in headers) is idempotent, (method, path)
        assert ("422" in operation["responses"]) is idempotent, (method, path)


def test_declared_filters_are_documented_with_their_rules(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert params["state"]["schema"]["enum"][0] == "draft"
    assert params["customer"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**63 - 1,
    }
    assert params["page"]["schema"] == {"type": "integer", "minimum": 1}
    jobs = {
        p["name"]: p for p in schema["paths"]["/api/v1/provisioning/jobs/"]["get"]["parameters"]
    }
    assert jobs["operation"]["schema"]["maxLength"] == 40
    assert "blocked" in jobs["state"]["schema"]["enum"]
