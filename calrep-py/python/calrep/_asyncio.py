"""Settling asyncio futures from calrep's runtime (called on the loop's thread)."""

from __future__ import annotations

import asyncio
from typing import Optional


def settle(future: asyncio.Future[str], value: Optional[str], error: Optional[BaseException]) -> None:
    """Completes ``future`` unless it was cancelled meanwhile."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value if value is not None else "")
