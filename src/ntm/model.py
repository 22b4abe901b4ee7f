"""The Neural Turing Machine (paper section 3): a controller coupled to a memory matrix by heads.

Dimension legend:

    B  batch            T  time steps        I  input width       O  output width
    N  memory rows      M  row width         R  read heads        W  write heads
    S  allowed shifts   C  controller output width

One step, in order:
  1. the controller reads ``[x_t, r_{t-1}]`` (input and all previous read vectors) -> ``h_t``;
  2. a linear layer maps ``h_t`` to the parameters of every head (:mod:`ntm.heads`);
  3. write heads address ``M_{t-1}`` (section 3.3) and write (erase then add, eqs. 3-4) -> ``M_t``;
  4. read heads address ``M_t`` and read (eq. 2) -> ``r_t``, so a read sees this step's write;
  5. the output logits are a linear function of ``[h_t, r_t]``.
Writing before reading lets a feedforward controller emit what it reads at the same step.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ntm.fast import columns as _columns
from ntm.controllers import FeedForwardController, Linear, LSTMStack, init_normal, split_key
from ntm.heads import HeadParams, head_param_size, split_head_params

__all__ = ["NTMConfig", "NTMState", "NTMTrace", "NTM"]

MemoryInit = Literal["learned", "constant", "random"]
WeightingInit = Literal["focused", "random"]


def _check_positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


@dataclasses.dataclass(frozen=True)
class NTMConfig:
    """Everything that fixes an NTM's shape and behaviour. Saved with every run as JSON.

    Attributes:
        input_size, output_size: external input and output widths (I, O).
        memory_rows, memory_width: N and M (paper: 128 x 20).
        controller: ``"feedforward"`` or ``"lstm"``.
        controller_size: units per controller layer.
        controller_layers: number of controller layers.
        read_heads, write_heads: R and W.
        shift_width: S, the number of allowed integer shifts (odd): shifts -S//2 .. +S//2.
        memory_init: initial memory contents: ``"learned"`` (a trained bias, paper 4.6),
            ``"constant"`` (``memory_init_value`` everywhere, fixed), or ``"random"`` (a fixed
            draw from N(0, 0.5^2) made when the model is built, not trained).
        memory_init_value: the constant for ``memory_init="constant"`` (and the start of a learned
            memory when ``memory_init_std`` is None).
        memory_init_std: None, or the standard deviation of a normal draw that the memory starts
            from: a learned memory's first value (instead of the constant), or the fixed draw of
            ``"random"`` (None there: 0.5).  Not with ``"constant"``.
        clip: controller outputs for the heads are clipped to ``[-clip, clip]`` before their
            activations, which keeps beta and gamma finite early in training; 0 disables it.
        state_grad_clip: a bound on backpropagation through time: the backward pass clips
            every component of the gradient that flows back into a step's recurrent state (the
            memory, the weightings, the reads, the controller's state) to ``[-state_grad_clip,
            state_grad_clip]``; 0 disables it.  The forward pass is unchanged.  A head that
            iterates by location (interpolation gate near 0) with a sharp weighting passes the
            gradient back multiplied by up to its sharpening exponent gamma at every step, which
            overflows float32 within a few dozen steps: the priority-sort NTM-FF grew it 21-fold
            per step, to inf and then NaN in every update.  The default, 1000, leaves moderate
            gradients exactly as they are (below the bound nothing is clipped) and stops a 21-fold
            growth per step within three steps.  (A config saved without this field, from before
            it existed, is read back with 0: :func:`ntm.presets.config_from_dict`.)
        weighting_init: where the heads' learned initial weightings start: ``"focused"`` (logit
            10 on row 0, so 0.99 of each weighting is there: a definite start for location-based
            iteration even over a constant memory) or ``"random"`` (logits drawn from N(0, 1), a
            weighting spread over every row).  The paper does not say; both are trained.
    """

    input_size: int
    output_size: int
    memory_rows: int = 128
    memory_width: int = 20
    controller: Literal["feedforward", "lstm"] = "feedforward"
    controller_size: int = 100
    controller_layers: int = 1
    read_heads: int = 1
    write_heads: int = 1
    shift_width: int = 3
    memory_init: MemoryInit = "constant"
    memory_init_value: float = 1e-6
    clip: float = 20.0
    memory_init_std: float | None = None
    weighting_init: WeightingInit = "focused"
    state_grad_clip: float = 1000.0

    def __post_init__(self) -> None:
        _check_positive(
            "NTMConfig",
            input_size=self.input_size,
            output_size=self.output_size,
            memory_rows=self.memory_rows,
            memory_width=self.memory_width,
            controller_size=self.controller_size,
            controller_layers=self.controller_layers,
            read_heads=self.read_heads,
            write_heads=self.write_heads,
            shift_width=self.shift_width,
        )
        if self.controller not in ("feedforward", "lstm"):
            raise ValueError(f"NTMConfig: controller must be 'feedforward' or 'lstm', got {self.controller!r}")
        if self.shift_width % 2 != 1:
            raise ValueError(f"NTMConfig: shift_width must be odd (shifts -k..+k), got {self.shift_width}")
        if self.shift_width > self.memory_rows:
            raise ValueError(
                f"NTMConfig: shift_width ({self.shift_width}) must not exceed memory_rows ({self.memory_rows})"
            )
        if self.memory_init not in ("learned", "constant", "random"):
            raise ValueError(
                f"NTMConfig: memory_init must be 'learned', 'constant' or 'random', got {self.memory_init!r}"
            )
        if not self.clip >= 0:
            raise ValueError(f"NTMConfig: clip must be >= 0, got {self.clip}")
        if isinstance(self.state_grad_clip, bool) or not self.state_grad_clip >= 0:
            raise ValueError(f"NTMConfig: state_grad_clip must be >= 0, got {self.state_grad_clip!r}")
        if self.weighting_init not in ("focused", "random"):
            raise ValueError(f"NTMConfig: weighting_init must be 'focused' or 'random', got {self.weighting_init!r}")
        if self.memory_init_std is not None:
            if self.memory_init == "constant":
                raise ValueError("NTMConfig: memory_init_std needs memory_init 'learned' or 'random', not 'constant'")
            if isinstance(self.memory_init_std, bool) or not self.memory_init_std > 0:
                raise ValueError(f"NTMConfig: memory_init_std must be > 0, got {self.memory_init_std!r}")


class NTMState(NamedTuple):
    """The recurrent state between steps (a pytree)."""

    memory: jax.Array  # [B, N, M]
    read_w: jax.Array  # [B, R, N]
    write_w: jax.Array  # [B, W, N]
    reads: jax.Array  # [B, R, M]
    controller: tuple  # the controller's own state; () for feedforward


class NTMTrace(NamedTuple):
    """What the heads did at one step (stacked over time by ``run``: a leading T axis)."""

    read_w: jax.Array  # [B, R, N]
    write_w: jax.Array  # [B, W, N]
    reads: jax.Array  # [B, R, M]
    add: jax.Array  # [B, W, M]
    erase: jax.Array  # [B, W, M]
    read_gate: jax.Array  # [B, R]
    write_gate: jax.Array  # [B, W]
    read_shift: jax.Array  # [B, R, S]
    write_shift: jax.Array  # [B, W, S]
    read_gamma: jax.Array  # [B, R]
    write_gamma: jax.Array  # [B, W]
    read_beta: jax.Array  # [B, R]
    write_beta: jax.Array  # [B, W]
    memory: jax.Array  # [B, N, M] after this step's write


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _clip(x: jax.Array, bound: float) -> jax.Array:
    """``jnp.clip(x, -bound, bound)``, with derivative 1 strictly inside the bounds and 0 elsewhere.
    (``jnp.clip``'s derivative is the same but for 1/2 at exactly +-bound, which it finds with
    several comparisons and selects per element, which the training step can do without;
    docs/performance.md.)"""
    return jnp.clip(x, -bound, bound)


@_clip.defjvp
def _clip_jvp(bound, primals, tangents):
    (x,), (t,) = primals, tangents
    return _clip(x, bound), jnp.where(jnp.abs(x) < bound, t, jnp.zeros_like(t))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _bound_gradient(tree, bound: float):
    """The identity on a pytree, whose gradient is clipped to ``[-bound, bound]`` per component."""
    return tree


def _bound_gradient_fwd(tree, bound):
    return tree, None


def _bound_gradient_bwd(bound, _, g):
    return (jax.tree_util.tree_map(lambda x: jnp.clip(x, -bound, bound), g),)


_bound_gradient.defvjp(_bound_gradient_fwd, _bound_gradient_bwd)


class NTM(eqx.Module):
    """A Neural Turing Machine.

    >>> model = NTM(NTMConfig(input_size=9, output_size=8), key=jax.random.key(0))
    >>> logits = model.run(jnp.zeros((4, 41, 9)))          # [B, T, O]
    >>> state = model.initial_state(4); state, y, tr = model.step(state, jnp.zeros((4, 9)))
    """

    config: NTMConfig = eqx.field(static=True)
    controller: FeedForwardController | LSTMStack
    write_layer: Linear  # h -> W * P_write raw head parameters
    read_layer: Linear  # h -> R * P_read raw head parameters
    output_layer: Linear  # [h, r] -> O logits
    memory0: jax.Array  # [N, M] initial memory (trained only when memory_init == "learned")
    reads0: jax.Array  # [R, M] learned initial read vectors
    read_w0: jax.Array  # [R, N] logits of the learned initial read weightings
    write_w0: jax.Array  # [W, N] logits of the learned initial write weightings

    def __init__(self, config: NTMConfig, *, key: jax.Array):
        c = config
        self.config = c
        k_ctrl, k_w, k_r, k_out, k_mem, k_reads = split_key(key, 6)
        ctrl_in = c.input_size + c.read_heads * c.memory_width
        if c.controller == "feedforward":
            self.controller = FeedForwardController(ctrl_in, c.controller_size, c.controller_layers, k_ctrl)
        else:
            self.controller = LSTMStack(ctrl_in, c.controller_size, c.controller_layers, k_ctrl)
        h = self.controller.output_size
        self.write_layer = Linear(h, c.write_heads * head_param_size(c.memory_width, c.shift_width, True), k_w)
        self.read_layer = Linear(h, c.read_heads * head_param_size(c.memory_width, c.shift_width, False), k_r)
        self.output_layer = Linear(h + c.read_heads * c.memory_width, c.output_size, k_out)
        # (Built with NumPy where possible: eager jnp ops compile a program per shape.)
        if c.memory_init == "random" or c.memory_init_std is not None:
            std = 0.5 if c.memory_init_std is None else c.memory_init_std
            self.memory0 = init_normal(k_mem, (c.memory_rows, c.memory_width), std)
        else:
            self.memory0 = jnp.asarray(np.full((c.memory_rows, c.memory_width), c.memory_init_value), jnp.float32)
        self.reads0 = init_normal(k_reads, (c.read_heads, c.memory_width), 0.01)
        # "focused": every head starts on row 0 (softmax of these logits puts 0.99 there), so that
        # location-based iteration has a definite starting point even when all rows are equal,
        # as they are with constant initial memory.  "random": logits from N(0, 1), drawn from a
        # key of their own (folded from the model's key, so that every other array is drawn as
        # with "focused").  The logits are trained either way.
        if c.weighting_init == "random":
            k_rw, k_ww = split_key(jax.random.fold_in(key, 6), 2)
            self.read_w0 = init_normal(k_rw, (c.read_heads, c.memory_rows), 1.0)
            self.write_w0 = init_normal(k_ww, (c.write_heads, c.memory_rows), 1.0)
        else:
            focus = np.zeros(c.memory_rows)
            focus[0] = 10.0
            self.read_w0 = jnp.asarray(np.tile(focus, (c.read_heads, 1)), dtype=jnp.float32)
            self.write_w0 = jnp.asarray(np.tile(focus, (c.write_heads, 1)), dtype=jnp.float32)

    # ----------------------------------------------------------------------------------------
    def trainable_filter(self) -> "NTM":
        """A pytree of booleans marking the arrays that are trained (``memory0`` only if learned)."""
        flags = jax.tree_util.tree_map(eqx.is_inexact_array, self)
        return eqx.tree_at(lambda m: m.memory0, flags, self.config.memory_init == "learned")

    def initial_state(self, batch_size: int) -> NTMState:
        """The start-of-sequence state: learned biases broadcast over the batch (paper 4.6)."""
        c = self.config
        mem0 = self.memory0 if c.memory_init == "learned" else jax.lax.stop_gradient(self.memory0)
        b = batch_size
        return NTMState(
            memory=jnp.broadcast_to(mem0, (b, c.memory_rows, c.memory_width)),
            read_w=jnp.broadcast_to(jax.nn.softmax(self.read_w0, axis=-1), (b, c.read_heads, c.memory_rows)),
            write_w=jnp.broadcast_to(jax.nn.softmax(self.write_w0, axis=-1), (b, c.write_heads, c.memory_rows)),
            reads=jnp.broadcast_to(self.reads0, (b, c.read_heads, c.memory_width)),
            controller=self.controller.initial_state(batch_size),
        )

    def _heads(self, raw: jax.Array, num_heads: int, is_write: bool) -> HeadParams:
        c = self.config
        if c.clip > 0:
            raw = _clip(raw, c.clip)
        raw = raw.reshape(raw.shape[:-1] + (num_heads, -1))  # [B, H, P]
        return split_head_params(raw, c.memory_width, c.shift_width, is_write)

    def step(self, state: NTMState, x: jax.Array) -> tuple[NTMState, jax.Array, NTMTrace]:
        """Advance one time step.

        Args:
            state: the previous :class:`NTMState` (batch B).
            x: ``[B, I]`` external input.

        Returns:
            ``(new_state, logits [B, O], trace)``.
        """
        carry, features, trace = self._step_features(self._to_carry(state), x)
        return self._to_carry(carry), self._readout(features), self._trace_out(trace)

    # Inside the scan the memory is kept transposed, [B, M, N] (see ntm._columns for why); the
    # state and trace that callers see have it as [B, N, M].  The swap is its own inverse.
    def _to_carry(self, state: NTMState) -> NTMState:
        return state._replace(memory=jnp.swapaxes(state.memory, -1, -2))

    def _trace_out(self, trace: NTMTrace) -> NTMTrace:
        return trace._replace(memory=jnp.swapaxes(trace.memory, -1, -2))

    def _readout(self, features: jax.Array) -> jax.Array:
        """Output logits from ``[..., C + R*M]`` features ``[h, r]`` (any leading axes)."""
        return self.output_layer(features)

    def _step_features(self, state: NTMState, x: jax.Array, apply=None) -> tuple[NTMState, jax.Array, NTMTrace]:
        """:meth:`step` up to the output layer: ``(new_state, [h_t, r_t] [B, C + R*M], trace)``, on
        a state (and giving a state and trace) whose memory is transposed, ``[B, M, N]``.

        ``apply(i, x)``, if given, computes the step's linear layers: the controller's layers
        ``i = 0 .. L-1``, then, as ``i = L``, both head layers as one, ``[write | read]`` raw
        parameters (see :func:`_run_hoisted`)."""
        c = self.config
        if c.state_grad_clip > 0:
            state = _bound_gradient(state, c.state_grad_clip)
        prev_reads = state.reads.reshape(state.reads.shape[0], -1)
        h, ctrl_state = self.controller(jnp.concatenate([x, prev_reads], axis=-1), state.controller, apply)

        if apply is None:
            raw_write, raw_read = self.write_layer(h), self.read_layer(h)
        else:
            raw = apply(len(_controller_layers(self)), h)
            split = self.write_layer.bias.shape[0]
            raw_write, raw_read = raw[..., :split], raw[..., split:]
        wp = self._heads(raw_write, c.write_heads, True)
        write_w = _columns.address(state.memory, state.write_w, wp.key, wp.beta, wp.gate, wp.shift, wp.gamma)
        mem = _columns.write(state.memory, write_w, wp.erase, wp.add)  # [B, M, N]

        rp = self._heads(raw_read, c.read_heads, False)
        read_w = _columns.address(mem, state.read_w, rp.key, rp.beta, rp.gate, rp.shift, rp.gamma)
        reads = _columns.read(mem, read_w)  # [B, R, M]

        features = jnp.concatenate([h, reads.reshape(reads.shape[0], -1)], axis=-1)
        new_state = NTMState(mem, read_w, write_w, reads, ctrl_state)
        trace = NTMTrace(
            read_w=read_w, write_w=write_w, reads=reads, add=wp.add, erase=wp.erase,
            read_gate=rp.gate, write_gate=wp.gate, read_shift=rp.shift, write_shift=wp.shift,
            read_gamma=rp.gamma, write_gamma=wp.gamma, read_beta=rp.beta, write_beta=wp.beta,
            memory=mem,
        )
        return new_state, features, trace

    def run(
        self,
        inputs: jax.Array,
        mask: jax.Array | None = None,
        *,
        return_trace: bool = False,
        state: NTMState | None = None,
        remat: bool = True,
    ):
        """Run a whole batch of sequences under ``lax.scan``.

        Args:
            inputs: ``[B, T, I]``.
            mask: optional ``[B, T]``; where 0 the state is carried unchanged, so the state after
                the last valid step is kept through padding.  Outputs are computed at every step
                (mask the loss with the task's mask).  Training needs no mask: padding comes after
                each sequence and cannot affect earlier outputs.
            return_trace: also return an :class:`NTMTrace` with a leading T axis
                (``[T, B, ...]``), including the memory after every step.
            state: start state; defaults to ``initial_state(B)``.
            remat: under differentiation, recompute each step's addressing and memory update in
                the backward pass instead of storing them, and take the gradients of the step's
                linear layers once, after the backward scan (same values; less memory, faster
                on CPU: :func:`_run_hoisted`).  Has no effect on a forward-only run's values.

        Returns:
            ``logits [B, T, O]``, or ``(logits, trace)`` when ``return_trace``.
        """
        if remat and not return_trace:
            return _run_hoisted(self, inputs, mask, state)
        return _scan(self, inputs, mask, return_trace, state, remat)


# What the backward pass keeps of each step's forward computation: the controller's matrix
# products; everything else (addressing, the memory update) is recomputed from the step's input
# state.  Keeping every intermediate instead stacks several [T, B, N, M] arrays, and writing and
# reading those costs more than recomputing them (docs/performance.md).
_REMAT_POLICY = jax.checkpoint_policies.dots_with_no_batch_dims_saveable


def _scan(model, inputs, mask, return_trace, state, remat=True, hoist=None):
    """Shared ``lax.scan`` driver for every model with ``initial_state``, ``_step_features`` (a step
    up to its output layer), ``_readout`` (the output layer), and ``_to_carry`` / ``_trace_out``
    (from the state callers see to the one the scan carries, and from the carried layout of a
    trace to the one callers see; identities for the LSTM baseline).

    The output layer feeds nothing back into the recurrence, so it runs once on the features of
    all steps after the scan: one matrix product over ``T * B`` rows, forward and backward, instead
    of one small product per step.

    ``hoist``, for :func:`_run_hoisted` only, is ``(weights, probes)``: the step's linear layers
    as ``(weight, weight.T, bias)`` and ``[T, B, P]`` addends to their outputs (or None); the
    result is then ``(logits, inputs)``, with every layer's input at every step, ``[T, B, D]``.
    """
    batch = inputs.shape[0]
    if state is None:
        state = model.initial_state(batch)
    state = model._to_carry(state)
    xs = jnp.swapaxes(inputs, 0, 1)  # time-major [T, B, I]
    ms = None if mask is None else jnp.swapaxes(mask, 0, 1)
    arrays, static = eqx.partition(model, eqx.is_array)

    def step(arrays, carry, x, probes):
        m = eqx.combine(arrays, static)
        if hoist is None:
            return m._step_features(carry, x) + (None,)
        weights, recorded = hoist[0], []

        def apply(i, z):  # layer i's output, recording its input
            recorded.append(z)
            weight, weight_t, bias = weights[i]
            out = _matmul(z, weight, weight_t) + bias
            return out if probes is None else out + probes[i]

        return m._step_features(carry, x, apply) + (recorded,)

    if remat and not return_trace:
        step = jax.checkpoint(step, policy=_REMAT_POLICY)

    def body(carry, slice_):
        x, m, probes = slice_
        new, y, trace, layer_inputs = step(arrays, carry, x, probes)
        if m is not None:
            keep = m > 0

            def pick(a, b):
                return jnp.where(keep.reshape(keep.shape + (1,) * (a.ndim - 1)), a, b)

            new = jax.tree_util.tree_map(pick, new, carry)
        if hoist is not None:
            return new, (y, layer_inputs)
        return new, ((y, trace) if return_trace else y)

    _, out = jax.lax.scan(body, state, (xs, ms, None if hoist is None else hoist[1]))  # probes: [T, B, P_i]
    if hoist is not None:
        features, layer_inputs = out
        return model._readout(jnp.swapaxes(features, 0, 1)), layer_inputs
    features, trace = out if return_trace else (out, None)
    logits = model._readout(jnp.swapaxes(features, 0, 1))  # [B, T, O]
    return (logits, model._trace_out(trace)) if return_trace else logits


@jax.custom_vjp
def _matmul(h, weight, weight_t):
    """``h @ weight``, whose gradient in ``h`` is taken as ``g @ weight_t`` (``weight_t`` =
    ``weight.T``): XLA's CPU backend multiplies by a transposed operand more slowly than by one
    stored transposed.  The gradient in ``weight`` is ``h^T g``; :func:`_run_hoisted`'s scan holds
    the weights as constants, so there it is not computed (it serves derivatives of higher order)."""
    return h @ weight


def _matmul_fwd(h, weight, weight_t):
    return h @ weight, (h, weight_t)


def _matmul_bwd(residuals, g):
    h, weight_t = residuals
    d_weight = jnp.einsum("...i,...o->io", h, g)
    return g @ weight_t, d_weight, None


_matmul.defvjp(_matmul_fwd, _matmul_bwd)


def _controller_layers(model: NTM) -> tuple[Linear, ...]:
    """The controller's linear layers, in the order its ``apply`` numbers them."""
    ctrl = model.controller
    return ctrl.layers if isinstance(ctrl, FeedForwardController) else ctrl.cells


def _run_hoisted(model: NTM, inputs, mask, state):
    """:func:`_scan` for training: the same logits, and the same gradients, with fewer operations
    per step.

    Every step multiplies its inputs by the weights of the same linear layers: the controller's,
    and the two head layers, which run here as one (their weights concatenated once per call).
    Differentiated as written, each step of the backward pass would compute every layer's weight
    gradient, ``x_t^T g_t`` for the layer's input ``x_t`` and the gradient ``g_t`` of its output,
    and add it to a running sum: two operations per layer and step.  Here the weights enter the
    scan as constants of the differentiated function; each step records its layers' inputs, and
    adds to each layer's output a zero (``probe``) whose gradient, ``g_t``, the backward scan stacks
    as it does any per-step input's.  The weight gradients are then one matrix product per layer
    over all ``T * B`` rows.  The gradient of ``x_t``, ``g_t weight^T``, is taken with the transpose
    made once per call (:func:`_matmul`).
    """
    arrays, static = eqx.partition(model, eqx.is_array)
    batch, steps = inputs.shape[0], inputs.shape[1]
    split = model.write_layer.bias.shape[0]

    def layers(arrays):  # the step's linear layers in apply's order, as (weight, weight.T, bias)
        m = eqx.combine(arrays, static)
        pairs = [(layer.weight, layer.bias) for layer in _controller_layers(m)]
        pairs.append((
            jnp.concatenate([m.write_layer.weight, m.read_layer.weight], axis=1),
            jnp.concatenate([m.write_layer.bias, m.read_layer.bias]),
        ))
        return [(weight, weight.T, bias) for weight, bias in pairs]

    def probed(weights):  # the scan, as a function of everything differentiated
        def scan(arrays, probes, inputs, mask, state):
            return _scan(eqx.combine(arrays, static), inputs, mask, False, state, True, (weights, probes))

        return scan

    @jax.custom_vjp
    def run(arrays, inputs, mask, state):  # undifferentiated: no probes
        return probed(layers(arrays))(arrays, None, inputs, mask, state)[0]

    def run_fwd(arrays, inputs, mask, state):
        # Closed over by the differentiated function, not arguments of it: the VJP does not take their
        # gradients step by step (run_bwd forms them), while derivatives of run_fwd itself, for
        # gradients of gradients, still see them.
        weights = layers(arrays)
        probes = [jnp.zeros((steps, batch, bias.shape[0]), bias.dtype) for _, _, bias in weights]
        logits, vjp, layer_inputs = jax.vjp(probed(weights), arrays, probes, inputs, mask, state, has_aux=True)
        return logits, (vjp, layer_inputs)

    def run_bwd(residuals, g):
        vjp, layer_inputs = residuals
        d_arrays, d_probes, d_inputs, d_mask, d_state = vjp(g)
        grads = [
            (jnp.einsum("tbi,tbo->io", x, d), jnp.sum(d, axis=(0, 1))) for x, d in zip(layer_inputs, d_probes)
        ]
        (d_heads_w, d_heads_b), grads = grads[-1], grads[:-1]
        d_arrays = eqx.tree_at(
            lambda m: [leaf for layer in _controller_layers(m) for leaf in (layer.weight, layer.bias)]
            + [m.write_layer.weight, m.write_layer.bias, m.read_layer.weight, m.read_layer.bias],
            d_arrays,
            [leaf for pair in grads for leaf in pair]
            + [d_heads_w[:, :split], d_heads_b[:split], d_heads_w[:, split:], d_heads_b[split:]],
        )
        return d_arrays, d_inputs, d_mask, d_state

    run.defvjp(run_fwd, run_bwd)
    return run(arrays, inputs, mask, state)
