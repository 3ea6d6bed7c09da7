"""Django's deploy checks of the security middleware's settings, for botportal/middleware.py's versions.

Django finds SecurityMiddleware, CsrfViewMiddleware and XFrameOptionsMiddleware in MIDDLEWARE by their
dotted paths only. With botportal's subclasses installed instead (the same middleware, without thread
hops under ASGI) it would warn them missing (security.W001-W003, silenced in settings for this reason)
and skip every check of the settings they act on. Both are made here: whether each middleware (or a
subclass) is installed, and then Django's own checks of its settings, with Django's own messages.
"""

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.checks.security import base, csrf
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

DJANGO_PATHS = {
    SecurityMiddleware: "django.middleware.security.SecurityMiddleware",
    CsrfViewMiddleware: "django.middleware.csrf.CsrfViewMiddleware",
    XFrameOptionsMiddleware: "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
MISSING = {
    SecurityMiddleware: ("botportal.W001", base.W001),
    XFrameOptionsMiddleware: ("botportal.W002", base.W002),
    CsrfViewMiddleware: ("botportal.W003", csrf.W003),
}


def _installed(middleware) -> bool:
    return any(issubclass(import_string(path), middleware) for path in settings.MIDDLEWARE)


def _security_settings() -> list:
    found = []
    if not settings.SECURE_HSTS_SECONDS:
        found.append(base.W004)
    else:
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS is not True:
            found.append(base.W005)
        if settings.SECURE_HSTS_PRELOAD is not True:
            found.append(base.W021)
    if settings.SECURE_CONTENT_TYPE_NOSNIFF is not True:
        found.append(base.W006)
    if settings.SECURE_SSL_REDIRECT is not True:
        found.append(base.W008)
    policy = settings.SECURE_REFERRER_POLICY
    if policy is None:
        found.append(base.W022)
    else:
        values = {v.strip() for v in policy.split(",")} if isinstance(policy, str) else set(policy)
        if not values <= base.REFERRER_POLICY_VALUES:
            found.append(base.E023)
    opener = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    if opener is not None and opener not in base.CROSS_ORIGIN_OPENER_POLICY_VALUES:
        found.append(base.E024)
    return found


def _csrf_settings() -> list:
    return [] if settings.CSRF_USE_SESSIONS or settings.CSRF_COOKIE_SECURE is True else [csrf.W016]


def _xframe_settings() -> list:
    return [] if settings.X_FRAME_OPTIONS == "DENY" else [base.W019]


SETTINGS_CHECKS = {
    SecurityMiddleware: _security_settings,
    CsrfViewMiddleware: _csrf_settings,
    XFrameOptionsMiddleware: _xframe_settings,
}


@register(Tags.security, deploy=True)
def check_security_middleware_subclasses(app_configs, **kwargs):
    found = []
    for middleware, settings_check in SETTINGS_CHECKS.items():
        if DJANGO_PATHS[middleware] in settings.MIDDLEWARE:
            continue  # Django's own checks see it
        if _installed(middleware):
            found += settings_check()
        else:
            check_id, django_warning = MISSING[middleware]
            found.append(CheckWarning(django_warning.msg, hint=django_warning.hint, id=check_id))
    return found
