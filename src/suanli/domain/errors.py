"""The domain's exception tree: every rule the domain enforces fails with one of these."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error raised by the pure domain layer."""


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a dotted path and a message saying what is allowed."""

    field: str
    message: str


class SpecError(DomainError):
    """A job spec (or another document) failed validation; `errors` names each field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        super().__init__(f"invalid job spec: {summary}")


class InvalidTransition(DomainError):
    """A state change that the state machine's table does not allow."""

    def __init__(self, machine: str, current: str, target: str):
        self.machine, self.current, self.target = machine, current, target
        super().__init__(f"{machine} cannot go from {current} to {target}")


class InvalidToken(DomainError):
    """A token that is malformed or whose checksum does not match."""
