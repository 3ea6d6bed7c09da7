"""Admin pages that open sessions: the bot's "try it" chat panel and "create a session" with its token shown once.

They parse the request, call the session services and render; the rules (who may open a session,
duration bounds, message limits) live in the services and `botportal.validation`.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from botportal import validation
from botportal.errors import DomainError
from sessions_app.access.scoping import may_write, write_scope
from sessions_app.models import Conversation, Origin
from sessions_app.services.conversations import conversation_exchange
from sessions_app.services.sessions import bot_session_create


def _duration_choices():
    low, high, _ = validation.session_duration_bounds()
    choices = [(1800, "30 minutes"), (3600, "1 hour")] + [(h * 3600, f"{h} hours") for h in (2, 4, 8, 12, 24)]
    return [(seconds, label) for seconds, label in choices if low <= seconds <= high]


class SessionCreateForm(forms.Form):
    duration_seconds = forms.TypedChoiceField(label="Duration", coerce=int, choices=_duration_choices)


def _messages_json(stored):
    """Bot messages as the panel shows them: each rich message of a stored bot message."""
    out = []
    for message in stored:
        parts = (message.meta or {}).get("messages") or [{"type": "text", "text": message.text}]
        for part in parts:
            out.append(
                {
                    "type": part.get("type", "text"),
                    "text": part.get("text", ""),
                    "choices": [c.get("label", "") for c in part.get("choices", []) if isinstance(c, dict)],
                }
            )
    return out


def _error(error: DomainError):
    return JsonResponse({"error": error.message, "fields": getattr(error, "fields", {})}, status=error.status)


def _writable_bot(model_admin, request, object_id):
    bot = model_admin.get_object(request, object_id)
    if bot is None:
        raise Http404("No bot with this id.")
    if not may_write(request.user, bot):
        # Reviewers read transcripts; opening sessions is the owner's.
        raise Http404("No bot with this id.")
    return bot


def bot_try_view(model_admin, request, object_id):
    bot = _writable_bot(model_admin, request, object_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": bot,
        "title": f"Try {bot}",
        "bot": bot,
        "start_url": reverse("admin:bots_bot_try_start", args=[bot.pk]),
        "send_url": reverse("admin:bots_bot_try_send", args=[bot.pk]),
        "max_chars": settings.BOTPORTAL["MAX_MESSAGE_CHARS"],
    }
    return TemplateResponse(request, "admin/bots/bot/try.html", context)


def bot_try_start_view(model_admin, request, object_id):
    """Open a session with the bot for the panel: a conversation of origin "admin" and its welcome."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    bot = _writable_bot(model_admin, request, object_id)
    try:
        opened = bot_session_create(bot=bot, actor=request.user, origin=Origin.ADMIN)
    except DomainError as error:
        return _error(error)
    # The panel talks through the admin's own login: the session token is not needed and not shown.
    return JsonResponse(
        {
            "conversation": str(opened.conversation.pk),
            "transcript_url": reverse("admin:sessions_app_conversation_transcript", args=[opened.conversation.pk]),
            "messages": _messages_json(opened.messages),
        }
    )


def bot_try_send_view(model_admin, request, object_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    bot = _writable_bot(model_admin, request, object_id)
    conversation = (
        write_scope(Conversation.objects.all(), request.user)
        .filter(pk=validation.uuid_or_none(request.POST.get("conversation")), bot=bot, origin=Origin.ADMIN)
        .first()
    )
    if conversation is None:
        return JsonResponse({"error": "Unknown conversation: start a new one."}, status=404)
    try:
        text = validation.message_text(request.POST.get("text"))
        result = conversation_exchange(conversation=conversation, text=text)
    except DomainError as error:
        return _error(error)
    user_meta = result.user_message.meta if result.user_message else {}
    return JsonResponse(
        {
            "messages": _messages_json([result.bot_message] if result.bot_message else []),
            "intents": user_meta.get("intents", []),
            "entities": user_meta.get("entities", []),
            "ended": result.reply.ended,
        }
    )


def bot_session_create_action(model_admin, request, queryset):
    """Admin action: a session for one bot, for a chosen duration; its token is shown on this page only."""
    bots = list(queryset[:2])
    if len(bots) != 1:
        model_admin.message_user(request, "Select exactly one bot to create a session for.", messages.WARNING)
        return None
    bot = bots[0]
    if not may_write(request.user, bot):
        raise Http404("No bot with this id.")
    form = SessionCreateForm(request.POST if "apply" in request.POST else None)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "bot": bot,
        "title": f"Create a session for {bot}",
    }
    if form.is_bound and form.is_valid():
        try:
            opened = bot_session_create(
                bot=bot, actor=request.user, duration_seconds=form.cleaned_data["duration_seconds"], origin=Origin.ADMIN
            )
        except DomainError as error:
            model_admin.message_user(request, error.message, messages.ERROR)
            return redirect(reverse("admin:bots_bot_changelist"))
        context.update(
            {
                "title": f"Session created for {bot}",
                "token": opened.issued.token,
                "bot_session": opened.issued.bot_session,
                "conversation": opened.conversation,
            }
        )
        response = TemplateResponse(request, "admin/bots/bot/session_created.html", context)
        response["Cache-Control"] = "no-store"
        return response
    context.update({"form": form, "action_name": "create_session", "selected": bot.pk})
    return TemplateResponse(request, "admin/bots/bot/session_create.html", context)
