"""Safe model files: what a skops file may name, checked before anything is loaded.

A skops file is a zip archive holding ``schema.json``, a tree of nodes, each naming the
type or function it rebuilds (``module.name``). Loading such a file is safe only as long
as every name it holds is harmless: a ``FunctionTransformer`` whose function is
``numpy.testing._private.utils.runstring`` passes its input to ``exec``. So a file
loads without ``trust`` only when every name is on an explicit allow-list:

- scikit-learn's estimator classes (``sklearn.utils.all_estimators``) and the internal
  types their fitted state holds (trees, losses, links, binners, calibrators, ...);
- builtins containers and scalars, NumPy arrays, dtypes, scalar types and random
  generators, SciPy sparse containers;
- NumPy and SciPy ufuncs (pure arithmetic) and a few functions pipelines pass as
  parameters (``SelectKBest``'s score functions).

Never a whole package: ``numpy.max`` is not on it, nor anything in ``numpy.testing``,
``numpy.lib``, ``scipy._lib``, ``sklearn.utils``, ``operator``, ``functools`` or
``builtins`` beyond plain data types. Two audits must both pass: leanloop's own walk
over ``schema.json`` (every node's name and loader) and skops' audit of the tree it
builds, so a gap in either is covered by the other. Fitted trees are then checked for
child and feature indices in range, since scikit-learn indexes them without bounds
checks and a crafted file could crash the process at the first prediction.

Examples
--------
>>> import skops.io as sio
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.preprocessing import FunctionTransformer
>>> model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
>>> untrusted_names(sio.dumps(model))
[]
>>> untrusted_names(sio.dumps(FunctionTransformer(func=eval)))
['builtins.eval']
>>> load_model_bytes(sio.dumps(model), "model.skops", trust=False).predict([[3.0]]).tolist()
[1]
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from functools import cache
from typing import Any

from leanloop.errors import ArtifactError

__all__ = ["ALLOWED_TYPES", "ALLOWED_FUNCTIONS", "MAX_UNPACKED_BYTES", "allowed_names", "untrusted_names",
           "load_model_bytes", "check_archive", "check_trees"]

#: A skops archive whose members unpack to more than this is refused (zip bombs).
MAX_UNPACKED_BYTES = 4 << 30

#: Types beyond scikit-learn's estimator classes that fitted models hold. Each is plain
#: data once loaded; none calls a function named by the file.
ALLOWED_TYPES = frozenset({
    # builtins: data, never callables
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.str",
    "builtins.int", "builtins.float", "builtins.bool", "builtins.complex", "builtins.bytes", "builtins.bytearray",
    "builtins.slice", "builtins.NoneType", "collections.OrderedDict", "collections.defaultdict",
    # NumPy containers and random state
    "numpy.ndarray", "numpy.dtype", "numpy.ma.core.MaskedArray", "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator", "numpy.random.bit_generator.SeedSequence",
    # SciPy sparse containers (one-hot output, sparse linear models)
    *(f"scipy.sparse._{kind}.{kind}_{shape}" for kind in ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")
      for shape in ("matrix", "array")),
    # fitted state of trees, forests and gradient boosting (indices checked by check_trees)
    "sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    *(f"sklearn._loss.loss.{name}" for name in (
        "AbsoluteError", "ExponentialLoss", "HalfBinomialLoss", "HalfGammaLoss", "HalfMultinomialLoss",
        "HalfPoissonLoss", "HalfSquaredError", "HalfTweedieLoss", "HalfTweedieLossIdentity", "HuberLoss",
        "PinballLoss")),
    *(f"sklearn._loss._loss.Cy{name}" for name in (
        "AbsoluteError", "ExponentialLoss", "HalfBinomialLoss", "HalfGammaLoss", "HalfMultinomialLoss",
        "HalfPoissonLoss", "HalfSquaredError", "HalfTweedieLoss", "HalfTweedieLossIdentity", "HuberLoss",
        "PinballLoss")),
    *(f"sklearn._loss.link.{name}" for name in (
        "HalfLogitLink", "IdentityLink", "Interval", "LogitLink", "LogLink", "MultinomialLogit")),
    # calibration internals, the nearest-neighbour search trees and their metrics
    "sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration",
    "sklearn.frozen._frozen.FrozenEstimator",
    # leanloop's own wrappers: arithmetic on the wrapped model's probabilities
    "leanloop.build.calibration.PriorShift", "leanloop.label_rule.ExpectedValueClassifier",
    # and the mark a relearnt model answers with (a column of ones beside its inputs)
    "leanloop.build.since_change.SinceChange",
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
    # LightGBM's scikit-learn models (a retrain on Dask): the booster is rebuilt from its text model
    "lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor", "lightgbm.basic.Booster",
    *(f"sklearn.metrics._dist_metrics.{name}{bits}" for bits in ("64", "32") for name in (
        "EuclideanDistance", "SEuclideanDistance", "ManhattanDistance", "ChebyshevDistance",
        "MinkowskiDistance", "MahalanobisDistance", "HammingDistance", "CanberraDistance",
        "BrayCurtisDistance")),
})

#: Functions a pipeline may hold as a parameter, beyond NumPy's and SciPy's ufuncs.
ALLOWED_FUNCTIONS = frozenset({
    f"sklearn.feature_selection._univariate_selection.{name}"
    for name in ("f_classif", "f_regression", "chi2", "r_regression")
} | {
    f"sklearn.feature_selection._mutual_info.{name}" for name in ("mutual_info_classif", "mutual_info_regression")
})

#: skops' node loaders; a file naming any other loader is refused, unread.
_LOADERS = frozenset({
    "DictNode", "DefaultDictNode", "ListNode", "SetNode", "TupleNode", "BytesNode", "BytearrayNode", "SliceNode",
    "FunctionNode", "PartialNode", "TypeNode", "ConstructorFromReduceNode", "ObjectNode", "JsonNode", "MethodNode",
    "OperatorFuncNode", "CachedNode", "NdArrayNode", "MaskedArrayNode", "RandomStateNode", "RandomGeneratorNode",
    "DTypeNode", "SparseMatrixNode", "TreeNode", "SGDNode", "LossNode", "BinMapperNode", "ReduceNode",
})


@cache
def allowed_names() -> frozenset[str]:
    """Every ``module.name`` a model file may hold without ``trust``.

    Examples
    --------
    >>> names = allowed_names()
    >>> "sklearn.pipeline.Pipeline" in names, "numpy.log1p" in names, "numpy.max" in names
    (True, True, False)
    """
    import numpy as np
    import scipy.special
    from sklearn.utils import all_estimators

    estimators = {f"{cls.__module__}.{cls.__qualname__}" for _, cls in all_estimators()}
    ufuncs = {f"numpy.{name}" for name in dir(np) if isinstance(getattr(np, name), np.ufunc)}
    ufuncs |= {f"scipy.special.{name}" for name in dir(scipy.special)
               if isinstance(getattr(scipy.special, name), np.ufunc)}
    # Scalar types (numpy.float64, numpy.int64, ...), as named in files, whichever module defines them.
    scalars = {f"{t.__module__}.{t.__qualname__}" for t in set(np.sctypeDict.values())}
    bit_generators = {f"numpy.random.{name}" for name in dir(np.random)
                      if isinstance(getattr(np.random, name), type) and issubclass(getattr(np.random, name),
                                                                                    np.random.BitGenerator)}
    return frozenset(estimators | ufuncs | scalars | bit_generators | ALLOWED_TYPES | ALLOWED_FUNCTIONS)


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every node of a skops schema tree, depth first (iterative: a deep file cannot
    exhaust the stack)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _schema(data: bytes, name: str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("schema.json"))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{name} is not a readable skops file (no valid schema.json: {exc}); "
                            "save the model again with skops.io.dump") from exc


def untrusted_names(data: bytes, name: str = "model.skops") -> list[str]:
    """The names in a skops payload that are not on the allow-list, sorted.

    Both audits count: leanloop's walk over the file's schema (including loaders it does
    not know and methods named by ``MethodNode``) and skops' own audit of the tree.
    """
    import skops.io as sio

    allowed = allowed_names()
    found: set[str] = set()
    for node in _nodes(_schema(data, name)):
        loader = node.get("__loader__")
        full = f"{node.get('__module__')}.{node.get('__class__')}"
        if loader not in _LOADERS:
            found.add(f"{full} (loader {loader!r})")
        elif loader == "MethodNode":  # a bound method: never on the list
            method = (node.get("content") or {}).get("func") if isinstance(node.get("content"), dict) else None
            found.add(f"{full}.{method}")
        elif full not in allowed:
            found.add(full)
    try:
        found |= {t for t in sio.get_untrusted_types(data=data) if t not in allowed}
    except Exception as exc:  # skops raises many types for a malformed tree; any of them means refuse
        if not found:  # with names already off the list, the refusal that lists them says more
            raise ArtifactError(f"{name} is not a readable skops file: {exc}") from exc
    return sorted(found)


def check_archive(data: bytes, name: str, max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse, unread, anything but a zip archive whose members unpack to at most
    ``max_unpacked_bytes`` (a pickle renamed ``.skops``, a zip bomb)."""
    if not data.startswith(b"PK\x03\x04"):
        kind = "a pickle or joblib file" if data[:1] == b"\x80" or data[:2] in (b"x\x9c", b"\x1f\x8b") else "not one"
        raise ArtifactError(f"{name} is not a skops file (skops files are zip archives; this is {kind}); "
                            "refused without loading. Pickle files load only through 'leanloop adopt --trust'")
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile as exc:
        raise ArtifactError(f"{name} is not a readable skops archive: {exc}") from exc
    unpacked = sum(m.file_size for m in members)
    if unpacked > max_unpacked_bytes:
        raise ArtifactError(f"{name} unpacks to {unpacked} bytes, over the cap of {max_unpacked_bytes}; refused")


def load_model_bytes(data: bytes, name: str, trust: bool, *, max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> Any:
    """Load a skops payload whose every name is allowed (or any payload with ``trust``).

    The archive is checked first (:func:`check_archive`), then both audits; a refusal
    lists every name off the list and loads nothing. Fitted trees are checked after
    loading (:func:`check_trees`), trusted or not.
    """
    import skops.io as sio

    check_archive(data, name, max_unpacked_bytes)
    refused = untrusted_names(data, name)
    if refused and not trust:
        raise ArtifactError(
            f"{name} holds names that are not on leanloop's allow-list of model types and functions: {refused}. "
            "Such names can run code when the model is loaded or used; nothing was loaded. Re-save the model "
            "with scikit-learn types only, or load it with trust=True (CLI: --trust) only if you trust its author"
        )
    try:
        model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    except ArtifactError:
        raise
    except Exception as exc:  # skops raises many types for a damaged file
        raise ArtifactError(f"{name} is not a readable skops file: {exc}") from exc
    check_trees(model, name)
    return model


def _objects(root: Any, limit: int = 1_000_000) -> Iterator[Any]:
    """Every object reachable from ``root`` through attributes, lists, tuples and dicts."""
    import numpy as np

    seen: set[int] = set()
    stack = [root]
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (str, bytes, int, float, np.ndarray, np.generic)):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())


def check_trees(model: Any, name: str) -> None:
    """Refuse fitted trees whose child or feature indices fall outside their arrays.

    scikit-learn's Cython predict code follows these indices without bounds checks, so a
    crafted file could read or write outside an array at the first prediction.
    """
    for obj in _objects(model):
        n_features = getattr(obj, "n_features_in_", None)
        trees = [getattr(obj, "tree_", None)] + [p for row in getattr(obj, "_predictors", None) or [] for p in row]
        for tree in trees:
            if tree is not None and not _tree_in_bounds(tree, n_features):
                raise ArtifactError(f"{name} holds a fitted tree whose node or feature indices point outside "
                                    "its arrays: the file is damaged or crafted; refused. Train and save the "
                                    "model again")


def _tree_in_bounds(tree: Any, n_features: int | None) -> bool:
    """Whether a scikit-learn ``Tree`` or a histogram-boosting ``TreePredictor`` links only
    to its own nodes, splits only on the estimator's features and reads only its bitsets."""
    import numpy as np

    if hasattr(tree, "children_left"):  # sklearn.tree._tree.Tree
        internal = tree.children_left != -1
        links = np.concatenate([tree.children_left[internal], tree.children_right[internal]])
        features = tree.feature[internal]
        count, n_features = tree.node_count, min(tree.n_features, n_features or tree.n_features)
        leaves_ok = bool(np.all(tree.children_right[~internal] == -1))
        bitsets_ok = True
    elif hasattr(tree, "nodes"):  # TreePredictor of HistGradientBoosting*
        nodes = tree.nodes
        internal = nodes["is_leaf"] == 0
        links = np.concatenate([nodes["left"][internal], nodes["right"][internal]])
        features = nodes["feature_idx"][internal]
        count, leaves_ok = len(nodes), True
        categorical = internal & (nodes["is_categorical"] != 0)
        bitsets_ok = bool(np.all(nodes["bitset_idx"][categorical] < len(tree.raw_left_cat_bitsets)))
    else:
        return True
    links_ok = bool(np.all((links > 0) & (links < count)))
    features_ok = bool(np.all((features >= 0) & (features < n_features))) if n_features else bool(
        np.all(features >= 0))
    return links_ok and features_ok and leaves_ok and bitsets_ok
