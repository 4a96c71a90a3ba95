"""Event logic of the Pick Parts tool, free of bpy so it can be tested with plain tuples.

The modal operator turns each Blender event into an :class:`Event` (resolving a left click
to the index of the sampled point under the cursor first) and asks :class:`PickState` what
to do. The state machine owns the prompt list and the scale; the operator only executes the
returned :class:`Outcome` (re-decode, write the kept part, finish, restore everything).

Keys (also shown in the header, see :meth:`PickState.header_text`):

* left click: start a new part at the clicked point;
* Shift+left click: add a positive point to the current part;
* Ctrl+left click: add a negative point (an area the part must not cover);
* wheel up / down: larger / smaller scale by :attr:`PickState.scale_step` (turns scale on);
  the panel's Scale slider works too while the tool runs (:meth:`PickState.set_scale`);
* ``N``: toggle the model's no-scale mode;
* Backspace: remove the last point;
* Enter / numpad Enter / Space: keep the current part and start the next one; with no current part,
  finish the tool keeping what was kept;
* right click: finish the tool (the current, not yet kept part is dropped);
* Esc: cancel; the operator restores the object exactly as it was before the tool started;
* navigation (middle mouse, modified wheel, numpad, trackpad, NDOF) passes through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Event types that always go to Blender's own handlers (view navigation, timers).
PASS_THROUGH_PREFIXES = ("NUMPAD_", "TRACKPAD", "NDOF_", "TIMER")
PASS_THROUGH_TYPES = frozenset(
    {"MIDDLEMOUSE", "MOUSEMOVE", "INBETWEEN_MOUSEMOVE", "WINDOW_DEACTIVATE", "MOUSESMARTZOOM"}
)
KEEP_KEYS = frozenset({"RET", "NUMPAD_ENTER", "SPACE"})
WHEEL_UP = frozenset({"WHEELUPMOUSE"})
WHEEL_DOWN = frozenset({"WHEELDOWNMOUSE"})


@dataclass(frozen=True)
class Event:
    """One input event as the state machine sees it.

    ``type`` and ``value`` are Blender's ``event.type`` / ``event.value`` strings;
    ``point`` is the index of the sampled point under the cursor for left clicks on the
    object (``None`` for a click that missed it, and for every other event).
    """

    type: str
    value: str = "PRESS"
    shift: bool = False
    ctrl: bool = False
    alt: bool = False
    point: int | None = None

    @classmethod
    def of(cls, ev: Event | tuple) -> Event:
        """Accept an :class:`Event` or a tuple ``(type, value, shift, ctrl, alt, point)``
        (trailing fields optional)."""
        return ev if isinstance(ev, Event) else cls(*ev)


@dataclass(frozen=True)
class Outcome:
    """What the operator must do after an event.

    ``action`` is one of:

    * ``"pass"``: hand the event to Blender (navigation);
    * ``"ignore"``: swallow it, nothing changes;
    * ``"update"``: re-decode with :attr:`PickState.prompts` at the current scale and show
      the preview (``"clear"`` when the prompt list became empty: remove the preview);
    * ``"header"``: only the header text changed (scale changed with no part active);
    * ``"keep"``: write the current part (``prompts`` holds its prompts), then continue;
    * ``"finish"``: end the tool, keeping everything kept so far;
    * ``"cancel"``: end the tool and restore the state from before it started.
    """

    action: str
    prompts: tuple[tuple[int, bool], ...] = ()


@dataclass
class PickState:
    """Prompts and scale of the part being picked.

    ``scale`` is the fraction of the object's points the part should cover (0–1);
    ``use_scale`` False means the model's no-scale mode. ``scale_step`` is the change per
    wheel notch; the scale is clamped to [``scale_min``, 1].
    """

    scale: float = 0.2
    use_scale: bool = True
    scale_step: float = 0.05
    scale_min: float = 0.01
    prompts: list[tuple[int, bool]] = field(default_factory=list)
    kept: int = 0

    @property
    def effective_scale(self) -> float | None:
        """The scale to pass to the predictor (``None`` = no-scale mode)."""
        return self.scale if self.use_scale else None

    def _change_scale(self, sign: int) -> Outcome:
        self.use_scale = True
        self.scale = min(1.0, max(self.scale_min, round(self.scale + sign * self.scale_step, 6)))
        return Outcome("update") if self.prompts else Outcome("header")

    def set_scale(self, scale: float, use_scale: bool) -> Outcome:
        """The panel's Scale slider / Use Scale toggle moved while the tool runs: take the
        new values (clamped like the wheel) and re-decode the current part, if any."""
        if not math.isfinite(float(scale)):
            return Outcome("ignore")  # a NaN typed into the slider: keep the last scale
        new = min(1.0, max(self.scale_min, round(float(scale), 6)))
        if (new, bool(use_scale)) == (self.scale, self.use_scale):
            return Outcome("ignore")
        self.scale, self.use_scale = new, bool(use_scale)
        return Outcome("update") if self.prompts else Outcome("header")

    def handle(self, ev: Event | tuple) -> Outcome:
        """Advance the state with one event and say what the operator must do."""
        ev = Event.of(ev)
        t = ev.type
        if t in PASS_THROUGH_TYPES or (t.startswith(PASS_THROUGH_PREFIXES) and t not in KEEP_KEYS):
            return Outcome("pass")
        if t in WHEEL_UP or t in WHEEL_DOWN:
            if ev.shift or ev.ctrl or ev.alt:
                return Outcome("pass")  # Blender's own pan/zoom with modifiers
            return self._change_scale(+1 if t in WHEEL_UP else -1)
        if ev.value != "PRESS":
            return Outcome("ignore")
        if t == "ESC":
            return Outcome("cancel")
        if t == "LEFTMOUSE":
            if ev.point is None:
                return Outcome("ignore")
            if ev.ctrl:
                if not self.prompts:
                    return Outcome("ignore")  # a negative point needs a part to subtract from
                self.prompts.append((int(ev.point), False))
            elif ev.shift and self.prompts:
                self.prompts.append((int(ev.point), True))
            else:
                self.prompts = [(int(ev.point), True)]
            return Outcome("update")
        if t in KEEP_KEYS:
            if not self.prompts:
                return Outcome("finish")
            kept = tuple(self.prompts)
            self.prompts = []
            self.kept += 1
            return Outcome("keep", kept)
        if t == "RIGHTMOUSE":
            self.prompts = []
            return Outcome("finish")
        if t == "BACK_SPACE":
            if not self.prompts:
                return Outcome("ignore")
            self.prompts.pop()
            return Outcome("update")
        if t == "N":
            self.use_scale = not self.use_scale
            return Outcome("update") if self.prompts else Outcome("header")
        return Outcome("ignore")

    def header_text(self) -> str:
        """One line for the viewport header: the keys and the current scale."""
        scale = f"{self.scale:.2f}" if self.use_scale else "off"
        npos = sum(1 for _, p in self.prompts if p)
        nneg = len(self.prompts) - npos
        return (
            f"Pick Parts | scale {scale} (wheel ±, N: no-scale) | points +{npos} -{nneg} | "
            f"kept {self.kept} | Click: new part, Shift+Click: add, Ctrl+Click: subtract, "
            "Backspace: undo point, Enter/Space: keep, Right click: done, Esc: cancel"
        )
