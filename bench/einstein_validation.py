"""Checking an Einstein request body: the hand-written parsers against the spec file, µs per request.

    .venv/bin/python bench/einstein_validation.py [--rounds 2000]

Three ways to check the same bodies (a begin with response options, rich content capabilities and
variables; a text continue; a choice continue), each timed over `--rounds` repetitions after a warm-up:

- hand: `sessions_app.protocols.einstein.serializers` (`begin_request_parse`, `continue_request_parse`);
- openapi-core: its request validator for the whole operation (path, headers, security, body), the
  way openapi-core is meant to be used with a framework's request;
- openapi-core body: openapi-core's body validator alone (the body against the operation's schema);
- schema validator: the OAS 3.0 JSON Schema validator openapi-core uses (openapi-schema-validator),
  built once per body schema and called on the parsed body: the cheapest check the spec can drive.

No database: validation only. Prints the median of five runs per way and body.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from openapi_core import OpenAPI, V30RequestValidator  # noqa: E402
from openapi_core.testing import MockRequest  # noqa: E402
from openapi_core.validation.request.validators import V30RequestBodyValidator  # noqa: E402
from openapi_schema_validator import OAS30Validator  # noqa: E402
from yaml import safe_load  # noqa: E402

from sessions_app.protocols.einstein import SPEC_PATH  # noqa: E402
from sessions_app.protocols.einstein.serializers import begin_request_parse, continue_request_parse  # noqa: E402

SESSION = "5a7d1c3e-0000-4000-8000-000000000002"
BEGIN = {
    "externalSessionKey": "5a7d1c3e-0000-4000-8000-000000000001",
    "forceConfig": {"endpoint": "https://example.my.salesforce.com/"},
    "message": {"text": "hello"},
    "tz": "America/Los_Angeles",
    "responseOptions": {"variables": {"include": True, "onlyChanged": False}, "metrics": True, "intents": True},
    "richContentCapabilities": {
        "messageTypes": [
            {
                "messageType": "StaticContentMessage",
                "formatTypes": [{"formatType": "Attachments"}, {"formatType": "Text"}],
            }
        ]
    },
    "variables": [{"name": "qty", "type": "number", "value": 2}, {"name": "$Context.X", "type": "text", "value": "y"}],
}
TEXT = {"message": {"type": "text", "text": "where is my order?", "sequenceId": 7}}
CHOICE = {"message": {"type": "choice", "choiceIndex": 2, "sequenceId": 8}, "responseOptions": {"intents": True}}
CASES = [
    ("begin", f"/v5.0.0/bots/{SESSION}/sessions", BEGIN, begin_request_parse, "InitMessageEnvelope"),
    ("continue text", f"/v5.0.0/sessions/{SESSION}/messages", TEXT, continue_request_parse, "ChatMessageEnvelope"),
    ("continue choice", f"/v5.0.0/sessions/{SESSION}/messages", CHOICE, continue_request_parse, "ChatMessageEnvelope"),
]
HEADERS = {"Authorization": "Bearer sk-x", "X-Org-Id": "00D000000000000AAA", "Content-Type": "application/json"}


def per_request_us(check, rounds: int) -> float:
    for _ in range(min(rounds, 200)):
        check()
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            check()
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    warnings.filterwarnings("ignore", "Unsupported scheme type")  # the spec's jwtBearer scheme
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    whole = OpenAPI.from_path(SPEC_PATH)
    body_only = OpenAPI.from_path(SPEC_PATH)
    body_only.config.request_validator_cls = V30RequestBodyValidator
    whole.config.request_validator_cls = V30RequestValidator
    components = safe_load(SPEC_PATH.read_text())["components"]
    print(
        f"{'body':<16} {'hand µs':>9} {'openapi-core µs':>16} {'openapi-core body µs':>21} {'schema validator µs':>20}"
    )
    for name, path, body, parse, schema_name in CASES:
        validator = OAS30Validator({"$ref": f"#/components/schemas/{schema_name}", "components": components})
        raw = json.dumps(body).encode()

        def request(path=path, raw=raw):
            return MockRequest(
                "https://runtime-api-na-west.prod.chatbots.sfdc.sh",
                "post",
                path,
                data=raw,
                headers=HEADERS,
                content_type="application/json",
            )

        def hand(body=raw, parse=parse):
            parse(json.loads(body))

        def spec(openapi):
            def check():
                openapi.validate_request(request())

            return check

        def schema(body=raw, validator=validator):
            validator.validate(json.loads(body))

        spec(whole)()  # a body the spec refuses would time an error path: fail loudly instead
        spec(body_only)()
        schema()
        print(
            f"{name:<16} {per_request_us(hand, rounds):>9.1f} {per_request_us(spec(whole), rounds):>16.1f}"
            f" {per_request_us(spec(body_only), rounds):>21.1f} {per_request_us(schema, rounds):>20.1f}"
        )


if __name__ == "__main__":
    main()
