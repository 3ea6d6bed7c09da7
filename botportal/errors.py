"""Domain errors raised by services. Each protocol adapter renders them in its own error shape."""


class DomainError(Exception):
    status = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class InvalidInput(DomainError):
    """Bad input. `fields` maps each offending field (a dotted path) to what is wrong with it."""

    status = 400

    def __init__(self, message: str | None = None, *, fields: dict[str, str] | None = None):
        self.fields = fields or {}
        if message is None:
            message = "; ".join(f"{name}: {problem}" for name, problem in self.fields.items()) or "Invalid input."
        super().__init__(message)


class NotAuthenticated(DomainError):
    status = 401
    default_message = "Authentication credentials were missing or invalid."


class NotAuthorized(DomainError):
    status = 403
    default_message = "You are not allowed to do this."


class NotFound(DomainError):
    status = 404
    default_message = "Not found."


class Conflict(DomainError):
    status = 409
    default_message = "The request conflicts with the current state."


class Busy(DomainError):
    status = 423
    default_message = "Another request for this session is being processed."
