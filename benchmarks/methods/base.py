"""What every method provides: a runner built outside the timed region, then timed calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from benchmarks.cases import Case


class Unavailable(NotImplementedError):
    """The method cannot run here (a missing package or library function); asv and pytest
    report it as skipped, with this message."""


@dataclass(frozen=True)
class Output:
    """A forward's result: ``weights (tasks, m)`` or ``(tasks, k, m)``, and for the SVM head
    the dual ``Λ (tasks, n, k)``."""

    weights: Tensor
    dual: Tensor | None = None


class Runner:
    """A method prepared on one problem (data sliced, solver or layer built).

    ``forward`` is the call a user makes in training (inputs that require grad, no backward);
    ``forward_backward`` adds the VJP with the problem's fixed cotangent and returns the
    gradients with respect to the inputs (``(features, targets)``; ``(features,)`` for the SVM).
    """

    def __init__(self, case: Case) -> None:
        self.case = case

    def forward(self) -> Output:
        raise NotImplementedError

    def forward_backward(self) -> tuple[Tensor, ...]:
        raise NotImplementedError(f"{self.case.method.name} has no backward")

    def start_backward(self) -> Callable[[], None]:
        """Run the forward now and return the backward alone (timed without the forward)."""
        raise NotImplementedError(f"{self.case.method.name} has no separate backward timing")
