"""Replay buffer: ring overwrite, batched adds, sampling, masks, state round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xapps.agent import CheckpointError, ReplayBuffer


def _add_numbered(buf: ReplayBuffer, start: int, n: int) -> None:
    for i in range(start, start + n):
        buf.add(np.full(2, i), np.full(1, -i), float(i), np.full(2, i + 0.5), i % 2 == 0)


def test_wraps_around_overwriting_the_oldest() -> None:
    buf = ReplayBuffer(5, 2, 1)
    _add_numbered(buf, 0, 7)
    assert (len(buf), buf.pos) == (5, 2)
    assert buf.reward.tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert buf.obs[:, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert buf.next_obs[1, 1].item() == 6.5
    assert buf.done.tolist() == [0.0, 1.0, 1.0, 0.0, 1.0]


def test_add_batch_equals_single_adds_even_past_capacity() -> None:
    single, batched = ReplayBuffer(4, 2, 1), ReplayBuffer(4, 2, 1)
    _add_numbered(single, 0, 3)
    _add_numbered(batched, 0, 3)
    _add_numbered(single, 3, 6)
    idx = np.arange(3, 9)
    batched.add_batch(
        np.repeat(idx[:, None], 2, 1), -idx[:, None], idx, np.repeat(idx[:, None], 2, 1) + 0.5,
        idx % 2 == 0,
    )  # fmt: skip
    for name in ("obs", "action", "reward", "next_obs", "done"):
        assert torch.equal(getattr(single, name), getattr(batched, name)), name
    assert (single.pos, single.size) == (batched.pos, batched.size) == (1, 4)


def test_sample_is_uniform_over_filled_rows_and_reproducible() -> None:
    buf = ReplayBuffer(100, 2, 1)
    _add_numbered(buf, 0, 10)
    batch = buf.sample(5000, torch.Generator().manual_seed(0))
    rewards = batch.reward.numpy()
    counts = np.bincount(rewards.astype(int), minlength=10)
    assert counts.shape == (10,)  # only the 10 filled rows are ever drawn
    assert counts.min() > 400 and counts.max() < 600  # expected 500 each, sd ≈ 21
    np.testing.assert_array_equal(batch.obs[:, 0].numpy(), rewards)  # rows stay intact
    again = buf.sample(5000, torch.Generator().manual_seed(0))
    assert torch.equal(again.reward, batch.reward)
    assert batch.mask is None


def test_masked_buffer_keeps_masks_and_requires_them() -> None:
    buf = ReplayBuffer(3, 2, 3, masked=True)
    with pytest.raises(ValueError, match="mask"):
        buf.add(np.zeros(2), np.zeros(3), 0.0, np.zeros(2), False)
    buf.add(np.zeros(2), np.zeros(3), 0.0, np.zeros(2), False, [True, False, True], [0, 0, 1])
    batch = buf.sample(4, torch.Generator().manual_seed(1))
    assert batch.mask is not None and batch.next_mask is not None
    assert batch.mask[0].tolist() == [True, False, True]
    assert batch.next_mask[0].tolist() == [False, False, True]


def test_state_dict_round_trip_and_mismatch() -> None:
    buf = ReplayBuffer(4, 2, 1)
    _add_numbered(buf, 0, 6)
    other = ReplayBuffer(4, 2, 1)
    other.load_state_dict(buf.state_dict())
    assert (other.pos, other.size) == (buf.pos, buf.size)
    assert torch.equal(other.obs, buf.obs) and torch.equal(other.reward, buf.reward)
    with pytest.raises(CheckpointError, match=r"replay\.capacity"):
        ReplayBuffer(5, 2, 1).load_state_dict(buf.state_dict())
    with pytest.raises(CheckpointError, match=r"replay\.data\.obs: shape"):
        ReplayBuffer(4, 3, 1).load_state_dict(buf.state_dict())
