"""Old ``leanloop.toml`` keys moved to their new place, so existing files keep loading.

``[policy]`` once held 29 keys: the retraining and the promotion gate now have their own
sections, and the gate's segment settings are the ``[segments]`` ones (one setting
for the finder and the gate). :func:`migrate` rewrites a parsed file and says what moved.
When a file sets both the old and the new key, the new one wins and the note says so.

Examples
--------
>>> raw, moves = migrate({"policy": {"min_rows": 5, "gate_resamples": 800}})
>>> raw
{'policy': {'min_rows': 5}, 'gate': {'resamples': 800}}
>>> moves
['[policy] gate_resamples -> [gate] resamples']
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["MOVED", "migrate"]

#: (old section, old key) -> (new section, new key).
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("policy", "retrain_strategy"): ("retrain", "strategy"),
    ("policy", "retrain_window_rows"): ("retrain", "window_rows"),
    ("policy", "recency_half_life_rows"): ("retrain", "recency_half_life_rows"),
    ("policy", "retrain_max_rows"): ("retrain", "max_rows"),
    ("policy", "production_weight"): ("retrain", "production_weight"),
    ("policy", "recent_eval_share"): ("retrain", "recent_eval_share"),
    ("policy", "gate_confidence"): ("gate", "confidence"),
    ("policy", "gate_resamples"): ("gate", "resamples"),
    ("policy", "min_kpi_gain"): ("gate", "min_kpi_gain"),
    ("policy", "shadow_before_promote"): ("gate", "shadow_before_promote"),
    ("policy", "segment_metric"): ("segments", "metric"),
    ("policy", "segment_min_rows"): ("segments", "min_support"),
    ("policy", "segment_top_k"): ("segments", "top_k"),
    ("policy", "segment_alpha"): ("segments", "alpha"),
    ("policy", "segment_correction"): ("segments", "correction"),
}


def migrate(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``raw`` (a parsed ``leanloop.toml``) with old keys in their new place, and one
    note per key moved (or dropped because the new key was set too); ``raw`` itself is
    not changed.

    >>> migrate({"policy": {"segment_alpha": 0.01}, "segments": {"alpha": 0.05}})[1]
    ['[policy] segment_alpha = 0.01 dropped: [segments] alpha = 0.05 is set and now serves the gate too']
    """
    out = copy.deepcopy(raw)
    moves = []
    for (old_section, old_key), (new_section, new_key) in MOVED.items():
        section = out.get(old_section)
        if not isinstance(section, dict) or old_key not in section:
            continue
        value = section.pop(old_key)
        target = out.setdefault(new_section, {})
        if not isinstance(target, dict):
            continue  # validation names the malformed section
        if new_key in target:
            moves.append(f"[{old_section}] {old_key} = {value!r} dropped: [{new_section}] {new_key} = "
                          f"{target[new_key]!r} is set and now serves the gate too"
                          if new_section == "segments" else
                          f"[{old_section}] {old_key} = {value!r} dropped: [{new_section}] {new_key} = "
                          f"{target[new_key]!r} is set")
            continue
        target[new_key] = value
        moves.append(f"[{old_section}] {old_key} -> [{new_section}] {new_key}")
    return out, moves
