"""ntm.fast.xla: the compiler options reach NTMs' jitted functions and nothing else."""

import jax
import jax.numpy as jnp

from ntm.fast import xla as _xla
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


def test_sums_over_locations_are_not_split_into_pieces():
    # By default XLA computes a sum or maximum over more than 32 elements as an unfusable
    # reduce-window of 32-element pieces and a second reduction; the NTMs' options turn that off.
    def softmax(x):
        return jax.nn.softmax(x, axis=-1)

    x = jnp.zeros((4, 128))
    default = jax.jit(softmax).lower(x).compile().as_text()
    ntm_options = jax.jit(softmax, compiler_options=_xla.compiler_options()).lower(x).compile().as_text()
    assert "reduce-window" in default
    assert "reduce-window" not in ntm_options
    assert jnp.allclose(jax.jit(softmax, compiler_options=_xla.compiler_options())(x), 1 / 128)


def test_one_thread_cpu_client_is_made_once_before_any_computation():
    # In a fresh process: the first call creates the client (on a Linux machine with more than one
    # CPU) with the two devices asked for, a second finds it made; computations work, and every
    # thread may use every CPU again.
    import subprocess
    import sys

    code = (
        "import os, jax.numpy as jnp\n"
        "from ntm.fast import xla as _xla\n"
        "first = _xla.one_thread_cpu_client(2)\n"
        "second = _xla.one_thread_cpu_client(1)\n"
        "import jax\n"
        "assert jax.device_count() == (2 if first else 1), jax.devices()\n"
        "assert float(jnp.arange(4.0).sum()) == 6.0\n"
        "cpus = os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else set()\n"
        "every = all(os.sched_getaffinity(int(t)) == cpus for t in os.listdir('/proc/self/task')) if cpus else True\n"
        "print(first, second, len(cpus), every)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second, cpus, every = out.stdout.split()
    assert first == str(int(cpus) > 1) and second == "False" and every == "True"


def test_split_count_is_the_largest_even_share():
    assert [_xla.split_count(b, 2) for b in (1, 2, 3, 8, 32)] == [1, 2, 1, 2, 2]
    assert [_xla.split_count(b, 4) for b in (6, 7, 9, 12)] == [3, 1, 3, 4]
    assert _xla.split_count(12, 8) == 6 and _xla.split_count(5, 1) == 1
