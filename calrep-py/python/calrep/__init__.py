"""calrep: calendar replication engine. Early bindings: only the version so far."""

from calrep._calrep import __version__

__all__ = ["__version__"]
