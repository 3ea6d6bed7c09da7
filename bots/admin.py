from django.contrib import admin

from .models import Ability, Bot, Dataset, DatasetRecord, EntityType, Intent, Skillset, Utterance, Variable


class UtteranceInline(admin.TabularInline):
    model = Utterance
    extra = 1


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "visibility", "version", "created_at")
    list_filter = ("visibility",)
    search_fields = ("name", "description")
    list_select_related = ("owner",)
    readonly_fields = ("version",)


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ("label", "bot")
    list_select_related = ("bot",)
    inlines = [UtteranceInline]


@admin.register(Variable)
class VariableAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "bot")
    list_select_related = ("bot",)


@admin.register(EntityType)
class EntityTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "bot")
    list_select_related = ("bot",)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)


@admin.register(DatasetRecord)
class DatasetRecordAdmin(admin.ModelAdmin):
    list_display = ("__str__", "dataset", "source")
    list_select_related = ("dataset",)


@admin.register(Skillset)
class SkillsetAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)


@admin.register(Ability)
class AbilityAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "skillset")
    list_select_related = ("skillset",)
