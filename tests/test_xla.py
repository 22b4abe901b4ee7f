"""ntm._xla: the compiler options reach NTMs' jitted functions and nothing else."""

import jax
import jax.numpy as jnp

from ntm import _xla
from ntm.baseline import LSTMBaseline, LSTMConfig
from ntm.model import NTM, NTMConfig


def test_compiler_options_apply_to_ntms_only():
    ntm = NTM(NTMConfig(input_size=3, output_size=2, memory_rows=8, memory_width=4, controller_size=5),
              key=jax.random.key(0))
    lstm = LSTMBaseline(LSTMConfig(input_size=3, output_size=2, hidden_size=5, layers=1), key=jax.random.key(0))
    f = _xla.jit(lambda model, x: x + 1.0, filter=True)
    x = jnp.zeros(3)
    assert float(f(ntm, x)[0]) == 1.0 and float(f(lstm, x)[0]) == 1.0
    assert set(f._jitted) == {True, False}  # one compiled variant each
    g = _xla.jit(lambda x: x * 2.0)
    assert float(g(jnp.ones(()))) == 2.0 and set(g._jitted) == {False}
    # The installed XLA still knows the option (if not, compiler_options() drops it: re-measure).
    assert _xla.compiler_options() == _xla.COMPILER_OPTIONS
