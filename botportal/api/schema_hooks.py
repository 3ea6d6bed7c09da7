"""drf-spectacular postprocessing: answers every route of the schema's protocols can give, documented once."""

from botportal.api.protocols import schema_prefixes

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOutput"}}}


def document_limits(result, generator, request, public):
    """429 (with Retry-After) on every operation, 413 on every one that takes a body."""
    too_many = {
        "description": "Too many requests (TOO_MANY_REQUESTS): a throttle's rate was exceeded; see Retry-After.",
        "content": ERROR,
        "headers": {
            "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
        },
    }
    too_large = {
        "description": "The request body is over the size limit (BOTPORTAL_MAX_BODY_BYTES).",
        "content": ERROR,
    }
    prefixes = schema_prefixes()
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(prefixes):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.setdefault("429", too_many)
            if method in ("post", "put", "patch"):
                responses.setdefault("413", too_large)
    return result
