"""The project's urls plus the bots routes, mounted as the project will mount them."""

from django.urls import include, path

from botportal.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("api/v1/", include("bots.api.urls")), *project_urlpatterns]
