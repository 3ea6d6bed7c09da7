"""Every middleware serves async requests natively: under ASGI a single synchronous one would make Django
run the rest of the chain, async views included, on a thread per request that waits as long as the view
does and keeps the database connection it used (a streamed turn would then hold one for its whole wait)."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string


@pytest.mark.parametrize("path", settings.MIDDLEWARE)
def test_each_middleware_is_async_capable(path):
    middleware = import_string(path)
    assert getattr(middleware, "async_capable", False), path
    assert getattr(middleware, "sync_capable", True), path  # and still serves botportal/wsgi.py


def test_the_static_files_middleware_is_whitenoise():
    from whitenoise.middleware import WhiteNoiseMiddleware

    static = [import_string(path) for path in settings.MIDDLEWARE if "Static" in path or "whitenoise" in path]
    assert len(static) == 1 and issubclass(static[0], WhiteNoiseMiddleware)
