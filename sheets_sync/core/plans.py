"""Cadence plans: the numbered steps of follow-up, and the endless repeat of long plans."""

from __future__ import annotations

from dataclasses import dataclass

from sheets_sync.core.words import counted


@dataclass(frozen=True, slots=True)
class Step:
    """One touch of a plan: on `day` days after the consultation, do `action` by `channel`."""

    number: int
    day: int
    channel: str
    action: str


@dataclass(frozen=True)
class Repeat:
    """After the last listed step, one more step every `every_days` days, without end."""

    every_days: int
    channel: str
    action: str


@dataclass(frozen=True)
class Plan:
    name: str
    steps: tuple[Step, ...]
    repeat: Repeat | None = None

    @property
    def length(self) -> int:
        """How many steps are listed (a repeating plan goes on past them)."""
        return len(self.steps)

    def step(self, index: int) -> Step | None:
        """The step at 0-based `index`, or None when the plan is finished."""
        if index < len(self.steps):
            return self.steps[index]
        if self.repeat is None:
            return None
        last_day = self.steps[-1].day if self.steps else 0
        extra = index - len(self.steps) + 1
        return Step(
            number=index + 1,
            day=last_day + extra * self.repeat.every_days,
            channel=self.repeat.channel,
            action=self.repeat.action,
        )

    def steps_due_by(self, days: int) -> int:
        """How many steps have a day offset of at most `days` (rule 4's inferred touches)."""
        done = sum(1 for step in self.steps if step.day <= days)
        if self.repeat is not None and done == len(self.steps):
            last_day = self.steps[-1].day if self.steps else 0
            if days > last_day:
                done += (days - last_day) // self.repeat.every_days
        return done

    def describe(self, step: Step) -> str:
        """The `Next action` text: `Step 2/7 · Call · Follow-up call: ...`."""
        position = f"Step {step.number}/{len(self.steps)}"
        if step.number > len(self.steps) and self.repeat is not None:
            position = f"Step {step.number} (every {counted(self.repeat.every_days, 'day')})"
        return f"{position} · {step.channel} · {step.action}"
