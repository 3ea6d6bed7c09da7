"""What a model instance holds, for comparing instances loaded by different reads."""


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
