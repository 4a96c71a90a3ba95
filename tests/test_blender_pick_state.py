"""The Pick Parts event logic, driven with plain event tuples (no Blender needed)."""

from __future__ import annotations

from s2am3d_blender.pick_state import Event, PickState


def test_click_starts_a_part_and_modifier_clicks_add_points():
    s = PickState(scale=0.2)
    out = s.handle(("LEFTMOUSE", "PRESS", False, False, False, 7))
    assert out.action == "update" and s.prompts == [(7, True)]
    assert s.handle(("LEFTMOUSE", "PRESS", True, False, False, 9)).action == "update"
    assert s.handle(("LEFTMOUSE", "PRESS", False, True, False, 3)).action == "update"
    assert s.prompts == [(7, True), (9, True), (3, False)]
    # a plain click starts over
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 11))
    assert s.prompts == [(11, True)]


def test_negative_click_without_a_part_and_missed_clicks_change_nothing():
    s = PickState()
    assert s.handle(("LEFTMOUSE", "PRESS", False, True, False, 4)).action == "ignore"
    assert s.handle(("LEFTMOUSE", "PRESS", False, False, False, None)).action == "ignore"
    assert s.prompts == []
    # Shift+click with no part starts one
    s.handle(("LEFTMOUSE", "PRESS", True, False, False, 5))
    assert s.prompts == [(5, True)]


def test_wheel_changes_scale_in_steps_and_clamps():
    s = PickState(scale=0.2, scale_step=0.05)
    assert s.handle(("WHEELUPMOUSE",)).action == "header"  # no part yet: nothing to decode
    assert abs(s.scale - 0.25) < 1e-9
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 1))
    assert s.handle(("WHEELDOWNMOUSE",)).action == "update"
    assert abs(s.scale - 0.2) < 1e-9
    for _ in range(40):
        s.handle(("WHEELUPMOUSE",))
    assert s.scale == 1.0
    for _ in range(40):
        s.handle(("WHEELDOWNMOUSE",))
    assert s.scale == s.scale_min


def test_no_scale_toggle_and_wheel_turns_scale_back_on():
    s = PickState(scale=0.3)
    s.handle(("N",))
    assert s.effective_scale is None
    s.handle(("WHEELUPMOUSE",))
    assert s.use_scale and abs(s.effective_scale - 0.35) < 1e-9


def test_navigation_passes_through():
    s = PickState()
    for ev in [("MIDDLEMOUSE",), ("MOUSEMOVE", "NOTHING"), ("NUMPAD_1",), ("NUMPAD_PERIOD",),
               ("TRACKPADPAN",), ("WHEELUPMOUSE", "PRESS", False, True), ("NDOF_MOTION",),
               ("WHEELDOWNMOUSE", "PRESS", True)]:
        assert s.handle(ev).action == "pass", ev
    assert s.scale == 0.2 and s.prompts == []


def test_enter_keeps_then_finishes_and_esc_cancels():
    s = PickState()
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 2))
    s.handle(("LEFTMOUSE", "PRESS", False, True, False, 8))
    out = s.handle(("RET",))
    assert out.action == "keep" and out.prompts == ((2, True), (8, False))
    assert s.prompts == [] and s.kept == 1
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 4))
    assert s.handle(("SPACE",)).action == "keep" and s.kept == 2
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 6))
    assert s.handle(("NUMPAD_ENTER",)).action == "keep" and s.kept == 3
    assert s.handle(("RET",)).action == "finish"
    assert PickState().handle(("ESC",)).action == "cancel"
    # key releases never act
    assert PickState().handle(("RET", "RELEASE")).action == "ignore"


def test_backspace_removes_last_point_and_right_click_finishes():
    s = PickState()
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 1))
    s.handle(("LEFTMOUSE", "PRESS", True, False, False, 2))
    assert s.handle(("BACK_SPACE",)).action == "update" and s.prompts == [(1, True)]
    assert s.handle(("BACK_SPACE",)).action == "update" and s.prompts == []
    assert s.handle(("BACK_SPACE",)).action == "ignore"
    s.handle(Event("LEFTMOUSE", point=3))
    assert s.handle(("RIGHTMOUSE",)).action == "finish" and s.prompts == []


def test_header_lists_keys_and_state():
    s = PickState(scale=0.35)
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 1))
    s.handle(("LEFTMOUSE", "PRESS", False, True, False, 2))
    text = s.header_text()
    for key in ("0.35", "+1 -1", "Shift+Click", "Ctrl+Click", "Enter/Space", "Esc", "wheel"):
        assert key in text
    s.handle(("N",))
    assert "scale off" in s.header_text()


def test_panel_slider_sets_the_scale_while_picking():
    s = PickState(scale=0.2)
    assert s.set_scale(0.2, True).action == "ignore"  # nothing changed
    assert s.set_scale(0.5, True).action == "header"  # no part yet
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 1))
    assert s.set_scale(0.7, True).action == "update" and s.effective_scale == 0.7
    assert s.set_scale(0.7, False).action == "update" and s.effective_scale is None
    assert s.set_scale(0.0, True).action == "update" and s.scale == s.scale_min  # clamped


def test_panel_slider_nan_keeps_the_last_scale_and_timer_events_pass():
    s = PickState(scale=0.3)
    s.handle(("LEFTMOUSE", "PRESS", False, False, False, 5))
    assert s.set_scale(float("nan"), True).action == "ignore" and s.scale == 0.3
    # the operator polls the slider on timer events; the state lets them through
    assert s.handle(("TIMER", "NOTHING")).action == "pass"
    assert s.set_scale(0.45, True).action == "update" and s.effective_scale == 0.45
