"""kit.explain.embeddings: PCA of learned vectors on hand-made tables, and a tiny network that
must learn the months in order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.explain.embeddings import (code_counts, embedding_projections, embedding_tables, plot_projection,
                                    project)


def _line_table(order: np.ndarray, d: int = 3, seed: int = 0) -> np.ndarray:
    """Code 0 far away, codes 1..n on a line through 3-D at positions `order`, plus tiny noise."""
    rng = np.random.default_rng(seed)
    direction = np.array([1.0, -2.0, 0.5])[:d]
    known = 0.3 + order[:, None] * direction + 1e-4 * rng.normal(size=(len(order), d))
    return np.vstack([np.full((1, d), 50.0), known]).astype(np.float32)


def test_points_on_a_line_keep_their_order_on_pc1():
    pos = np.array([0.0, 1.0, 2.5, 3.0, 7.0, 9.0])
    p = project("state", _line_table(pos), levels=list("abcdef"))
    assert p.explained[0] == pytest.approx(1.0, abs=1e-6)
    assert p.explained[1] == pytest.approx(0.0, abs=1e-6)
    # the sign is fixed to rise with the code order, and distances are kept
    assert np.all(np.diff(p.coords[:, 0]) > 0)
    gaps = np.diff(p.coords[:, 0]) / np.linalg.norm([1.0, -2.0, 0.5])
    np.testing.assert_allclose(gaps, np.diff(pos), atol=1e-3)
    np.testing.assert_allclose(p.coords.mean(axis=0), 0, atol=1e-5)


def test_code_zero_is_left_out_and_labels_come_from_levels():
    table = _line_table(np.arange(4.0))
    p = project("day", table, levels=["mon", "tue", "wed", "thu"], counts=np.array([7, 1, 2, 3, 4]))
    assert p.codes.tolist() == [1, 2, 3, 4]
    assert p.labels == ("mon", "tue", "wed", "thu")
    np.testing.assert_array_equal(p.vectors, table[1:])
    assert p.counts.tolist() == [1, 2, 3, 4]  # the count of code 0 dropped with it
    # code 0's far-away vector would dominate PC1 if it were included; it is not
    assert p.explained[0] == pytest.approx(1.0, abs=1e-6)
    assert project("day", table).labels == ("1", "2", "3", "4")


def test_reruns_and_flipped_tables_give_the_same_picture():
    table = np.random.default_rng(3).normal(size=(9, 4))
    a, b = project("f", table), project("f", -table)
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-9)


def test_one_dimensional_embedding_has_a_flat_second_axis():
    p = project("flag", np.array([[0.0], [1.0], [3.0], [2.0]]))
    assert p.coords[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert p.explained == (pytest.approx(1.0), 0.0)


def test_to_frame_has_the_vectors_for_reuse():
    p = project("day", _line_table(np.arange(5.0)), counts=np.array([3, 4, 5, 6, 7]))
    f = p.to_frame()
    assert f.columns == ["feature", "code", "label", "count", "x", "y", "emb0", "emb1", "emb2"]
    assert f["code"].to_list() == [1, 2, 3, 4, 5] and f["count"].to_list() == [3, 4, 5, 6, 7]
    np.testing.assert_allclose(f.select("emb0", "emb1", "emb2").to_numpy(), p.vectors, rtol=1e-6)
    assert project("day", _line_table(np.arange(5.0))).to_frame()["count"].null_count() == 5


def test_bad_inputs_say_what_to_pass():
    with pytest.raises(KitError, match=r"levels of 'day' must give one name per known code: the table has 4"):
        project("day", _line_table(np.arange(4.0)), levels=["mon"])
    with pytest.raises(KitError, match=r"at least 3 codes .* got shape \(2, 3\)"):
        project("day", np.zeros((2, 3)))
    with pytest.raises(KitError, match=r"counts of 'day' must give rows per code: 5 \(codes 0..4\) or 4"):
        project("day", _line_table(np.arange(4.0)), counts=np.ones(3))


@pytest.fixture(scope="module")
def month_net():
    """A tiny network on y = sqrt(month) + noise; one narrow hidden layer and a strong weight
    decay, so the embedding keeps only the one direction it uses (the random start decays)."""
    import torch

    from kit.models import EmbeddingNetRegressor

    rng = np.random.default_rng(0)
    n = 2000
    month = rng.integers(1, 13, n)
    X = pl.DataFrame({"month": month, "x": rng.normal(size=n)})
    y = np.sqrt(month) + 0.05 * rng.normal(size=n)
    # one thread: tiny batches gain nothing from more, and lose much when the cores are shared
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = EmbeddingNetRegressor(cat_features=["month"], layers=(16,), dropout=(0.0,), emb_dropout=0.0,
                                      epochs=20, batch_size=128, lr=1e-2, weight_decay=3.0, device="cpu",
                                      random_state=0).fit(X, y)
    finally:
        torch.set_num_threads(threads)
    return model, X


def test_a_trained_network_keeps_the_months_in_order(month_net):
    from scipy.stats import spearmanr

    model, X = month_net
    counts = code_counts(model, X)
    assert counts["month"][0] == 0 and counts["month"].sum() == X.height
    (p,) = embedding_projections(model, counts=counts)
    assert p.feature == "month" and p.labels == tuple(str(m) for m in range(1, 13))
    assert p.counts.tolist() == np.bincount(X["month"].to_numpy(), minlength=13)[1:].tolist()
    rho = spearmanr(p.coords[:, 0], np.arange(1, 13)).statistic
    assert abs(rho) >= 0.9, f"PC1 lost the months' order: Spearman {rho:.3f}"
    assert embedding_tables(model)["month"].shape == (13, 7)  # 13 codes incl. unknown, fast.ai's width 7
    assert embedding_projections(model, min_codes=13) == ()
    fig = plot_projection(p, ordered=True)
    assert fig.axes[0].get_xlabel().startswith("PC1 (") and "% of variance)" in fig.axes[0].get_xlabel()


def test_projection_keeps_given_levels_and_checks_names(month_net):
    model, _ = month_net
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    (p,) = embedding_projections(model, levels={"month": names})
    assert p.labels == tuple(names)
    with pytest.raises(KitError, match=r"counts names \['day'\], which are not categorical columns"):
        embedding_projections(model, counts={"day": np.ones(3)})


def test_a_tree_model_has_no_embeddings():
    from kit.models import LightGBMRegressor

    rng = np.random.default_rng(0)
    X = pl.DataFrame({"a": rng.integers(0, 3, 60), "b": rng.normal(size=60)})
    gbm = LightGBMRegressor(n_estimators=3, cat_features=["a"], n_jobs=1).fit(X, rng.normal(size=60))
    with pytest.raises(KitError, match="embeddings need a fitted kit.models.EmbeddingNetRegressor.*"
                                       "got LightGBMRegressor"):
        embedding_tables(gbm)
    with pytest.raises(KitError, match="got an unfitted EmbeddingNetRegressor; fit an embedding network first"):
        from kit.models import EmbeddingNetRegressor

        embedding_projections(EmbeddingNetRegressor())


def test_labels_are_thinned_to_the_most_frequent():
    table = np.random.default_rng(1).normal(size=(41, 3))
    counts = np.arange(41)
    fig = plot_projection(project("store", table, counts=counts), max_labels=5)
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text()]
    assert sorted(texts, key=int) == ["36", "37", "38", "39", "40"]
    fig = plot_projection(project("store", table), max_labels=5)
    assert [t.get_text() for t in fig.axes[0].texts if t.get_text()] == ["1", "11", "21", "30", "40"]
