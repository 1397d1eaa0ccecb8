"""docs/ecosystem.md's observation/action/reward tables are the ones the code generates, and the
named columns are where the views put them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from metahrl_gym.slice_schedule import SliceScheduleEnv
from metahrl_gym.slice_split import SliceSplitEnv
from metahrl_gym.spaces import high_feature_names, low_feature_names, markdown_tables
from tests.ecosystem.conftest import tiny_env, tiny_scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "ecosystem.md"
BEGIN, END = "<!-- tables:begin -->\n", "<!-- tables:end -->"


def test_doc_tables_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    inside = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert inside == markdown_tables(), (
        "docs/ecosystem.md is out of date: paste metahrl_gym.spaces.markdown_tables() between the markers"
    )


def test_named_columns_are_where_the_views_put_them() -> None:
    env = SliceSplitEnv(scenario=tiny_scenario(), env=tiny_env(), others="static")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.array([1.0, -1.0, -1.0], np.float32))
    names = high_feature_names()
    share = obs[[names.index(f"last_share.{s}") for s in ("embb", "mmtc", "urllc")]]
    np.testing.assert_allclose(share, env.core.env.mdp.shares[0], rtol=1e-6)  # type: ignore[union-attr]
    assert share[0] > 0.99  # the action just taken
    low = SliceScheduleEnv(scenario=tiny_scenario(), env=tiny_env())
    lobs, info = low.reset(seed=0)
    cols = low_feature_names(low.ue_slots)
    present = lobs[[cols.index(f"present.{u}") for u in range(low.ue_slots)]]
    np.testing.assert_array_equal(present > 0.5, info["ue_mask"])
