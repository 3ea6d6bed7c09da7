"""Every change to what a bot answers bumps its version (see `bot_definition_changed`).

Signals rather than calls in each writer, so that the admin, the API, imports and the shell all
count: the intent model is cached per (bot id, version) and a missed bump would serve stale answers.
The bot's own fields (welcome and fallback messages, threshold) are read from the bot on every turn,
so saving the bot itself does not bump the version.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .models import Ability, EntityType, Intent, Utterance, Variable
from .services.bot_definitions import bot_definition_changed, bots_using_ability_changed


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
