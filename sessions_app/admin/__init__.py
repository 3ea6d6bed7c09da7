"""The admin: every ModelAdmin (bots' too: `bots` may not import sessions_app, whose owner scoping they use),
the transcript presenter, the exports, the batched deletes and the admin pages that open sessions.

Django's autodiscovery imports this package; the imports below register the ModelAdmins.
"""

from django.contrib import admin

from sessions_app.admin import bots, deletion, sessions  # noqa: F401 (register the ModelAdmins)

admin.site.site_header = "botportal console"
admin.site.site_title = "botportal"
admin.site.index_title = "Dashboard"
