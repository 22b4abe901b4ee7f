"""Tests for ntm.tasks: the interface every task honours, then each task's layout against numpy.

Generic tests are parametrised over ``ntm.tasks.names()`` so a newly registered task is covered
automatically; the layout test needs a few lines in ``_episodes`` describing the new task.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
import pytest

import ntm.tasks as tasks
from ntm.tasks import (
    AssociativeRecallTask,
    Batch,
    CopyTask,
    DynamicNGramsTask,
    PrioritySortTask,
    RepeatCopyTask,
)

NAMES = tasks.names()

# Small settings keep compilation and sampling fast; the layouts do not depend on the sizes.
SMALL: dict[str, dict] = {
    "copy": dict(width=4),
    "repeat_copy": dict(width=3),
    "associative_recall": dict(width=6, item_length=3),
    "dynamic_ngrams": dict(),
    "priority_sort": dict(width=5, num_outputs=5),
}
# A range per task for the random-length tests (priority sort straddles num_outputs = 5).
RANGE: dict[str, tuple[int, int]] = {
    "copy": (1, 6),
    "repeat_copy": (1, 4),
    "associative_recall": (2, 6),
    "dynamic_ngrams": (5, 40),
    "priority_sort": (2, 9),
}
# Extra sampling arguments, so the shared batch also exercises repeat copy's second size.
EXTRA: dict[str, dict] = {"repeat_copy": dict(repeats=(1, 4))}
BATCH = 32


def _task(name: str) -> tasks.Task:
    return tasks.get(name, **SMALL.get(name, {}))


@functools.lru_cache(maxsize=None)
def _sample(name: str, seed: int = 4) -> Batch:
    """One shared batch per (task, seed), sizes drawn from the task's test range. Each distinct
    shape costs a compilation (seconds on a small CPU), so the tests share batches."""
    task = _task(name)
    return task.sample(jax.random.key(seed), BATCH, _range(task), **EXTRA.get(name, {}))


def _range(task: tasks.Task) -> tuple[int, int]:
    return RANGE.get(task.name, task.train_lengths)


def _np(batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.asarray(batch.inputs), np.asarray(batch.targets), np.asarray(batch.mask)


def _episodes(task: tasks.Task, batch: Batch) -> dict[str, np.ndarray]:
    """Recover each sequence's main size from its inputs; give the scored-step count and the
    first padding step that the documented layout implies. All ``[B]`` int arrays."""
    x, _, m = _np(batch)
    if isinstance(task, CopyTask):
        size = np.argmax(x[:, :, task.width], axis=1)
        return dict(size=size, scored=size, end=2 * size + 1)
    if isinstance(task, RepeatCopyTask):
        size = np.argmax(x[:, :, task.width], axis=1)
        reps = np.rint(x[np.arange(len(x)), size, task.width + 1] * task.repeat_norm).astype(int)
        return dict(size=size, reps=reps, scored=size * reps + 1, end=size + 2 + size * reps)
    if isinstance(task, AssociativeRecallTask):
        size = x[:, :, task.width].sum(axis=1).astype(int)
        k = task.item_length
        return dict(size=size, scored=np.full_like(size, k), end=(k + 1) * size + 2 * k + 2)
    if isinstance(task, DynamicNGramsTask):
        # Every bit is scored, so the size is only visible in the mask; check it is a prefix.
        size = m.sum(axis=1).astype(int)
        assert np.all(m == (np.arange(m.shape[1])[None] < size[:, None]))
        return dict(size=size, scored=size, end=size)
    if isinstance(task, PrioritySortTask):
        size = np.argmax(x[:, :, task.width + 1], axis=1)
        out = np.minimum(task.num_outputs, size)
        return dict(size=size, scored=out, end=size + 1 + out)
    pytest.fail(f"describe the episode layout of task {task.name!r} in _episodes")


# Registry ------------------------------------------------------------------------------------


def test_names_in_paper_order() -> None:
    assert NAMES[:5] == ["copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort"]


def test_get_normalises_hyphens_and_applies_overrides() -> None:
    task = tasks.get("repeat-copy", width=3)
    assert isinstance(task, RepeatCopyTask) and task.width == 3
    assert tasks.get("Dynamic-NGrams") == DynamicNGramsTask()


def test_get_unknown_name_lists_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown task 'cpy'.*copy, repeat_copy"):
        tasks.get("cpy")


def test_get_unknown_field_is_named() -> None:
    with pytest.raises(ValueError, match="widht"):
        tasks.get("copy", widht=3)


def test_register_rejects_a_second_class_under_a_taken_name() -> None:
    @dataclasses.dataclass(frozen=True)
    class Impostor(CopyTask):
        pass

    with pytest.raises(ValueError, match="already taken"):
        tasks.register(Impostor)


# The interface, for every registered task ------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_tasks_are_hashable_value_objects(name: str) -> None:
    task = tasks.get(name)
    assert task == tasks.get(name) and hash(task) == hash(tasks.get(name))
    assert isinstance(task.train_lengths, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.train_lengths = (1, 2)  # type: ignore[misc]


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes_at_training_sizes(name: str) -> None:
    task = tasks.get(name)  # paper defaults: the shapes others will train with
    # eval_shape traces without compiling: shapes and dtypes are all this test is about.
    batch = jax.eval_shape(lambda k: task.sample(k, 3), jax.random.key(0))
    T = task.num_steps()
    assert batch.inputs.shape == (3, T, task.input_size)
    assert batch.targets.shape == (3, T, task.output_size)
    assert batch.mask.shape == (3, T)
    assert all(a.dtype == np.float32 for a in batch)
    assert task.num_steps(task.train_lengths) == T == task.num_steps(task.train_lengths[1])


@pytest.mark.parametrize("name", NAMES)
def test_same_key_same_batch_different_key_different_batch(name: str) -> None:
    a, b, c = _np(_sample(name)), _np(_sample.__wrapped__(name)), _np(_sample(name, seed=5))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("name", NAMES)
def test_sample_under_jit(name: str) -> None:
    # Batch size and an exact int length as static arguments, the way a training loop jits.
    # (The task itself is a static argument of the compiled sampler inside every sample call.)
    task, extra = _task(name), EXTRA.get(name, {})
    key, size = jax.random.key(6), _range(task)[1]
    batch = jax.jit(functools.partial(task.sample, **extra), static_argnums=(1, 2))(key, BATCH, size)
    assert batch.inputs.shape == (BATCH, task.num_steps(size, **extra), task.input_size)
    # An int length is exact for every sequence, and the layout holds under jit too.
    ep = _episodes(task, batch)
    np.testing.assert_array_equal(ep["size"], size)
    np.testing.assert_array_equal(np.asarray(batch.mask).sum(axis=1), ep["scored"])
    # A closure traces the same way; tracing is what fails on Python control flow over traced
    # values, so eval_shape (no compilation) is enough for this form.
    closure = jax.eval_shape(jax.jit(lambda k: task.sample(k, BATCH, size, **extra)), key)
    assert [a.shape for a in closure] == [a.shape for a in batch]


@pytest.mark.parametrize("name", NAMES)
def test_mask_and_padding_follow_the_layout(name: str) -> None:
    task = _task(name)
    lo, hi = _range(task)
    batch = _sample(name)
    x, y, m = _np(batch)
    ep = _episodes(task, batch)
    assert x.shape[1] == task.num_steps((lo, hi), **EXTRA.get(name, {}))
    assert np.all((lo <= ep["size"]) & (ep["size"] <= hi))
    assert len(np.unique(ep["size"])) > 1, "sizes drawn from a range should vary per sequence"
    assert set(np.unique(m)) <= {0.0, 1.0} and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(m.sum(axis=1), ep["scored"])
    padding = np.arange(x.shape[1])[None] >= ep["end"][:, None]  # [B, T]
    assert np.all(ep["end"] <= x.shape[1])
    assert not m[padding].any() and not x[padding].any() and not y[padding].any()
    # Targets outside scored steps carry nothing a loss could accidentally learn from.
    assert not y[m == 0].any()


# Bad arguments name themselves ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch_size", [0, -2, 2.5])
def test_bad_batch_size(name: str, batch_size: object) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        _task(name).sample(jax.random.key(0), batch_size)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [0, -1, (5, 2), (0, 3), (1, 2, 3), "5", 2.0])
def test_bad_length(name: str, length: object) -> None:
    task = _task(name)
    with pytest.raises(ValueError, match="length"):
        task.sample(jax.random.key(0), 2, length)
    with pytest.raises(ValueError, match="length"):
        task.num_steps(length)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [(5, 2), (0, 3), (-1, 4), 7, (1, 2, 3)])
def test_bad_train_lengths(name: str, bad: object) -> None:
    with pytest.raises(ValueError, match="train_lengths"):
        tasks.get(name, train_lengths=bad)


@pytest.mark.parametrize(
    "name, field",
    [
        (name, f.name)
        for name in NAMES
        for f in dataclasses.fields(type(tasks.get(name)))
        if isinstance(getattr(tasks.get(name), f.name), int)
    ],
)
def test_negative_integer_fields_are_named(name: str, field: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: {field} must be"):
        tasks.get(name, **{field: -3})


def test_repeat_copy_bad_repeats_and_norm() -> None:
    task = RepeatCopyTask(width=2)
    with pytest.raises(ValueError, match="repeats"):
        task.sample(jax.random.key(0), 2, 3, repeats=(4, 1))
    with pytest.raises(ValueError, match="train_repeats"):
        RepeatCopyTask(train_repeats=(0, 3))
    for norm in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="repeat_norm"):
            RepeatCopyTask(repeat_norm=norm)


def test_associative_recall_needs_two_items() -> None:
    with pytest.raises(ValueError, match="length"):
        AssociativeRecallTask().sample(jax.random.key(0), 2, 1)
    with pytest.raises(ValueError, match="train_lengths"):
        AssociativeRecallTask(train_lengths=(1, 4))


# Known answers, computed independently with numpy -----------------------------------------------


def test_copy_targets_are_the_inputs_shifted() -> None:
    task, batch = _task("copy"), _sample("copy")
    x, y, m = _np(batch)
    W = task.width
    for b, L in enumerate(_episodes(task, batch)["size"]):
        np.testing.assert_array_equal(y[b, L + 1 : 2 * L + 1], x[b, :L, :W])
        steps = np.arange(x.shape[1])
        np.testing.assert_array_equal(m[b], (steps > L) & (steps <= 2 * L))
        assert x[b, :, W].sum() == 1 and not x[b, L, :W].any() and not x[b, L + 1 :].any()


def test_repeat_copy_targets_are_repetitions_then_end_marker() -> None:
    task, batch = _task("repeat_copy"), _sample("repeat_copy")
    x, y, m = _np(batch)
    W = task.width
    ep = _episodes(task, batch)
    assert x.shape[1] == task.num_steps((1, 4), repeats=(1, 4)) == 4 + 2 + 16
    assert len(np.unique(ep["reps"])) > 1 and np.all((1 <= ep["reps"]) & (ep["reps"] <= 4))
    for b, (L, R) in enumerate(zip(ep["size"], ep["reps"])):
        np.testing.assert_array_equal(y[b, L + 1 : L + 1 + L * R, :W], np.tile(x[b, :L, :W], (R, 1)))
        end = L + 1 + L * R
        np.testing.assert_array_equal(np.flatnonzero(y[b, :, W]), [end])
        assert not y[b, end, :W].any()
        # The count is shown on the delimiter step only.
        np.testing.assert_array_equal(np.flatnonzero(x[b, :, W + 1]), [L])
        np.testing.assert_allclose(x[b, L, W + 1], R / task.repeat_norm)


def test_associative_recall_answer_is_the_item_after_the_query() -> None:
    task, batch = _task("associative_recall"), _sample("associative_recall")
    x, y, m = _np(batch)
    W, k = task.width, task.item_length
    queried = []
    for b, K in enumerate(_episodes(task, batch)["size"]):
        starts = np.flatnonzero(x[b, :, W])  # item delimiters
        np.testing.assert_array_equal(starts, np.arange(K) * (k + 1))
        items = np.stack([x[b, s + 1 : s + 1 + k, :W] for s in starts])  # [K, k, W]
        t0 = K * (k + 1)
        np.testing.assert_array_equal(np.flatnonzero(x[b, :, W + 1]), [t0, t0 + k + 1])
        query = x[b, t0 + 1 : t0 + 1 + k, :W]
        matches = [q for q in range(K) if np.array_equal(items[q], query)]
        assert matches and min(matches) <= K - 2, "the query is one of the items but the last"
        answer_steps = slice(t0 + k + 2, t0 + 2 * k + 2)
        assert any(np.array_equal(y[b, answer_steps], items[q + 1]) for q in matches if q < K - 1)
        assert m[b, answer_steps].all() and not x[b, answer_steps].any()
        queried.append(matches[0])
    assert len(set(queried)) > 1, "the queried item should vary"


def test_priority_sort_targets_are_inputs_by_descending_priority() -> None:
    task, batch = _task("priority_sort"), _sample("priority_sort")
    x, y, m = _np(batch)
    W = task.width
    for b, L in enumerate(_episodes(task, batch)["size"]):
        priority = x[b, :L, W]
        assert np.all((-1 <= priority) & (priority <= 1))
        order = np.argsort(-priority, kind="stable")
        K = min(task.num_outputs, L)
        np.testing.assert_array_equal(y[b, L + 1 : L + 1 + K], x[b, order[:K], :W])
        chosen = priority[order[:K]]
        assert np.all(np.diff(chosen) <= 0)
        assert K == L or chosen.min() >= priority[order[K:]].max()


def test_ngram_targets_are_the_next_inputs() -> None:
    task, batch = _task("dynamic_ngrams"), _sample("dynamic_ngrams")
    x, y, m = _np(batch)
    for b, L in enumerate(_episodes(task, batch)["size"]):
        assert x[b, 0, 0] == 0
        np.testing.assert_array_equal(y[b, : L - 1, 0], x[b, 1:L, 0])


def test_ngram_probabilities_depend_on_the_context() -> None:
    # Order 2: each sequence has p(1 | previous 0) and p(1 | previous 1), independent Beta(1/2, 1/2)
    # draws (variance 1/8; mean absolute difference 4/pi^2, about 0.41). A generator ignoring the
    # context, or sharing one p per sequence, would give near-equal frequencies after 0 and after 1.
    task = DynamicNGramsTask(order=2)
    bits = np.asarray(task.sample(jax.random.key(15), BATCH).targets[..., 0])
    previous, current = bits[:, :-1], bits[:, 1:]
    gaps, freqs = [], []
    for b in range(len(bits)):
        after = [current[b][previous[b] == c] for c in (0, 1)]
        if min(len(a) for a in after) >= 20:
            freqs += [a.mean() for a in after]
            gaps.append(abs(after[0].mean() - after[1].mean()))
    assert len(gaps) >= 10
    assert np.var(freqs) > 0.06 and np.mean(gaps) > 0.25


def test_only_ngrams_have_a_reference_cost_and_it_is_the_bayes_optimum_of_the_same_sequences() -> None:
    from ntm import metrics

    for name in NAMES[:5]:
        task = _task(name)
        batch = _sample(name)
        ref = task.reference_cost(batch)
        if name != "dynamic_ngrams":
            assert ref is None
            continue
        assert ref.shape == (batch.inputs.shape[0],)
        np.testing.assert_allclose(ref, metrics.ngram_optimal_cost(batch.targets[..., 0], batch.mask, order=task.order))
        # Sequences differ in how predictable they are: that is why training compares excesses.
        assert float(np.ptp(np.asarray(ref))) > 1.0
        scores = task.scores(np.zeros(batch.targets.shape, np.float32), batch)
        np.testing.assert_allclose(scores["optimal_cost_bits"], ref)
