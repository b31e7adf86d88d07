"""The agent's one exception tree: every error the agent raises derives from `AgentError`."""

from __future__ import annotations

__all__ = ["AgentError", "AgentRefused", "AgentUnauthorized", "BackendError", "InvalidLaunch"]


class AgentError(Exception):
    """Base of every error the agent raises."""


class BackendError(AgentError):
    """An engine refused or failed an operation; engines translate their own errors into this."""


class InvalidLaunch(AgentError):
    """A launch from the control plane could not be understood."""


class AgentRefused(AgentError):
    """The control plane refused to talk to this agent: its token is for another site (403
    `wrong_site`), or was refused outright (`AgentUnauthorized`). The agent stops without a last sync."""


class AgentUnauthorized(AgentRefused):
    """The control plane refused the agent's token (revoked, expired or for another site)."""
