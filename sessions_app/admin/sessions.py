import contextlib

from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from sessions_app.access.scoping import (
    CappedCountPaginator,
    OwnerScopedModelAdmin,
    OwnerScopedRelatedFilter,
    may_write,
    scope,
)
from sessions_app.admin.deletion import BatchedDeleteAdminMixin
from sessions_app.admin.exports import transcripts_csv_response, transcripts_json_response
from sessions_app.admin.transcript import transcript_turns
from sessions_app.models import ApiKey, BotSession, Contact, Conversation, Message, OwnerProfile, SessionStatus
from sessions_app.selectors.admin import conversation_sessions, transcript_page
from sessions_app.services import deletions
from sessions_app.services.owners import api_key_create, api_key_revoke
from sessions_app.services.sessions import bot_session_revoke


@admin.register(OwnerProfile)
class OwnerProfileAdmin(OwnerScopedModelAdmin):
    list_display = ("owner", "org_id")
    list_select_related = ("owner",)
    readonly_fields = ("org_id",)


@admin.register(ApiKey)
class ApiKeyAdmin(OwnerScopedModelAdmin):
    owns_directly = True
    list_display = ("name", "prefix_display", "owner", "created_at", "last_used_at", "status")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("owner",)
    search_fields = ("name", "prefix")
    exclude = ("digest",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_selected"]

    @admin.display(description="Secret", ordering="prefix")
    def prefix_display(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description="Status")
    def status(self, obj):
        return "active" if obj.revoked_at is None else "revoked"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["owner", "name"] if request.user.is_superuser else ["name"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        owner = obj.owner if request.user.is_superuser and obj.owner_id else request.user
        api_key, secret = api_key_create(owner=owner, name=obj.name)
        # The admin goes on with `obj` (history entry, response): make it the created row.
        for field in ("pk", "owner_id", "prefix", "digest", "created_at"):
            setattr(obj, field, getattr(api_key, field))
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
            "title": "API key created",
            "api_key": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, "admin/sessions_app/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        profile = OwnerProfile.objects.filter(owner=request.user).first()
        extra_context = {**(extra_context or {}), "org_id": profile.org_id if profile else None}
        return super().changelist_view(request, extra_context)


@admin.register(Contact)
class ContactAdmin(BatchedDeleteAdminMixin, OwnerScopedModelAdmin):
    delete_service = staticmethod(lambda contact: deletions.contact_delete(contact=contact))
    owns_directly = True
    list_display = ("__str__", "email", "phone", "owner", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "email", "phone", "nick")
    readonly_fields = ("created_at", "updated_at", "verified_at")
    history_limit = 50

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        contact = self.get_object(request, object_id)
        if contact is not None:
            conversations = (
                Conversation.objects.filter(contact=contact)
                .select_related("bot")
                .only("id", "name", "bot__name", "bot__id", "origin", "created_at", "ended_at", "end_reason")
                .order_by("-created_at")
            )
            extra_context["conversation_history"] = conversations[: self.history_limit]
            extra_context["conversation_history_all_url"] = (
                reverse("admin:sessions_app_conversation_changelist") + f"?contact__id__exact={contact.pk}"
            )
        return super().change_view(request, object_id, form_url, extra_context)


class EndedFilter(admin.SimpleListFilter):
    title = "ended"
    parameter_name = "ended"

    def lookups(self, request, model_admin):
        return (("yes", "Ended"), ("no", "Ongoing"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=True)
        return queryset


class RecentContactFilter(OwnerScopedRelatedFilter):
    """The contact filter lists the most recent contacts; any contact is reachable from its own page."""

    limit = 100

    def field_choices(self, field, request, model_admin):
        contacts = scope(Contact.objects.all(), request.user)
        recent = list(contacts.order_by("-created_at")[: self.limit])
        selected = [value for value in (self.lookup_val or []) if value]
        if selected and not any(str(c.pk) in selected for c in recent):
            with contextlib.suppress(ValueError, ValidationError):
                recent += list(contacts.filter(pk__in=selected))
        return [(contact.pk, str(contact)) for contact in recent]


def _einstein_state(conversation):
    """The conversation's Einstein runtime state, or None (another protocol's conversation)."""
    try:
        return conversation.einstein
    except ObjectDoesNotExist:
        return None


def _directline_state(conversation):
    """The conversation's Direct Line state, or None (another protocol's conversation)."""
    try:
        return conversation.directline
    except ObjectDoesNotExist:
        return None


@admin.register(Conversation)
class ConversationAdmin(OwnerScopedModelAdmin):
    owns_directly = True
    paginator = CappedCountPaginator
    list_display = ("transcript_link", "bot", "contact", "origin", "created_at", "ended_at", "end_reason")
    list_display_links = None
    list_filter = (
        ("bot", OwnerScopedRelatedFilter),
        ("contact", RecentContactFilter),
        ("created_at", DateFieldListFilter),
        EndedFilter,
        "end_reason",
        "origin",
    )
    list_select_related = ("bot", "contact")
    search_fields = ("contact__email", "messages__text")
    search_help_text = "Words in the messages, or a contact's email (a term with @ searches emails only)."
    ordering = ("-created_at",)
    exclude = ("engine_state",)
    readonly_fields = (
        "bot",
        "bot_version",
        "dataset",
        "skillset",
        "contact",
        "origin",
        "external_session_key",
        "variables",
        "timezone",
        "created_at",
        "updated_at",
        "last_activity_at",
        "ended_at",
        "end_reason",
        "last_sequence_id",
        "directline_user",
        "directline_trusted_origins",
    )
    actions = ["export_csv", "export_json"]

    def get_object(self, request, object_id, from_field=None):
        # The change form shows the Einstein and Direct Line states: loaded with the conversation, in its
        # one query.
        queryset = self.get_queryset(request).select_related("einstein", "directline")
        model = queryset.model
        field = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (model.DoesNotExist, ValidationError, ValueError):
            return None

    @admin.display(description="External session key")
    def external_session_key(self, obj):
        state = _einstein_state(obj)
        return state.external_session_key if state else ""

    @admin.display(description="Last sequence id")
    def last_sequence_id(self, obj):
        state = _einstein_state(obj)
        return state.last_sequence_id if state else None

    @admin.display(description="Direct Line user")
    def directline_user(self, obj):
        state = _directline_state(obj)
        if state is None:
            return ""
        return f"{state.user_id} ({state.user_name})" if state.user_name else state.user_id

    @admin.display(description="Direct Line trusted origins")
    def directline_trusted_origins(self, obj):
        state = _directline_state(obj)
        return ", ".join(state.trusted_origins) if state else ""

    @admin.display(description="Conversation", ordering="created_at")
    def transcript_link(self, obj):
        url = reverse("admin:sessions_app_conversation_transcript", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.name or str(obj.pk)[:8])

    def has_add_permission(self, request):
        # Conversations begin with a session (API, widget or the bot's "try it" page).
        return False

    def get_search_results(self, request, queryset, search_term):
        """Contact email, or message text through a correlated EXISTS rather than a join.

        A join on messages multiplies conversation rows (and needs DISTINCT over the whole list);
        EXISTS stops at the first matching message of each conversation.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        email_match = Q(contact__email__icontains=term)
        if "@" in term:
            # An email address: the contacts, without scanning every message's text as well.
            return queryset.filter(email_match), False
        message_match = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=term)
        return queryset.filter(Q(Exists(message_match)) | email_match), False

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path(
                "<path:object_id>/transcript/",
                self.admin_site.admin_view(self.transcript_view),
                name="sessions_app_conversation_transcript",
            ),
        ]
        return custom + urls

    def transcript_view(self, request, object_id):
        try:
            key = self.opts.pk.to_python(object_id)
        except ValidationError:
            raise Http404("No conversation with this id.") from None
        conversation = self.get_queryset(request).select_related("bot", "contact").filter(pk=key).first()
        if conversation is None or not self.has_view_permission(request, conversation):
            raise Http404("No conversation with this id.")
        page = transcript_page(conversation=conversation, page_number=request.GET.get("page", 1))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Transcript: {conversation}",
            "conversation": conversation,
            "page": page,
            "turns": transcript_turns(messages=page.object_list),
            "sessions": conversation_sessions(conversation=conversation),
            "variables": sorted((conversation.variables or {}).items()),
            "can_change": self.has_change_permission(request, conversation),
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/sessions_app/conversation/transcript.html", context)

    @admin.action(description="Export selected transcripts as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return transcripts_csv_response(conversations=queryset)

    @admin.action(description="Export selected transcripts as JSON", permissions=["view"])
    def export_json(self, request, queryset):
        return transcripts_json_response(conversations=queryset)


@admin.register(Message)
class MessageAdmin(OwnerScopedModelAdmin):
    paginator = CappedCountPaginator
    list_display = ("type", "excerpt", "conversation", "created_at")
    list_filter = ("type",)
    list_select_related = ("conversation",)
    ordering = ("-id",)
    exclude = ()
    readonly_fields = ("conversation", "type", "text", "name", "description", "meta", "sequence_id", "created_at")

    @admin.display(description="Text")
    def excerpt(self, obj):
        return obj.text[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A transcript is a record of what was said: nobody rewrites it.
        return False


class SessionStatusFilter(admin.SimpleListFilter):
    """BotSession.status() as a list filter, computed by the database."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return SessionStatus.choices

    def queryset(self, request, queryset):
        if self.value() in SessionStatus.values:
            return queryset.with_status(self.value())
        return queryset


@admin.register(BotSession)
class BotSessionAdmin(OwnerScopedModelAdmin):
    paginator = CappedCountPaginator
    list_display = ("pk", "conversation_link", "bot", "status", "created_at", "expires_at", "last_used_at")
    list_filter = (SessionStatusFilter, ("created_at", DateFieldListFilter))
    list_select_related = ("conversation", "conversation__bot")
    ordering = ("-created_at",)
    actions = ["revoke_selected"]
    exclude = ("token_digest",)
    readonly_fields = (
        "conversation",
        "status",
        "duration_seconds",
        "created_at",
        "issued_first_at",
        "expires_at",
        "expired_at",
        "revoked_at",
        "created_by",
        "last_used_at",
    )

    @admin.display(description="Conversation")
    def conversation_link(self, obj):
        url = reverse("admin:sessions_app_conversation_transcript", args=[obj.conversation_id])
        return format_html('<a href="{}">{}</a>', url, obj.conversation)

    @admin.display(description="Bot")
    def bot(self, obj):
        return obj.conversation.bot

    @admin.display(description="Status")
    def status(self, obj):
        return obj.status()

    def has_add_permission(self, request):
        # Sessions are created with their token shown once: the bot's "create a session" action.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected sessions", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        count = 0
        for bot_session in queryset.not_revoked():
            bot_session_revoke(bot_session=bot_session)
            count += 1
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        # Nothing on a session is edited by hand, but its owner may revoke it.
        return may_write(request.user) and request.user.has_perm("sessions_app.change_botsession")
