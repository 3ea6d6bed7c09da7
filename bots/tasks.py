"""Celery tasks of bots: each calls a service, nothing more."""

from celery import shared_task

BUILD_INTENT_MODEL_TASK = "bots.build_intent_model"


@shared_task(name=BUILD_INTENT_MODEL_TASK)
def build_intent_model(bot_id: str, version: int) -> str | None:
    from bots.services.intent_models import intent_model_build

    row = intent_model_build(bot_id=bot_id, version=version)
    return row.status if row is not None else None
