from django.contrib import admin

from .models import ApiKey, BotSession, Contact, Conversation, Message, OwnerProfile


@admin.register(OwnerProfile)
class OwnerProfileAdmin(admin.ModelAdmin):
    list_display = ("owner", "org_id")
    readonly_fields = ("org_id",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "owner", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("owner",)
    exclude = ("digest",)
    readonly_fields = ("prefix", "created_at", "last_used_at")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "phone", "owner", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "email", "phone")


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("type", "text", "created_at")
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "bot", "contact", "origin", "created_at", "ended_at", "end_reason")
    list_filter = ("origin", "end_reason")
    list_select_related = ("bot", "contact")
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("type", "__str__", "conversation", "created_at")
    list_select_related = ("conversation",)


@admin.register(BotSession)
class BotSessionAdmin(admin.ModelAdmin):
    list_display = ("pk", "conversation", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_select_related = ("conversation",)
    exclude = ("token_digest",)
