"""One package per wire protocol. Each declares its prefixes in `protocol.py` (see botportal.api.protocols)."""
