"""Who sees what in the admin: one place for the owner scoping every ModelAdmin uses.

- A superuser sees and changes everything.
- A bot owner sees and changes only what it owns (directly or through a parent object).
- A conversation reviewer reads every conversation, message, contact and bot, and changes nothing.

Reading and writing are scoped apart: a user who is both an owner and a reviewer reads every bot but
writes only into its own. Every choice a form offers and every object saved goes by `write_scope`.
"""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.functional import cached_property

from bots.models import Ability, Bot, Dataset, DatasetRecord, EntityType, Intent, Skillset, Utterance, Variable
from sessions_app.models import ApiKey, BotSession, Contact, Conversation, Message, OwnerProfile
from sessions_app.services.owners import BOT_OWNER_GROUP, CONVERSATION_REVIEWER_GROUP

# The lookup from each model to the user who owns it.
OWNER_PATHS = {
    Bot: "owner",
    Dataset: "owner",
    Skillset: "owner",
    Contact: "owner",
    Conversation: "owner",
    ApiKey: "owner",
    OwnerProfile: "owner",
    DatasetRecord: "dataset__owner",
    Ability: "skillset__owner",
    Intent: "bot__owner",
    Variable: "bot__owner",
    EntityType: "bot__owner",
    Utterance: "intent__bot__owner",
    Message: "conversation__owner",
    BotSession: "conversation__owner",
}

# What reviewers may read across owners. API keys, sessions and datasets stay with their owner.
REVIEWABLE = {Bot, Contact, Conversation, Message}


def _group_names(user) -> set[str]:
    # Cached on the user object for the request: several checks run per page.
    cached = getattr(user, "_botportal_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._botportal_groups = cached
    return cached


def is_bot_owner(user) -> bool:
    return user.is_active and user.is_staff and BOT_OWNER_GROUP in _group_names(user)


def is_reviewer(user) -> bool:
    return user.is_active and user.is_staff and CONVERSATION_REVIEWER_GROUP in _group_names(user)


def sees_all(user, model) -> bool:
    return user.is_superuser or (model in REVIEWABLE and is_reviewer(user))


def owner_of(obj):
    value = obj
    for part in OWNER_PATHS[type(obj)].split("__"):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def scope(queryset, user):
    """The rows of `queryset` the user may see."""
    if sees_all(user, queryset.model):
        return queryset
    return write_scope(queryset, user)


def write_scope(queryset, user):
    """The rows of `queryset` the user may write, or point a written object at: its own, whatever else it reads."""
    model = queryset.model
    if user.is_superuser:
        return queryset
    if model not in OWNER_PATHS or not is_bot_owner(user):
        return queryset.none()
    return queryset.filter(**{OWNER_PATHS[model]: user})


def may_write(user, obj=None) -> bool:
    """Owners write their own objects; reviewers never write; superusers write everything."""
    if user.is_superuser:
        return True
    if not is_bot_owner(user):
        return False
    return obj is None or owner_of(obj) == user


def _linked_objects(obj, form=None):
    """The owner-scoped objects `obj` points to: its foreign keys, and the many-to-many choices of `form`."""
    for field in obj._meta.concrete_fields:
        if field.is_relation and field.related_model in OWNER_PATHS and getattr(obj, field.attname) is not None:
            yield getattr(obj, field.name)
    cleaned = getattr(form, "cleaned_data", None) or {}
    for field in obj._meta.many_to_many:
        if field.related_model in OWNER_PATHS and field.name in cleaned:
            yield from cleaned[field.name] or ()


def write_check(user, obj, form=None) -> None:
    """Refuse (403) to save `obj` unless the user owns it and everything it points to.

    The forms already offer only the user's own objects; this is the last word on what is saved,
    whatever the form, inline or action that got there.
    """
    if user.is_superuser:
        return
    if not is_bot_owner(user) or owner_of(obj) != user:
        raise PermissionDenied("You may only change your own objects.")
    if any(owner_of(linked) != user for linked in _linked_objects(obj, form)):
        raise PermissionDenied("You may only link your own objects.")


def _is_autocomplete(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "autocomplete"


class OwnerScopedAdminMixin:
    """Scopes a ModelAdmin (or inline) to the request user's objects.

    The owner is set on create and can't be changed by non-superusers; foreign-key and many-to-many
    choices offer only the user's own objects; another owner's object is a 404.
    """

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # The autocomplete endpoint fills a form's choice: what the user may link to, not what it may read.
        if _is_autocomplete(request):
            return write_scope(queryset, request.user)
        return scope(queryset, request.user)

    def _may(self, request, obj, perm_check):
        if not perm_check:
            return False
        return may_write(request.user, obj)

    def has_add_permission(self, request, *args):
        return self._may(request, None, super().has_add_permission(request, *args))

    def has_change_permission(self, request, obj=None):
        return self._may(request, obj, super().has_change_permission(request, obj))

    def has_delete_permission(self, request, obj=None):
        return self._may(request, obj, super().has_delete_permission(request, obj))

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return sees_all(request.user, type(obj)) or owner_of(obj) == request.user

    def _scoped_choices(self, db_field, request, kwargs):
        # Form choices are what the user may write into, never the wider read scope of a reviewer.
        related = db_field.related_model
        if related in OWNER_PATHS and "queryset" not in kwargs and not request.user.is_superuser:
            kwargs["queryset"] = write_scope(related._default_manager.all(), request.user)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scoped_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scoped_choices(db_field, request, kwargs))


class OwnerScopedModelAdmin(OwnerScopedAdminMixin, admin.ModelAdmin):
    # Whether the model has its own `owner` field, set from the request on create.
    owns_directly = False
    # Counting every row again for "N total" is a second full count per page; not worth it at scale.
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if self.owns_directly and not request.user.is_superuser and "owner" not in fields:
            fields.append("owner")
        return fields

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        # On the add form there is no owner to show yet; it is the user.
        if self.owns_directly and obj is None and not request.user.is_superuser:
            exclude.append("owner")
        return exclude or None

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.owns_directly and obj is None and not request.user.is_superuser:
            fields = [f for f in fields if f != "owner"]
        return fields

    def save_model(self, request, obj, form, change):
        if self.owns_directly and not change and not (request.user.is_superuser and obj.owner_id):
            obj.owner = request.user
        write_check(request.user, obj, form)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        # Each inline row is checked once it has its parent, before anything of the formset is saved.
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            write_check(request.user, inline_form.instance, inline_form)
        super().save_formset(request, form, formset, change)

    def get_action(self, action):
        """Actions act only on the selected rows the user may write, unless they are declared view-only."""
        found = super().get_action(action)
        if found is None:
            return None
        func, name, description = found
        declared = getattr(func, "allowed_permissions", None)
        if declared and set(declared) <= {"view"}:
            return found

        @wraps(func)
        def scoped(modeladmin, request, queryset):
            return func(modeladmin, request, write_scope(queryset, request.user))

        return scoped, name, description

    def _404_unless_visible(self, request, object_id):
        # Checked before permissions so that another owner's object and a missing one look the same.
        if self.get_object(request, object_id) is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another owner's object must look exactly like one that doesn't exist: a 404.
        raise Http404(f"No {opts.verbose_name} with this id.")


class OwnerScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-object filter offering only the objects the user may see."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        if request.user.is_superuser or sees_all(request.user, related):
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin) or ()
        queryset = scope(related._default_manager.all(), request.user).order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


class CappedCountPaginator(Paginator):
    """Counts at most `cap` + 1 rows, so a list over millions of rows never runs a full COUNT(*).

    Past the cap the list offers its first pages; filters and search narrow it down.
    """

    cap = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.cap + 1].count()
