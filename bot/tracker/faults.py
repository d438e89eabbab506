"""What a batch's failed requests mean for the schedule: gone, retry later, or pause.

One ``BatchFaults`` per batch collects the failures; the tracker then writes
their consequences in one transaction. The rate-limit back-off is the
tracker's (it spans batches), so it is passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.errors import (
    ApiAccessDenied,
    ApiMaintenance,
    ApiRateLimited,
    ApiUnavailable,
    ClanNotFound,
    PlayerNotFound,
    UserFacingError,
)

log = logging.getLogger(__name__)

MAINTENANCE = "API maintenance"


@dataclass
class Backoff:
    """Exponential back-off on 429s: one step per batch that met one, reset by a success."""

    base: float
    ceiling: float
    steps: int = 0

    def step(self) -> float:
        self.steps += 1
        return min(self.ceiling, self.base * 2 ** (self.steps - 1))

    def reset(self) -> None:
        self.steps = 0


@dataclass
class BatchFaults:
    maintenance_pause: float
    denied_pause: float
    backoff: Backoff
    missing: list[str] = field(default_factory=list)  # 404: counts towards "gone"
    retry: dict[str, str] = field(default_factory=dict)  # tag -> reason, tried again later
    pause: tuple[float, str] | None = None
    paused: list[str] = field(default_factory=list)  # released unpolled while paused
    _rate_limited: bool = False

    def add(self, tag: str, exc: BaseException) -> None:
        if isinstance(exc, PlayerNotFound | ClanNotFound):
            self.missing.append(tag)
        elif isinstance(exc, ApiMaintenance):
            self.pause = (self.maintenance_pause, MAINTENANCE)
            self.paused.append(tag)
        elif isinstance(exc, ApiRateLimited):
            # One back-off step per batch, not per request: a batch of 500 would
            # otherwise jump to the ceiling on one burst.
            if not self._rate_limited:
                self._rate_limited = True
                wait = self.backoff.step()
                if self.pause is None or self.pause[1] != MAINTENANCE:
                    self.pause = (wait, "rate limited by the API (429)")
            self.paused.append(tag)
        elif isinstance(exc, ApiAccessDenied):
            self.pause = (self.denied_pause, f"API key refused ({exc.reason})")
            self.paused.append(tag)
        elif isinstance(exc, UserFacingError):  # unreachable, 5xx after retries, bad body
            detail = exc.detail if isinstance(exc, ApiUnavailable) and exc.detail else ""
            self.retry[tag] = type(exc).__name__ + (f": {detail}" if detail else "")
        else:
            log.error("tracker: unexpected error polling %s", tag, exc_info=exc)
            self.retry[tag] = type(exc).__name__

    def retries_by_reason(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for tag, reason in self.retry.items():
            grouped.setdefault(reason, []).append(tag)
        return grouped

    def log_retries(self, kind: str, batch: int, delay: float) -> None:
        """One line per batch for requests that failed and are retried (timeouts, 5xx,
        unreadable bodies): without it an API outage left no trace in the log."""
        if self.retry:
            log.warning(
                "tracker: %d of %d %s request(s) failed (%s); retrying in %.1f s",
                len(self.retry),
                batch,
                kind,
                ", ".join(sorted(set(self.retry.values()))),
                delay,
            )

    def log_pause(self) -> None:
        if self.pause is not None:
            seconds, reason = self.pause
            log.warning("tracker paused for %.1f s: %s", seconds, reason)
