from django.urls import path

from sessions_app.widget.views import widget_page

app_name = "widget"

urlpatterns = [
    path("<uuid:bot_id>/", widget_page, name="page"),
]
