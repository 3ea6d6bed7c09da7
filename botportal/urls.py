from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from botportal.api.protocols import api_not_found
from botportal.api.views import HealthView
from sessions_app.protocols.directline.views import not_found_view as directline_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("sessions_app.api.chatbotkit.urls")),
    path("v1/", include(("sessions_app.api.chatbotkit.urls", "chatbotkit-v1"), namespace="chatbotkit-short")),
    path("widget/", include("sessions_app.urls_widget")),
    # Direct Line 3.0: unknown paths under the prefix answer in its own error shape.
    path("v3/directline/", include("sessions_app.protocols.directline.urls")),
    re_path(r"^v3/directline$", directline_not_found),
    path("", include("sessions_app.api.einstein.urls")),
    # Bot definitions as one JSON document: export and import.
    path("api/v1/", include("bots.api.urls")),
    path("v1/", include(("bots.api.urls", "bots-v1"), namespace="bots-short")),
    # Last: anything else under the API prefixes (and the bare prefixes) is a JSON 404, in DEBUG too.
    re_path(r"^(api|v1)(?:/|$)", api_not_found),
]

handler400 = "botportal.api.protocols.handler400"
handler403 = "botportal.api.protocols.handler403"
handler404 = "botportal.api.protocols.handler404"
handler500 = "botportal.api.protocols.handler500"
