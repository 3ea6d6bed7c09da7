"""The Einstein Bots Runtime API v5.0.0 adapter: `/v5.0.0/...`, `/status` and `/versions`."""

from pathlib import Path

# The OpenAPI document this adapter implements, shipped with it (its licence is spec/LICENSE): every
# answer the tests receive is validated against this one copy.
SPEC_PATH = Path(__file__).resolve().parent / "spec" / "einstein-bots-v5.0.0.yaml"
