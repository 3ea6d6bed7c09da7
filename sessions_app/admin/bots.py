from django import forms
from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from botportal import validation
from botportal.errors import InvalidInput
from bots.models import Ability, Bot, Dataset, DatasetRecord, EntityType, Intent, Skillset, Utterance, Variable
from bots.services.bot_definitions import bot_definition_changed, bot_definition_changes
from sessions_app.access.scoping import (
    OwnerScopedAdminMixin,
    OwnerScopedModelAdmin,
    OwnerScopedRelatedFilter,
    may_write,
)
from sessions_app.admin import views as admin_views
from sessions_app.admin.deletion import BatchedDeleteAdminMixin
from sessions_app.services import deletions
from sessions_app.widget.views import bot_embed_snippet_html


class OneVersionPerSaveMixin:
    """A save (or delete) in the admin is one change of the bot, however many rows it writes: one
    version bump and one model build, not one per utterance."""

    def changeform_view(self, *args, **kwargs):
        with bot_definition_changes():
            return super().changeform_view(*args, **kwargs)

    def delete_view(self, *args, **kwargs):
        with bot_definition_changes():
            return super().delete_view(*args, **kwargs)

    def changelist_view(self, *args, **kwargs):  # bulk actions, such as deleting selected intents
        with bot_definition_changes():
            return super().changelist_view(*args, **kwargs)


class ScopedTabularInline(OwnerScopedAdminMixin, admin.TabularInline):
    pass


class ScopedStackedInline(OwnerScopedAdminMixin, admin.StackedInline):
    pass


class UtteranceInline(ScopedTabularInline):
    model = Utterance
    extra = 1


class IntentInlineForm(forms.ModelForm):
    """An intent with its training utterances edited as lines of one text box.

    Django inlines don't nest, so the bot page edits an intent's utterances here; the intent's own
    page has them as rows.
    """

    utterances_text = forms.CharField(
        label="Utterances",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text="One example phrase per line.",
    )

    class Meta:
        model = Intent
        fields = ("label", "utterances_text", "responses", "required_variables", "ability")
        widgets = {"responses": forms.Textarea(attrs={"rows": 4, "cols": 50})}
        help_texts = {"responses": 'A JSON list, e.g. [{"type": "text", "text": "Our opening hours are 9 to 5."}]'}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["utterances_text"].initial = "\n".join(
                u.text for u in sorted(self.instance.utterances.all(), key=lambda u: u.pk)
            )

    def clean_utterances_text(self):
        lines = [line.strip() for line in self.cleaned_data["utterances_text"].splitlines()]
        lines = [line for line in lines if line]
        too_long = [line for line in lines if len(line) > Utterance._meta.get_field("text").max_length]
        if too_long:
            raise forms.ValidationError("An utterance is at most 1000 characters long.")
        return list(dict.fromkeys(lines))

    def clean_responses(self):
        responses = self.cleaned_data.get("responses")
        if responses in (None, ""):
            return []
        if not isinstance(responses, list) or not all(isinstance(r, dict) and r.get("type") for r in responses):
            raise forms.ValidationError('Enter a list of messages, each an object with a "type".')
        return responses

    def save_utterances(self):
        if "utterances_text" not in self.changed_data or self.instance.pk is None:
            return
        self.instance.utterances.all().delete()
        # bulk_create sends no signal: the change is counted here, once (the admin view batches it).
        Utterance.objects.bulk_create(
            Utterance(intent=self.instance, text=t) for t in self.cleaned_data["utterances_text"]
        )
        bot_definition_changed(bot_id=self.instance.bot_id)


class IntentInline(ScopedStackedInline):
    model = Intent
    form = IntentInlineForm
    extra = 0
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("utterances", "required_variables")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        bot = getattr(request, "_botportal_admin_bot", None)
        if db_field.name == "required_variables" and field is not None:
            # Only this bot's variables make sense as slots to fill.
            field.queryset = field.queryset.filter(bot=bot) if bot is not None else field.queryset.none()
        return field


class VariableInline(ScopedTabularInline):
    model = Variable
    extra = 0
    fields = ("name", "type", "default", "entity_type", "prompt")


class EntityTypeInline(ScopedTabularInline):
    model = EntityType
    extra = 0
    fields = ("name", "values")


class BotAdminForm(forms.ModelForm):
    """The bot form; the admin supplies its model and fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "allowed_origins" in self.fields:
            self.fields["allowed_origins"].help_text = (
                'A JSON list of exact origins, e.g. ["https://www.example.com"]: no path, no wildcard.'
            )

    def clean_allowed_origins(self):
        try:
            return validation.allowed_origins(self.cleaned_data.get("allowed_origins"), field="allowed_origins")
        except InvalidInput as error:
            raise forms.ValidationError(list((error.fields or {"": error.message}).values())) from None


@admin.register(Bot)
class BotAdmin(BatchedDeleteAdminMixin, OneVersionPerSaveMixin, OwnerScopedModelAdmin):
    delete_service = staticmethod(lambda bot: deletions.bot_delete(bot=bot))
    owns_directly = True
    form = BotAdminForm
    list_display = ("name", "owner", "visibility", "dataset", "skillset", "version", "created_at", "try_link")
    list_filter = ("visibility",)
    search_fields = ("name", "description")
    ordering = ("name",)
    list_select_related = ("owner", "dataset", "skillset")
    readonly_fields = ("version",)
    autocomplete_fields = ("dataset", "skillset")
    inlines = [VariableInline, IntentInline, EntityTypeInline]
    actions = ["create_session"]
    fieldsets = (
        (None, {"fields": ("owner", "name", "description", "visibility", "version")}),
        ("Answers", {"fields": ("welcome_messages", "fallback_message", "confidence_threshold", "backstory", "model")}),
        ("Knowledge and skills", {"fields": ("dataset", "skillset")}),
        (
            "Privacy and access",
            {"fields": ("privacy", "moderation", "allowed_origins", "conversation_retention_days", "meta")},
        ),
    )

    @admin.display(description="Try it")
    def try_link(self, obj):
        return format_html('<a href="{}">Try it</a>', reverse("admin:bots_bot_try", args=[obj.pk]))

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        return fields if may_write(request.user) else [f for f in fields if f != "try_link"]

    def get_urls(self):
        def view(function):
            def wrapper(request, object_id):
                return function(self, request, object_id)

            return self.admin_site.admin_view(wrapper)

        return [
            path("<path:object_id>/try/", view(admin_views.bot_try_view), name="bots_bot_try"),
            path("<path:object_id>/try/start/", view(admin_views.bot_try_start_view), name="bots_bot_try_start"),
            path("<path:object_id>/try/send/", view(admin_views.bot_try_send_view), name="bots_bot_try_send"),
        ] + super().get_urls()

    @admin.action(description="Create a session (its token is shown once)", permissions=["change"])
    def create_session(self, request, queryset):
        return admin_views.bot_session_create_action(self, request, queryset)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_try": False}
        bot = self.get_object(request, object_id)
        if bot is not None and may_write(request.user, bot):
            extra_context["can_try"] = True
        if bot is not None:
            extra_context["widget_snippet"] = bot_embed_snippet_html(bot=bot, request=request)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        hidden = set(self.get_exclude(request, obj) or ())
        if not hidden:
            return fieldsets
        return [(name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]}) for name, opts in fieldsets]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The intent inline offers this bot's variables only; it needs to know the bot.
        request._botportal_admin_bot = obj
        return super().get_form(request, obj, change, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            for inline_form in formset.forms:
                if isinstance(inline_form, IntentInlineForm):
                    inline_form.save_utterances()


@admin.register(Intent)
class IntentAdmin(OneVersionPerSaveMixin, OwnerScopedModelAdmin):
    list_display = ("label", "bot")
    list_filter = (("bot", OwnerScopedRelatedFilter),)
    ordering = ("bot__name", "label")
    search_fields = ("label",)
    list_select_related = ("bot",)
    autocomplete_fields = ("bot",)
    inlines = [UtteranceInline]


@admin.register(Variable)
class VariableAdmin(OneVersionPerSaveMixin, OwnerScopedModelAdmin):
    list_display = ("name", "type", "bot")
    list_filter = (("bot", OwnerScopedRelatedFilter), "type")
    list_select_related = ("bot",)


@admin.register(EntityType)
class EntityTypeAdmin(OneVersionPerSaveMixin, OwnerScopedModelAdmin):
    list_display = ("name", "bot")
    list_filter = (("bot", OwnerScopedRelatedFilter),)
    list_select_related = ("bot",)


@admin.register(Dataset)
class DatasetAdmin(OwnerScopedModelAdmin):
    owns_directly = True
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)
    ordering = ("name",)
    search_fields = ("name",)


@admin.register(DatasetRecord)
class DatasetRecordAdmin(OwnerScopedModelAdmin):
    list_display = ("__str__", "dataset", "source", "created_at")
    list_filter = (("dataset", OwnerScopedRelatedFilter),)
    list_select_related = ("dataset",)
    autocomplete_fields = ("dataset",)
    search_fields = ("source",)


class AbilityInline(ScopedStackedInline):
    model = Ability
    extra = 0
    fields = ("name", "kind", "description", "instruction", "config")


@admin.register(Skillset)
class SkillsetAdmin(OneVersionPerSaveMixin, OwnerScopedModelAdmin):
    owns_directly = True
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)
    ordering = ("name",)
    search_fields = ("name",)
    inlines = [AbilityInline]


@admin.register(Ability)
class AbilityAdmin(OneVersionPerSaveMixin, OwnerScopedModelAdmin):
    list_display = ("name", "kind", "skillset")
    list_filter = (("skillset", OwnerScopedRelatedFilter), "kind")
    list_select_related = ("skillset",)
    autocomplete_fields = ("skillset",)
    search_fields = ("name",)
