"""Every change to what a bot answers bumps its version (see `bot_definition_changed`).

Signals rather than calls in each writer, so that the admin, the API, imports and the shell all
count: the intent model is cached per (bot id, version) and a missed bump would serve stale answers.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from .models import Ability, Bot, EntityType, Intent, Utterance, Variable
from .services import DEFINITION_FIELDS, bot_definition_changed, bots_using_ability_changed


@receiver(post_save, sender=Intent)
@receiver(post_delete, sender=Intent)
@receiver(post_save, sender=Variable)
@receiver(post_delete, sender=Variable)
@receiver(post_save, sender=EntityType)
@receiver(post_delete, sender=EntityType)
def _bot_part_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        bot_definition_changed(bot_id=instance.bot_id)


@receiver(post_save, sender=Utterance)
@receiver(post_delete, sender=Utterance)
def _utterance_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    bot_id = Intent.objects.filter(pk=instance.intent_id).values_list("bot_id", flat=True).first()
    if bot_id is not None:
        bot_definition_changed(bot_id=bot_id)


@receiver(m2m_changed, sender=Intent.required_variables.through)
def _required_variables_changed(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, Intent):
        bot_definition_changed(bot_id=instance.bot_id)


@receiver(post_save, sender=Ability)
def _ability_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        bots_using_ability_changed(ability=instance)


@receiver(pre_save, sender=Bot)
def _bot_changed(sender, instance, raw=False, **kwargs):
    if raw or instance._state.adding:
        return
    previous = Bot.objects.filter(pk=instance.pk).values(*DEFINITION_FIELDS, "version").first()
    if previous is None:
        return
    if any(previous[name] != getattr(instance, name) for name in DEFINITION_FIELDS):
        instance.version = max(instance.version, previous["version"]) + 1
