from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from botportal.api.protocols import protocol_urlpatterns
from botportal.api.views import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Every protocol of settings.BOTPORTAL_PROTOCOLS at its prefixes; last, anything else under a prefix
    # whose protocol asks for it (and the bare prefix) is a 404 in that protocol's shape, in DEBUG too.
    *protocol_urlpatterns(),
    path("widget/", include("sessions_app.widget.urls")),
]

handler400 = "botportal.api.protocols.handler400"
handler403 = "botportal.api.protocols.handler403"
handler404 = "botportal.api.protocols.handler404"
handler500 = "botportal.api.protocols.handler500"
