"""Closed by default: a route refuses callers without credentials unless it says it is open.

DRF views: the default permission (REST_FRAMEWORK's DEFAULT_PERMISSION_CLASSES, an owner's API secret)
applies to every view that declares nothing; an open view lists `Public`. Plain Django views, which DRF
does not guard, declare their access with `declare_access` (or `public`): `PUBLIC`, or `CREDENTIALS`
for a view that refuses callers without credentials itself, in its protocol's own error shape.
tests/security/test_closed_by_default.py walks every URL pattern and fails on a view that declares nothing.
"""

from rest_framework.permissions import BasePermission

PUBLIC = "public"
CREDENTIALS = "credentials"
ACCESS_ATTRIBUTE = "botportal_access"


class Public(BasePermission):
    """Anyone, credentials or none: the view itself decides what a caller may do (say why beside it)."""

    def has_permission(self, request, view):
        return True


def declare_access(view, access: str):
    """Mark a plain Django view with who may call it; returns the view."""
    if access not in (PUBLIC, CREDENTIALS):
        raise ValueError(f"Unknown access {access!r}: use PUBLIC or CREDENTIALS.")
    setattr(view, ACCESS_ATTRIBUTE, access)
    return view


def public(view):
    """Decorator: a plain Django view anyone may call."""
    return declare_access(view, PUBLIC)


def declared_access(view) -> str | None:
    return getattr(view, ACCESS_ATTRIBUTE, None)
