"""MAML math against closed forms on a quadratic toy, aggregation, purity and bad inputs.

The toy: parameters θ = (a ∈ R³, b ∈ R^{2×2}) flattened to R⁷ (a first, then b row-major), and
task losses L(θ; A, c) = ½ (θ − c)ᵀ A (θ − c) with A symmetric positive definite, so
∇L = A(θ − c) and ∇²L = A. With inner steps θ_{i+1} = θ_i − α A_i (θ_i − c_i) on the support
batches (A_i, c_i), i = 0..k−1, and the query batch (A_q, c_q):

    first-order meta-gradient   g_FO = A_q (θ_k − c_q)
    second-order meta-gradient  g_SO = (I − αA_0)(I − αA_1)…(I − αA_{k−1}) A_q (θ_k − c_q)

(dθ_{i+1}/dθ_i = I − αA_i is symmetric, so the chain rule gives the product in that order.)
For one step: θ' = θ − αA_s(θ − c_s), g_FO = A_q(θ' − c_q), g_SO = (I − αA_s) A_q (θ' − c_q).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import meta_controller.maml as maml
from meta_controller.errors import MetaInputError
from meta_controller.maml import (
    MetaUpdateConfig,
    first_order_meta_gradient,
    inner_adapt,
    meta_update,
    second_order_meta_gradient,
    weighted_aggregate,
)
from meta_controller.params import GradientStack, ParamLayout
from meta_controller.weights import WeightingConfig, softmin_weights

DIM = 7
Quad = tuple[Tensor, Tensor]  # (A, c)
Toy = tuple[np.ndarray, list[Quad], Quad]  # (θ_0, support batches, query batch)
Params = dict[str, Tensor]
Grads = list[dict[str, Tensor]]


def to_params(theta: np.ndarray) -> dict[str, Tensor]:
    t = torch.tensor(theta, dtype=torch.float64)
    return {"a": t[:3].clone(), "b": t[3:].reshape(2, 2).clone()}


def to_vec(params: dict[str, Tensor]) -> np.ndarray:
    return torch.cat([params["a"], params["b"].reshape(-1)]).detach().numpy()


def quad_loss(params: dict[str, Tensor], batch: Quad) -> Tensor:
    a_mat, c = batch
    d = torch.cat([params["a"], params["b"].reshape(-1)]) - c
    return 0.5 * d @ a_mat @ d


def random_quad(gen: np.random.Generator) -> Quad:
    m = gen.normal(size=(DIM, DIM))
    a_mat = m @ m.T / DIM + 0.5 * np.eye(DIM)
    return torch.tensor(a_mat), torch.tensor(gen.normal(size=DIM))


def analytic(
    theta0: np.ndarray, support: list[Quad], query: Quad, alpha: float, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(θ_k, g_FO, g_SO) from the closed forms in the module docstring."""
    theta = theta0.copy()
    jac_t = np.eye(DIM)  # (I − αA_0)…(I − αA_{i−1})
    for i in range(steps):
        a_mat, c = (x.numpy() for x in support[i % len(support)])
        theta = theta - alpha * a_mat @ (theta - c)
        jac_t = jac_t @ (np.eye(DIM) - alpha * a_mat)
    a_q, c_q = (x.numpy() for x in query)
    g_fo = a_q @ (theta - c_q)
    return theta, g_fo, jac_t @ g_fo


@pytest.fixture
def toy() -> Toy:
    gen = np.random.default_rng(42)
    return gen.normal(size=DIM), [random_quad(gen), random_quad(gen)], random_quad(gen)


@pytest.mark.parametrize("steps", [1, 3])
def test_inner_adapt_and_first_order_match_closed_form(toy: Toy, steps: int) -> None:
    theta0, support, query = toy
    alpha = 0.1
    theta_k, g_fo, _ = analytic(theta0, support, query, alpha, steps)
    adapted = inner_adapt(to_params(theta0), quad_loss, support, alpha, steps)
    np.testing.assert_allclose(to_vec(adapted), theta_k, rtol=1e-12, atol=1e-12)
    grad = first_order_meta_gradient(to_params(theta0), quad_loss, support, query, alpha, steps)
    assert set(grad) == {"a", "b"} and grad["b"].shape == (2, 2)
    np.testing.assert_allclose(to_vec(grad), g_fo, rtol=1e-12, atol=1e-12)


def test_one_step_closed_form_written_out(toy: Toy) -> None:
    theta, (support, _), query = toy
    alpha = 0.05
    a_s, c_s = (x.numpy() for x in support)
    a_q, c_q = (x.numpy() for x in query)
    adapted = theta - alpha * a_s @ (theta - c_s)  # θ' = θ − αA_s(θ − c_s)
    g_fo = a_q @ (adapted - c_q)  # A_q(θ' − c_q)
    g_so = (np.eye(DIM) - alpha * a_s) @ a_q @ (adapted - c_q)  # (I − αA_s)A_q(θ' − c_q)
    fo = first_order_meta_gradient(to_params(theta), quad_loss, [support], query, alpha)
    so = second_order_meta_gradient(to_params(theta), quad_loss, [support], query, alpha)
    np.testing.assert_allclose(to_vec(fo), g_fo, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_vec(so), g_so, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 3])
def test_second_order_matches_closed_form(toy: Toy, steps: int) -> None:
    theta0, support, query = toy
    alpha = 0.1
    _, g_fo, g_so = analytic(theta0, support, query, alpha, steps)
    grad = second_order_meta_gradient(to_params(theta0), quad_loss, support, query, alpha, steps)
    np.testing.assert_allclose(to_vec(grad), g_so, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(g_so - g_fo) > 1e-2 * np.linalg.norm(g_fo)  # the test can tell them apart


def test_zero_steps_is_the_plain_gradient(toy: Toy) -> None:
    theta0, support, query = toy
    a_q, c_q = (x.numpy() for x in query)
    for fn in (first_order_meta_gradient, second_order_meta_gradient):
        grad = fn(to_params(theta0), quad_loss, support, query, 0.1, 0)
        np.testing.assert_allclose(to_vec(grad), a_q @ (theta0 - c_q), rtol=1e-12)
    same = inner_adapt(to_params(theta0), quad_loss, [], 0.1, 0)
    np.testing.assert_array_equal(to_vec(same), theta0)


def test_inner_adapt_is_functional_with_modules() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    params = dict(net.named_parameters())
    before = {k: v.detach().clone() for k, v in params.items()}
    batch = (torch.randn(16, 4), torch.randn(16, 1))

    def loss(p: dict[str, Tensor], b: tuple[Tensor, Tensor]) -> Tensor:
        x, y = b
        return ((torch.func.functional_call(net, p, (x,)) - y) ** 2).mean()

    adapted = inner_adapt(params, loss, [batch], alpha=0.1, steps=2)
    assert all(not v.requires_grad for v in adapted.values())
    assert loss(adapted, batch) < loss(before, batch)
    for k, v in params.items():
        assert torch.equal(v.detach(), before[k]) and v.grad is None
    # one manual SGD step equals one inner step
    manual = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    grads = torch.autograd.grad(loss(manual, batch), list(manual.values()))
    expected = {k: v.detach() - 0.1 * g for (k, v), g in zip(manual.items(), grads, strict=True)}
    one = inner_adapt(params, loss, [batch], alpha=0.1)
    for k in expected:
        torch.testing.assert_close(one[k], expected[k])


# ---------------------------------------------------------------------------------------------
# aggregation and the meta-update


SHAPES = {
    "high.actor.0.weight": (5, 3),
    "high.actor.0.bias": (5,),
    "high.critic.0.weight": (4, 6),
    "low.0.actor.0.weight": (7, 2),
    "low.0.critic.0.bias": (1,),
    "low.1.actor.0.weight": (3, 3),
}


def named(gen: torch.Generator, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    return {k: torch.randn(s, generator=gen, dtype=dtype) for k, s in SHAPES.items()}


@pytest.fixture
def grads() -> list[dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(7)
    return [named(gen) for _ in range(4)]


@pytest.fixture
def theta() -> dict[str, Tensor]:
    return named(torch.Generator().manual_seed(3))


@pytest.mark.parametrize("block_bytes", [1 << 20, 64])
def test_weighted_aggregate_matches_manual_sum(
    grads: Grads, block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maml, "BLOCK_BYTES", block_bytes)  # 64 B: one block per tensor
    weights = [0.5, -1.25, 0.0, 2.0]
    for source in (grads, GradientStack.from_grads(grads)):
        out = weighted_aggregate(source, weights)
        assert list(out) == list(SHAPES)
        for k in SHAPES:
            expected = sum(w * g[k] for w, g in zip(weights, grads, strict=True))
            torch.testing.assert_close(out[k], expected, rtol=1e-12, atol=1e-12)


def test_uniform_weights_reduce_to_the_plain_mean(grads: Grads, theta: Params) -> None:
    mean = {k: torch.stack([g[k] for g in grads]).mean(0) for k in SHAPES}
    out = weighted_aggregate(grads, [0.25] * 4)
    cfg = MetaUpdateConfig(beta=0.3, weighting=WeightingConfig(scheme="uniform"))
    res = meta_update(theta, grads, None, cfg)
    assert res.weights == {"": (0.25, 0.25, 0.25, 0.25)}
    for k in SHAPES:
        torch.testing.assert_close(out[k], mean[k])
        torch.testing.assert_close(res.params[k], theta[k] - 0.3 * mean[k])


def test_meta_update_is_eq13_with_softmin(grads: Grads, theta: Params) -> None:
    variances = [0.4, 1.0, 0.1, 2.5]
    w = softmin_weights(variances)
    for source in (grads, GradientStack.from_grads(grads)):
        res = meta_update(theta, source, variances, MetaUpdateConfig(beta=0.05))
        np.testing.assert_allclose(res.weights[""], w)
        for k in SHAPES:
            expected = theta[k] - 0.05 * sum(wg * g[k] for wg, g in zip(w, grads, strict=True))
            torch.testing.assert_close(res.params[k], expected, rtol=1e-12, atol=1e-12)
        assert res.flat.shape == (ParamLayout.of(theta).numel,)


def test_bfloat16_stack_aggregates_into_float32() -> None:
    """A bfloat16 gradient stack (half the bytes) sums into float32 meta-parameters. Each
    bfloat16 entry carries a relative rounding error ≤ 2⁻⁹; the weighted sum of 4 tasks with
    weights summing to 1 is then off by at most ~2⁻⁹ of the largest |g| (plus the rounding of
    the float32-accumulated result back to bfloat16, another 2⁻⁹): 1e-2 absolute on N(0, 1)
    gradients is a safe bound that a wrong implementation (e.g. dropping a task) far exceeds."""
    gen = torch.Generator().manual_seed(11)
    grads32 = [named(gen, torch.float32) for _ in range(4)]
    theta32 = named(gen, torch.float32)
    stack = GradientStack.from_grads([{k: v.to(torch.bfloat16) for k, v in g.items()} for g in grads32])
    assert stack.data.dtype == torch.bfloat16
    w = [0.1, 0.2, 0.3, 0.4]
    out = weighted_aggregate(stack, w)
    res = meta_update(theta32, stack, [1.0, 2.0, 3.0, 4.0], MetaUpdateConfig(beta=0.5))
    ref = meta_update(theta32, grads32, [1.0, 2.0, 3.0, 4.0], MetaUpdateConfig(beta=0.5))
    for k in SHAPES:
        assert out[k].dtype == torch.float32 and res.params[k].dtype == torch.float32
        expected = sum(wg * g[k] for wg, g in zip(w, grads32, strict=True))
        torch.testing.assert_close(out[k], expected, rtol=0, atol=1e-2)
        torch.testing.assert_close(res.params[k], ref.params[k], rtol=0, atol=1e-2)
    half = GradientStack.from_grads([{k: v.half() for k, v in g.items()} for g in grads32])
    with pytest.raises(MetaInputError, match="float16"):
        meta_update(theta32, half, [1.0, 2.0, 3.0, 4.0], MetaUpdateConfig(beta=0.5))


def test_per_group_weights(grads: Grads, theta: Params) -> None:
    groups = {"high": [0.1, 0.2, 0.3, 0.4], "low.0": [4.0, 3.0, 2.0, 1.0], "low.1": [1.0] * 4}
    cfg = MetaUpdateConfig(beta=1.0, weighting=WeightingConfig(scheme="softmax"))
    mapping = meta_update(theta, grads, groups, cfg)
    stacked = meta_update(theta, GradientStack.from_grads(grads), groups, cfg)
    for prefix, variances in groups.items():
        w = np.asarray(mapping.weights[prefix])
        assert w.argmax() == int(np.argmax(variances)) or prefix == "low.1"
        for k in (k for k in SHAPES if k.startswith(prefix + ".")):
            expected = theta[k] - sum(wg * g[k] for wg, g in zip(w, grads, strict=True))
            torch.testing.assert_close(mapping.params[k], expected, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(stacked.params[k], expected, rtol=1e-12, atol=1e-12)


def test_meta_update_does_not_mutate_its_inputs(grads: Grads, theta: Params) -> None:
    theta_before = {k: v.clone() for k, v in theta.items()}
    grads_before = [{k: v.clone() for k, v in g.items()} for g in grads]
    stack = GradientStack.from_grads(grads)
    stack_before = stack.data.clone()
    variances = np.array([0.4, 1.0, 0.1, 2.5])
    for source in (grads, stack):
        res = meta_update(theta, source, variances, MetaUpdateConfig(beta=0.5))
        for k in SHAPES:
            assert res.params[k].untyped_storage().data_ptr() != theta[k].untyped_storage().data_ptr()
            res.params[k].add_(1.0)  # writing the result must not reach the inputs either
    np.testing.assert_array_equal(variances, [0.4, 1.0, 0.1, 2.5])
    assert torch.equal(stack.data, stack_before)
    for k in SHAPES:
        assert torch.equal(theta[k], theta_before[k])
        for g, g0 in zip(grads, grads_before, strict=True):
            assert torch.equal(g[k], g0[k])


def test_meta_update_tracks_no_autograd_graph(grads: Grads) -> None:
    theta = {k: nn.Parameter(torch.randn(s, dtype=torch.float64)) for k, s in SHAPES.items()}
    res = meta_update(theta, grads, [1.0, 2.0, 3.0, 4.0])
    assert all(not v.requires_grad for v in res.params.values())


def test_first_order_loop_converges_on_quadratic_family() -> None:
    """FOMAML drives θ_M towards the task optimum mean when every A = I (sanity of signs)."""
    gen = np.random.default_rng(0)
    centres = [gen.normal(size=DIM) for _ in range(3)]
    eye = torch.eye(DIM, dtype=torch.float64)
    theta = to_params(np.zeros(DIM))
    cfg = MetaUpdateConfig(beta=0.5, weighting=WeightingConfig(scheme="uniform"))
    for _ in range(60):
        task_grads = [
            first_order_meta_gradient(theta, quad_loss, [(eye, torch.tensor(c))], (eye, torch.tensor(c)), 0.1)
            for c in centres
        ]
        theta = meta_update(theta, task_grads, None, cfg).params
    np.testing.assert_allclose(to_vec(theta), np.mean(centres, axis=0), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# bad inputs


def test_mismatched_gradients_are_rejected(grads: Grads, theta: Params) -> None:
    missing = dict(grads[1])
    del missing["low.0.critic.0.bias"]
    with pytest.raises(MetaInputError, match=r"task 1 gradient.*missing \['low.0.critic.0.bias'\]"):
        meta_update(theta, [grads[0], missing], [1.0, 1.0])
    wrong = dict(grads[2]) | {"high.actor.0.bias": torch.zeros(6, dtype=torch.float64)}
    with pytest.raises(MetaInputError, match=r"task 2 gradient: 'high.actor.0.bias' has shape"):
        weighted_aggregate([grads[0], grads[1], wrong], [1.0, 1.0, 1.0])
    as_float32 = [{k: v.float() for k, v in g.items()} for g in grads]
    with pytest.raises(MetaInputError, match=r"torch\.float32, expected torch\.float64"):
        meta_update(theta, as_float32, [1.0] * 4)
    with pytest.raises(MetaInputError, match=r"stack is torch\.float32"):
        meta_update(theta, GradientStack.from_grads(as_float32), [1.0] * 4)
    with pytest.raises(MetaInputError, match="no task gradients"):
        weighted_aggregate([], [])
    with pytest.raises(MetaInputError, match="3 weights for 4 tasks"):
        weighted_aggregate(grads, [1.0, 1.0, 1.0])
    with pytest.raises(MetaInputError, match="finite"):
        weighted_aggregate(grads, [1.0, math.nan, 1.0, 1.0])
    other = {k: v for k, v in theta.items() if k != "low.1.actor.0.weight"}
    with pytest.raises(MetaInputError, match="layout"):
        meta_update(other, GradientStack.from_grads(grads), [1.0] * 4)


def test_bad_variances_and_groups_are_rejected(grads: Grads, theta: Params) -> None:
    with pytest.raises(MetaInputError, match="3 TD variances for 4 tasks"):
        meta_update(theta, grads, [1.0, 2.0, 3.0])
    with pytest.raises(MetaInputError, match="finite"):
        meta_update(theta, grads, [1.0, 2.0, math.inf, 3.0])
    with pytest.raises(MetaInputError, match="required"):
        meta_update(theta, grads, None)
    with pytest.raises(MetaInputError, match="matches groups \\[\\]"):
        meta_update(theta, grads, {"high": [1.0] * 4, "low.0": [1.0] * 4})
    with pytest.raises(MetaInputError, match="matches groups"):
        meta_update(theta, grads, {"": [1.0] * 4, "high": [1.0] * 4})
    with pytest.raises(MetaInputError, match="matches no parameter"):
        meta_update(theta, grads, {"high": [1.0] * 4, "low": [1.0] * 4, "mid": [1.0] * 4})


def test_non_finite_update_names_the_task(grads: Grads, theta: Params) -> None:
    bad = dict(grads[2]) | {"low.0.actor.0.weight": torch.full((7, 2), math.nan, dtype=torch.float64)}
    poisoned = [grads[0], grads[1], bad, grads[3]]
    for source in (poisoned, GradientStack.from_grads(poisoned)):
        with pytest.raises(MetaInputError, match=r"task\(s\) \[2\]"):
            meta_update(theta, source, [1.0] * 4)
    res = meta_update(theta, poisoned, [1.0] * 4, MetaUpdateConfig(check_finite=False))
    assert torch.isnan(res.params["low.0.actor.0.weight"]).all()


def test_bad_inner_loop_arguments_are_rejected(toy: Toy) -> None:
    theta0, support, query = toy
    with pytest.raises(MetaInputError, match="alpha"):
        inner_adapt(to_params(theta0), quad_loss, support, -0.1)
    with pytest.raises(MetaInputError, match="steps"):
        inner_adapt(to_params(theta0), quad_loss, support, 0.1, -1)
    with pytest.raises(MetaInputError, match="support"):
        first_order_meta_gradient(to_params(theta0), quad_loss, [], query, 0.1, 2)


def test_meta_config_validation() -> None:
    with pytest.raises(ValueError):
        MetaUpdateConfig(beta=0.0)
    with pytest.raises(ValueError):
        MetaUpdateConfig(beta=math.nan)
    cfg = MetaUpdateConfig.model_validate({"beta": 0.01, "weighting": {"scheme": "static-var"}})
    assert cfg.weighting.scheme == "static-var"
