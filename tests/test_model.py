"""Tests of ntm.model (NTM, NTMConfig) and ntm.baseline (LSTMBaseline, LSTMConfig).

The scanned run equals a Python loop of steps; the trace is consistent with the memory
equations; masks and start states behave as documented; numeric gradient checks in float64 on
the whole step; every trained parameter receives a gradient; no NaN over long runs.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jax.flatten_util import ravel_pytree

import ntm
from ntm import memory
from ntm.baseline import LSTMBaseline, LSTMConfig
from ntm.model import NTM, NTMConfig

I, O = 3, 2  # input and output widths of the small test models


@functools.lru_cache(maxsize=None)
def ntm_model(controller="feedforward", read_heads=2, write_heads=3, seed=0, **kw) -> NTM:
    """A small NTM (N=8, M=4, controller 6, 2 read and 3 write heads); cached, since models are
    immutable.  Most tests share these sizes, so each model's run compiles once per module."""
    cfg = dict(input_size=I, output_size=O, memory_rows=8, memory_width=4, controller=controller,
               controller_size=6, read_heads=read_heads, write_heads=write_heads)
    cfg.update(kw)
    return NTM(NTMConfig(**cfg), key=jax.random.key(seed))


@functools.lru_cache(maxsize=None)
def lstm_model(seed=0, hidden_size=5, layers=2) -> LSTMBaseline:
    return LSTMBaseline(LSTMConfig(input_size=I, output_size=O, hidden_size=hidden_size, layers=layers),
                        key=jax.random.key(seed))


# The models most tests run: several read and write heads, both controllers (the LSTM with two
# layers), and the baseline.  Shapes are the same everywhere (B=2, T=6), so each model compiles
# its run and its step once for the whole module.
MODELS = {
    "ff": lambda: ntm_model("feedforward"),
    "lstm": lambda: ntm_model("lstm", controller_layers=2),
    "baseline": lambda: lstm_model(),
}
NTM_MODELS = ["ff", "lstm"]
B, T = 2, 6


def inputs(batch=B, steps=T, seed=0, width=I):
    """Random inputs [B, T, I] (drawn with NumPy: a JAX draw compiles for every new shape)."""
    return np.random.default_rng(seed + 1000).normal(size=(batch, steps, width)).astype(np.float32)


@eqx.filter_jit
def _run(model, xs, mask, state):
    return model.run(xs, mask, return_trace=True, state=state)


def strong(tree):
    """The same arrays without JAX's weak types.  (A weakly typed initial state would compile
    every jitted function twice: once for it and once for the strongly typed states that steps
    return.  See test_initial_state_is_not_weakly_typed.)"""
    return jax.tree_util.tree_map(lambda a: a.astype(a.dtype), tree)


def run(model, xs, mask=None, state=None, return_trace=False):
    """model.run under jit, always compiled with a mask, a start state and a trace, so that one
    compilation per model serves every test (a mask of ones is tested to equal no mask)."""
    mask = np.ones(xs.shape[:2], np.float32) if mask is None else mask
    state = strong(model.initial_state(xs.shape[0]) if state is None else state)
    ys, trace = _run(model, xs, mask, state)
    return (ys, trace) if return_trace else ys


jit_read, jit_write = jax.jit(memory.read), jax.jit(memory.write)


@eqx.filter_jit
def step(model, state, x):
    return model.step(state, x)


def step_loop(model, xs, state=None, return_traces=False):
    """The model stepped by a Python loop: (outputs [B, T, O], the state after every step
    [, the trace of every step])."""
    state = strong(model.initial_state(xs.shape[0]) if state is None else state)
    ys, states, traces = [], [], []
    for t in range(xs.shape[1]):
        state, y, trace = step(model, state, xs[:, t])
        ys.append(y)
        states.append(state)
        traces.append(trace)
    return (jnp.stack(ys, axis=1), states) + ((traces,) if return_traces else ())


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def to_f64(tree):
    return jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, tree)


def all_finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(a)))) for a in jax.tree_util.tree_leaves(tree))


# ------------------------------------------------------------------------------------------------
# Step-by-step equals scanned run; start states; masks


@pytest.mark.parametrize("name", list(MODELS))
def test_step_loop_equals_scanned_run(name):
    model = MODELS[name]()
    xs = inputs()
    ys_loop, states, traces = step_loop(model, xs, return_traces=True)
    ys_run, trace_run = run(model, xs, return_trace=True)
    assert ys_run.shape == (B, T, O)
    np.testing.assert_allclose(ys_run, ys_loop, rtol=1e-5, atol=1e-6)
    if name == "baseline":
        assert trace_run is None and all(tr is None for tr in traces)
        return
    # The scanned trace is the steps' traces stacked on a leading time axis...
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *traces)
    assert_trees_close(trace_run, stacked)
    # ...and it records the state each step leaves behind.
    for t, st in enumerate(states):
        for field in ("memory", "read_w", "write_w", "reads"):
            np.testing.assert_allclose(getattr(trace_run, field)[t], getattr(st, field), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_resumed_run_equals_uninterrupted_run(name):
    # Stepping k steps and then running from that state (the ``state`` argument) equals stepping
    # through the whole sequence uninterrupted.
    model, k = MODELS[name](), 3
    xs = inputs(steps=k + T)
    ys_all, states = step_loop(model, xs)
    np.testing.assert_allclose(run(model, xs[:, k:], state=states[k - 1]), ys_all[:, k:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_mask_freezes_the_state_after_the_last_valid_step(name):
    # Sequence b is valid for its first lengths[b] steps and junk after.
    model, lengths = MODELS[name](), [2, 4]
    xs = inputs()
    junk = 5.0 * inputs(seed=99)
    valid = np.arange(T)[None, :] < np.array(lengths)[:, None]  # [B, T]
    xs_junk = np.where(valid[..., None], xs, junk)
    ys = run(model, xs_junk, valid.astype(np.float32))
    ys_alone, states = step_loop(model, xs)  # the valid prefixes, stepped alone
    for b, k in enumerate(lengths):
        # The first k outputs are those of the valid prefix alone...
        np.testing.assert_allclose(ys[b, :k], ys_alone[b, :k], rtol=1e-5, atol=1e-6)
        # ...and every masked step starts from the state after step k: its output is one step
        # from there (step is batched, so row b of a batched step is sequence b's).
        for t in range(k, T):
            _, y, _ = step(model, states[k - 1], xs_junk[:, t])
            np.testing.assert_allclose(ys[b, t], y[b], rtol=1e-5, atol=1e-6)
    # Without the mask the junk does move the state.
    assert not np.allclose(run(model, xs_junk)[:, -1], ys[:, -1], atol=1e-6)


@pytest.mark.parametrize("name", ["ff", "baseline"])
def test_mask_of_ones_equals_no_mask(name):
    model, xs = MODELS[name](), inputs()
    np.testing.assert_allclose(run(model, xs), model.run(xs), rtol=1e-5, atol=1e-6)


def test_baseline_trace_is_none():
    ys, trace = run(lstm_model(), inputs(), return_trace=True)
    assert trace is None and ys.shape == (B, T, O)


# ------------------------------------------------------------------------------------------------
# The trace


@pytest.mark.parametrize("name", NTM_MODELS)
def test_trace_is_consistent_with_the_memory_equations(name):
    model = MODELS[name]()
    c = model.config
    batch, steps = B, T
    xs = inputs()
    ys, tr = run(model, xs, return_trace=True)
    r, w, n, m, s = c.read_heads, c.write_heads, c.memory_rows, c.memory_width, c.shift_width
    expected_shapes = dict(
        read_w=(r, n), write_w=(w, n), reads=(r, m), add=(w, m), erase=(w, m), read_gate=(r,), write_gate=(w,),
        read_shift=(r, s), write_shift=(w, s), read_gamma=(r,), write_gamma=(w,), read_beta=(r,),
        write_beta=(w,), memory=(n, m),
    )
    for field, shape in expected_shapes.items():
        assert getattr(tr, field).shape == (steps, batch) + shape, field
    # Weightings and shift distributions: non-negative, normalised per head.
    for wts in (tr.read_w, tr.write_w, tr.read_shift, tr.write_shift):
        assert np.all(np.asarray(wts) >= 0)
        np.testing.assert_allclose(np.asarray(wts).sum(-1), 1.0, atol=1e-5)
    # Head parameters in their ranges (paper section 3.3).
    for gate in (tr.read_gate, tr.write_gate, tr.erase):
        assert np.all((np.asarray(gate) >= 0) & (np.asarray(gate) <= 1))
    assert np.all(np.asarray(tr.read_gamma) >= 1) and np.all(np.asarray(tr.write_gamma) >= 1)
    assert np.all(np.asarray(tr.read_beta) >= 0) and np.all(np.asarray(tr.write_beta) >= 0)
    # The traced memory is the initial memory written step by step with the traced heads...
    mem = strong(model.initial_state(batch).memory)
    for t in range(steps):
        mem = jit_write(mem, tr.write_w[t], tr.erase[t], tr.add[t])
        np.testing.assert_allclose(tr.memory[t], mem, rtol=1e-5, atol=1e-6)
        # ...and the reads are of this step's memory, after the write.
        np.testing.assert_allclose(tr.reads[t], jit_read(tr.memory[t], tr.read_w[t]), rtol=1e-5, atol=1e-6)
    # Cross-check one step against an explicit erase-then-add in NumPy (eqs. 3-4).
    mem0 = np.asarray(model.initial_state(batch).memory[0], np.float64)
    ww, e, a = (np.asarray(x[0, 0], np.float64) for x in (tr.write_w, tr.erase, tr.add))
    keep = np.prod(1.0 - ww[:, :, None] * e[:, None, :], axis=0)
    np.testing.assert_allclose(tr.memory[0, 0], mem0 * keep + ww.T @ a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("memory_init", ["constant", "learned"])
def test_initial_state_is_not_weakly_typed(memory_init):
    model = ntm_model("feedforward", memory_init=memory_init)
    weak = [jax.tree_util.keystr(p) for p, a in jax.tree_util.tree_leaves_with_path(model.initial_state(2))
            if a.weak_type]
    weak += [jax.tree_util.keystr(p) for p, a in jax.tree_util.tree_leaves_with_path(eqx.filter(model, eqx.is_array))
             if a.weak_type]
    assert not weak, f"weakly typed: {weak}"


@pytest.mark.parametrize("name", NTM_MODELS)
def test_initial_state(name):
    model = MODELS[name]()
    c = model.config
    st = model.initial_state(3)
    assert st.memory.shape == (3, c.memory_rows, c.memory_width)
    assert st.reads.shape == (3, c.read_heads, c.memory_width)
    for wts, heads in ((st.read_w, c.read_heads), (st.write_w, c.write_heads)):
        assert wts.shape == (3, heads, c.memory_rows)
        np.testing.assert_allclose(wts.sum(-1), 1.0, atol=1e-6)
        assert np.all(np.asarray(wts) >= 0)
    # Every sequence of the batch starts from the same learned state.
    for leaf in jax.tree_util.tree_leaves(st):
        np.testing.assert_array_equal(leaf[0], leaf[-1])


# ------------------------------------------------------------------------------------------------
# Numeric gradient checks in float64


@pytest.mark.parametrize("controller", ["feedforward", "lstm"])
def test_check_grads_of_a_step_in_float64(x64, controller):
    with jax.enable_x64(False):  # draw the parameters as the float32 tests do (and share the cache)
        model = ntm_model(controller, memory_init="learned", controller_layers=2 if controller == "lstm" else 1)
    model = to_f64(model)
    params, static = eqx.partition(model, model.trainable_filter())
    xs = jnp.asarray(inputs(steps=3), jnp.float64)
    assert xs.dtype == jnp.float64
    # Parameters and state as one flat vector: check_grads then perturbs two arrays, not dozens.
    flat, unravel = ravel_pytree((params, model.initial_state(B)))
    num_params = ravel_pytree(params)[0].size
    assert flat.dtype == jnp.float64 and num_params > 300

    @jax.jit
    def f(flat, x):
        params, state = unravel(flat)
        new_state, logits, _ = eqx.combine(params, static).step(state, x)
        return logits, ravel_pytree(new_state)[0]

    # Start from the state after two steps, so memory rows differ and every head path matters.
    for t in range(2):
        flat = jnp.concatenate([flat[:num_params], f(flat, xs[:, t])[1]])
    assert unravel(flat)[1].memory.dtype == jnp.float64
    # The model contains custom (reverse-mode only) backward passes.  eps: the step is very
    # curved (sharpening); the finite-difference error falls as eps^2 and is ~1e-4 at eps=1e-5.
    check_grads(f, (flat, xs[:, 2]), order=1, modes=("rev",), eps=1e-6)


# ------------------------------------------------------------------------------------------------
# Gradients everywhere, no NaN, for many configurations


# Both controllers, a learned and a fixed initial memory (all zeros: the degenerate case for
# cosine similarity), and the baseline; two layers each; heads, shifts and clipping vary.
# Each entry costs a compilation of the gradient of a scanned run, the most expensive thing in
# this module; that "random" initial memory is as fixed as "constant" is checked more cheaply below.
GRAD_CONFIGS = {
    "ff-learned-2layers-1r1w-shift5-noclip": dict(
        controller="feedforward", memory_init="learned", controller_layers=2, read_heads=1, write_heads=1,
        shift_width=5, clip=0.0),
    "lstm-constant-zero-memory-2layers": dict(
        controller="lstm", memory_init="constant", memory_init_value=0.0, controller_layers=2),
}
LONG = 50


@eqx.filter_jit
def value_and_grads(model, xs, coeffs):
    """Outputs and the gradient of ``sum(coeffs * outputs)`` with respect to every array of the
    model (trainable or not, so that untrained arrays can be seen to get none)."""

    def loss(model):
        ys = model.run(xs)
        return jnp.sum(ys * coeffs), ys

    (_, ys), grads = eqx.filter_value_and_grad(loss, has_aux=True)(model)
    return ys, grads


@pytest.mark.parametrize("name", list(GRAD_CONFIGS) + ["baseline"])
def test_gradients_reach_every_trained_parameter_and_nothing_is_nan(name):
    if name == "baseline":
        model = lstm_model()
    else:
        kw = dict(GRAD_CONFIGS[name])
        model = ntm_model(**kw)
    flags = model.trainable_filter()
    trained = {jax.tree_util.keystr(p): bool(f) for p, f in jax.tree_util.tree_leaves_with_path(flags)}
    memory_init = getattr(model.config, "memory_init", None)
    if memory_init is not None:
        assert trained[".memory0"] is (memory_init == "learned")
        params, _ = eqx.partition(model, flags)
        assert (params.memory0 is None) is (memory_init != "learned")
    assert sum(trained.values()) == len(trained) - (memory_init in ("constant", "random"))

    xs = inputs(steps=LONG, seed=3)
    # 1. A loss on a short sequence (the first 8 outputs; the rest get no weight): every entry of
    #    every trained array receives a gradient; fixed initial memory receives exactly none.
    coeffs = inputs(steps=LONG, seed=5, width=O) * (np.arange(LONG) < 8)[None, :, None]
    ys, grads = value_and_grads(model, xs, coeffs)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        where, g = jax.tree_util.keystr(path), np.asarray(g)
        assert np.all(np.isfinite(g)), where
        if trained[where]:
            assert np.all(g != 0), f"{where}: {np.sum(g == 0)} of {g.size} entries get no gradient"
        else:
            np.testing.assert_array_equal(g, 0.0, err_msg=where)
    # 2. 50 steps of random inputs, and of huge inputs: no NaN or inf in outputs or gradients.
    coeffs = inputs(steps=LONG, seed=6, width=O)
    for scale in (1.0, 100.0):
        ys, grads = value_and_grads(model, scale * xs, coeffs)
        assert ys.shape == (B, LONG, O)
        assert all_finite(ys), f"non-finite outputs at input scale {scale}"
        assert all_finite(grads), f"non-finite gradients at input scale {scale}"


@pytest.mark.parametrize("name", ["ff", "lstm", "baseline"])
def test_recomputed_backward_equals_stored_backward(x64, name):
    # run(remat=True) recomputes each step's intermediates in the backward pass; values and
    # gradients must be those of the plain backward pass, up to float64 rounding.
    with jax.enable_x64(False):
        model = lstm_model() if name == "baseline" else ntm_model("feedforward" if name == "ff" else "lstm")
    model = to_f64(model)
    xs = to_f64(inputs(steps=12, seed=3))
    coeffs = to_f64(inputs(steps=12, seed=5, width=O))

    def grads(remat):
        def loss(m):
            return jnp.sum(m.run(xs, remat=remat) * coeffs)
        return eqx.filter_value_and_grad(loss)(model)

    (v1, g1), (v2, g2) = grads(True), grads(False)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    assert_trees_close(g1, g2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("controller", ["feedforward", "lstm"])
def test_hoisted_weight_gradients_equal_plain_autodiff(x64, controller):
    # The training path (run with remat) takes the gradients of the step's linear layers after the
    # scan (ntm.model._run_hoisted).  With two controller layers, a mask and a given start state,
    # its gradients in every parameter, the inputs and the start state are those of plain autodiff.
    with jax.enable_x64(False):
        model = ntm_model(controller, controller_layers=2)
    model = to_f64(model)
    xs = to_f64(inputs(steps=9, seed=7))
    coeffs = to_f64(inputs(steps=9, seed=8, width=O))
    mask = np.ones((B, 9))
    mask[0, 6:] = 0.0
    start = model.initial_state(B)
    start = start._replace(memory=start.memory + to_f64(np.random.default_rng(9).normal(size=start.memory.shape)))

    params, static = eqx.partition(model, eqx.is_inexact_array)

    def grads(remat):
        def loss(args):
            p, x, memory = args
            out = eqx.combine(p, static).run(x, mask, state=start._replace(memory=memory), remat=remat)
            return jnp.sum(out * coeffs)
        return jax.value_and_grad(loss)((params, xs, start.memory))

    (v1, g1), (v2, g2) = grads(True), grads(False)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    assert_trees_close(g1, g2, rtol=1e-10, atol=1e-12)
    # The layers whose gradients are taken after the scan do receive them.
    ctrl = g1[0].controller
    for layer in (*(ctrl.layers if controller == "feedforward" else ctrl.cells), g1[0].write_layer, g1[0].read_layer):
        assert np.all(np.asarray(layer.weight) != 0) and np.all(np.asarray(layer.bias) != 0)


def test_gradients_of_gradients_through_the_hoisted_run(x64):
    # Reverse over reverse mode (e.g. a gradient penalty) works through the custom VJP of the
    # training path, and gives what it gives without it.
    # (One read and one write head: second-order programs compile slowly, and the heads' code
    # is the same per head; the first-order tests above use several of each.)
    with jax.enable_x64(False):
        model = ntm_model("feedforward", read_heads=1, write_heads=1)
    model = to_f64(model)
    xs = to_f64(inputs(steps=3, seed=11))

    def penalty(remat):
        def inner(x):
            return jnp.sum(jnp.tanh(model.run(x, remat=remat)))
        return jax.jit(jax.grad(lambda x: jnp.sum(jax.grad(inner)(x) ** 2)))(xs)

    hoisted, plain = penalty(True), penalty(False)
    assert np.all(np.isfinite(hoisted)) and np.any(hoisted != 0)
    np.testing.assert_allclose(hoisted, plain, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("controller", ["feedforward", "lstm"])
def test_hessian_vector_products_in_the_parameters_through_the_hoisted_run(x64, controller):
    # Reverse over reverse in the parameters (Hessian-vector products, as second-order methods and
    # meta-learning use them): the training path's weights, constants of its scan, still carry
    # their second-order terms, so the result is that of plain autodiff.
    with jax.enable_x64(False):
        model = ntm_model(controller, read_heads=1, write_heads=1)
    model = to_f64(model)
    xs = to_f64(inputs(steps=3, seed=12))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    direction = jax.tree_util.tree_map(lambda a: jnp.asarray(np.random.default_rng(a.size).normal(size=a.shape)), params)

    def hvp(remat):
        def grad_dot_direction(p):
            g = jax.grad(lambda q: jnp.sum(jnp.tanh(eqx.combine(q, static).run(xs, remat=remat))))(p)
            return sum(jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(direction)))
        return jax.jit(jax.grad(grad_dot_direction))(params)

    hoisted, plain = hvp(True), hvp(False)
    assert any(np.any(np.asarray(leaf) != 0) for leaf in jax.tree_util.tree_leaves(hoisted))
    assert_trees_close(hoisted, plain, rtol=1e-9, atol=1e-12)


def test_head_clip_and_softplus_derivatives(x64):
    # The head clip and softplus take hand-written derivatives; they equal jnp.clip's and
    # jax.nn.softplus's away from the clip bounds, including far out in softplus's tails.
    from ntm.heads import _softplus
    from ntm.model import _clip

    x = jnp.asarray([-800.0, -30.0, -20.5, -3.0, -1e-3, 0.0, 2.0, 19.9, 20.5, 800.0], jnp.float64)
    np.testing.assert_array_equal(_clip(x, 20.0), jnp.clip(x, -20.0, 20.0))
    np.testing.assert_array_equal(jax.vmap(jax.grad(lambda v: _clip(v, 20.0)))(x), np.abs(np.asarray(x)) < 20)
    np.testing.assert_array_equal(_softplus(x), jax.nn.softplus(x))
    mine, ref = jax.vmap(jax.grad(_softplus))(x), jax.vmap(jax.grad(jax.nn.softplus))(x)
    assert np.all(np.isfinite(mine))
    np.testing.assert_allclose(mine, ref, rtol=1e-14, atol=0)
    check_grads(_softplus, (x,), order=2, modes=["rev"])


# ------------------------------------------------------------------------------------------------
# Initial memory


def test_memory_init_constant():
    model = ntm_model("feedforward", memory_init="constant", memory_init_value=0.25)
    np.testing.assert_array_equal(model.memory0, np.full((8, 4), 0.25, np.float32))
    np.testing.assert_array_equal(model.initial_state(2).memory, np.full((2, 8, 4), 0.25, np.float32))
    assert model.trainable_filter().memory0 is False
    assert_initial_memory_gets_no_gradient(model)
    default = ntm_model("feedforward")
    assert default.config.memory_init == "constant"
    np.testing.assert_array_equal(default.memory0, np.full((8, 4), default.config.memory_init_value, np.float32))


def test_memory_init_random_is_a_fixed_draw():
    a = ntm_model("feedforward", memory_init="random")
    b = NTM(a.config, key=jax.random.key(0))
    c = NTM(a.config, key=jax.random.key(1))
    np.testing.assert_array_equal(a.memory0, b.memory0)  # fixed by the key
    assert not np.allclose(a.memory0, c.memory0)
    assert len(np.unique(np.asarray(a.memory0))) == a.memory0.size  # not a constant
    both = np.concatenate([np.ravel(a.memory0), np.ravel(c.memory0)])  # 64 draws from N(0, 0.5^2)
    assert 0.3 < float(np.std(both)) < 0.7 and abs(float(np.mean(both))) < 0.25
    assert a.trainable_filter().memory0 is False
    np.testing.assert_array_equal(a.initial_state(1).memory[0], a.memory0)
    assert_initial_memory_gets_no_gradient(a)


def assert_initial_memory_gets_no_gradient(model):
    grads = eqx.filter_grad(lambda m: jnp.sum(m.initial_state(2).memory ** 2))(model)
    np.testing.assert_array_equal(grads.memory0, 0.0)


def test_memory_init_learned_is_trained_and_counted():
    learned = ntm_model("feedforward", memory_init="learned")
    constant = ntm_model("feedforward", memory_init="constant")
    assert learned.trainable_filter().memory0 is True
    grads = eqx.filter_grad(lambda m: jnp.sum(m.initial_state(2).memory ** 2))(learned)
    np.testing.assert_allclose(grads.memory0, 2 * 2 * learned.memory0)  # d/dm0 of 2 copies of m0^2
    assert ntm.count_parameters(learned) == ntm.count_parameters(constant) + 8 * 4


def test_memory_init_std_sets_the_draw_a_learned_or_random_memory_starts_from():
    rows = dict(memory_rows=64, memory_width=16)  # 1,024 draws
    learned = ntm_model("feedforward", memory_init="learned", memory_init_std=0.05, **rows)
    assert 0.045 < float(np.std(learned.memory0)) < 0.055 and abs(float(np.mean(learned.memory0))) < 0.005
    assert learned.trainable_filter().memory0 is True  # a learned memory, from a random start
    np.testing.assert_array_equal(learned.initial_state(1).memory[0], learned.memory0)
    random = ntm_model("feedforward", memory_init="random", memory_init_std=0.05, **rows)
    assert 0.045 < float(np.std(random.memory0)) < 0.055 and random.trainable_filter().memory0 is False
    # None keeps what each was: the constant for a learned memory, 0.5 for a random one
    assert np.all(np.asarray(ntm_model("feedforward", memory_init="learned").memory0) == np.float32(1e-6))
    for bad, match in [(dict(memory_init="constant", memory_init_std=0.05), "not 'constant'"),
                       (dict(memory_init="learned", memory_init_std=0.0), "must be > 0")]:
        with pytest.raises(ValueError, match=match):
            NTMConfig(input_size=I, output_size=O, **bad)


def test_weighting_init_random_spreads_the_initial_weightings_and_draws_nothing_else_differently():
    rows = dict(memory_rows=64)  # 5 heads x 64 logits
    focused = ntm_model("feedforward", **rows)
    spread = ntm_model("feedforward", weighting_init="random", **rows)
    w = np.asarray(spread.initial_state(1).read_w[0, 0])
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-6)
    assert w.max() < 0.5 and np.count_nonzero(w > 1e-4) == w.size  # spread over every row
    assert float(focused.initial_state(1).read_w[0, 0, 0]) > 0.99  # the default: on row 0
    logits = np.concatenate([np.ravel(spread.read_w0), np.ravel(spread.write_w0)])
    assert 0.9 < float(np.std(logits)) < 1.1 and abs(float(np.mean(logits))) < 0.15
    assert not np.allclose(spread.read_w0[0], spread.write_w0[0])
    # Every other array is the same draw as with the focused start.
    same = lambda m: [m.memory0, m.reads0, m.output_layer.weight, m.read_layer.weight]  # noqa: E731
    for a, b in zip(same(focused), same(spread)):
        np.testing.assert_array_equal(a, b)
    assert spread.trainable_filter().read_w0 is True
    with pytest.raises(ValueError, match="weighting_init must be 'focused' or 'random'"):
        NTMConfig(input_size=I, output_size=O, weighting_init="uniform")


def test_state_grad_clip_bounds_the_gradient_into_each_step_and_changes_nothing_else():
    from ntm.model import _bound_gradient

    # By hand: the identity forward, each gradient component clipped to [-5, 5] backward.
    weights = jnp.asarray([100.0, -3.0, -50.0])
    x = jnp.asarray([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(_bound_gradient(x, 5.0), x)
    np.testing.assert_array_equal(jax.grad(lambda x: jnp.sum(weights * _bound_gradient(x, 5.0)))(x), [5.0, -3.0, -5.0])

    inputs = jax.random.normal(jax.random.key(1), (2, 7, I))
    loss = lambda m: jnp.sum(m.run(inputs) ** 2)  # noqa: E731
    kw = dict(memory_init="learned")
    off, default, tight = (ntm_model("feedforward", state_grad_clip=b, **kw) for b in (0.0, 1000.0, 1e-6))
    assert default.config.state_grad_clip == 1000.0  # the default is on
    np.testing.assert_array_equal(default.run(inputs), off.run(inputs))  # the forward pass is unchanged
    g_off, g_default, g_tight = (eqx.filter_grad(loss)(m) for m in (off, default, tight))
    # Below the bound (these gradients are far below 1000), the gradients are the unclipped ones.
    for a, b in zip(jax.tree_util.tree_leaves(g_off), jax.tree_util.tree_leaves(g_default)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # A tight bound clips what flows into the first step's state: the initial memory and reads get
    # at most the bound per sequence of the batch (2), where unclipped they get far more.
    for leaf in (lambda g: g.memory0, lambda g: g.reads0):
        assert float(jnp.max(jnp.abs(leaf(g_tight)))) <= 2 * 1e-6 * (1 + 1e-5)
        assert float(jnp.max(jnp.abs(leaf(g_off)))) > 1e-3
    with pytest.raises(ValueError, match="state_grad_clip must be >= 0"):
        NTMConfig(input_size=I, output_size=O, state_grad_clip=-1.0)


# ------------------------------------------------------------------------------------------------
# Determinism


@pytest.mark.parametrize("name", list(MODELS))
def test_same_key_same_model_different_key_different_model(name):
    model = MODELS[name]()
    cls = type(model)
    same = cls(model.config, key=jax.random.key(0))
    other = cls(model.config, key=jax.random.key(1))
    for x, y in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(same)):
        np.testing.assert_array_equal(x, y)
    xs = inputs()
    np.testing.assert_array_equal(run(model, xs), run(same, xs))
    assert not np.allclose(run(model, xs), run(other, xs))
    assert not np.allclose(model.output_layer.weight, other.output_layer.weight)


def test_initial_parameters_follow_their_distributions_and_build_under_vmap():
    from ntm.controllers import Linear

    layer = Linear(400, 300, jax.random.key(3))
    w = np.asarray(layer.weight)
    assert w.dtype == np.float32 and np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.049  # +-1/sqrt(400)
    assert abs(w.mean()) < 2e-3 and abs(w.std() - 0.05 / np.sqrt(3)) < 1e-3
    assert np.all(np.asarray(layer.bias) == 0)
    # Built under a transformation (the key is traced), e.g. an ensemble of models in one vmap:
    # the members differ and follow the same distribution.
    cfg = ntm_model().config
    ensemble = eqx.filter_vmap(lambda k: NTM(cfg, key=k))(jax.random.split(jax.random.key(0), 3))
    weights = np.asarray(ensemble.output_layer.weight)  # [3, in, out]
    assert weights.shape[0] == 3 and not np.allclose(weights[0], weights[1])
    assert np.abs(weights).max() <= 1 / np.sqrt(weights.shape[1]) + 1e-6


# ------------------------------------------------------------------------------------------------
# Configuration errors


@pytest.mark.parametrize(
    "field, value, pattern",
    [
        ("memory_rows", -1, "memory_rows"),
        ("memory_rows", 0, "memory_rows"),
        ("memory_width", 0, "memory_width"),
        ("controller_size", 0, "controller_size"),
        ("controller_layers", 0, "controller_layers"),
        ("read_heads", 0, "read_heads"),
        ("write_heads", -2, "write_heads"),
        ("input_size", 0, "input_size"),
        ("output_size", 0, "output_size"),
        ("memory_rows", 2.5, "memory_rows"),
        ("read_heads", True, "read_heads"),
        ("shift_width", 2, "shift_width"),
        ("shift_width", 0, "shift_width"),
        ("shift_width", 9, "shift_width"),  # more shifts than the 8 memory rows
        ("controller", "gru", "controller"),
        ("memory_init", "zeros", "memory_init"),
        ("clip", -1.0, "clip"),
    ],
)
def test_ntm_config_rejects_bad_values(field, value, pattern):
    kw = dict(input_size=I, output_size=O, memory_rows=8, memory_width=4)
    kw[field] = value
    with pytest.raises(ValueError, match=pattern):
        NTMConfig(**kw)


@pytest.mark.parametrize("field, value", [("hidden_size", 0), ("layers", 0), ("input_size", -3), ("output_size", 0)])
def test_lstm_config_rejects_bad_values(field, value):
    kw = dict(input_size=I, output_size=O)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        LSTMConfig(**kw)


def test_shift_width_equal_to_memory_rows_is_allowed():
    NTMConfig(input_size=I, output_size=O, memory_rows=5, memory_width=2, shift_width=5)
