"""Direct Line secrets in the admin: created there (shown once), revocable, scoped to the bot's owner."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from sessions_app.access.scoping import OWNER_PATHS, OwnerScopedModelAdmin, write_check

from .models import DirectLineSecret
from .services import directline_secret_create, directline_secret_revoke

# The admin's owner scoping reads each model's way to its owner from this table.
OWNER_PATHS[DirectLineSecret] = "bot__owner"


@admin.register(DirectLineSecret)
class DirectLineSecretAdmin(OwnerScopedModelAdmin):
    list_display = ("name", "prefix_display", "bot", "created_at", "last_used_at", "status")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("bot",)
    search_fields = ("name", "prefix", "bot__name")
    readonly_fields = ("bot", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_selected"]

    @admin.display(description="Secret", ordering="prefix")
    def prefix_display(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description="Status")
    def status(self, obj):
        return "active" if obj.revoked_at is None else "revoked"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["bot", "name"]
        return ["bot", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        write_check(request.user, obj, form)
        row, secret = directline_secret_create(bot=obj.bot, name=obj.name)
        # The admin goes on with `obj` (history entry, response): make it the created row.
        for field in ("pk", "prefix", "digest", "created_at"):
            setattr(obj, field, getattr(row, field))
        obj._state.adding = False
        request._botportal_new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_botportal_new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        # Shown on this one response only: it is stored as a digest and can't be shown again.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Direct Line secret created",
            "row": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, "admin/directline/directlinesecret/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected Direct Line secrets", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for row in queryset.filter(revoked_at__isnull=True):
            directline_secret_revoke(secret=row)
            count += 1
        self.message_user(request, f"Revoked {count} Direct Line secret(s).", messages.SUCCESS)
