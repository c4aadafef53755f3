"""A minimal hand-written safetensors reader/writer for float32 tensors (Debian has no safetensors package).

Format: 8-byte little-endian header length N, then N bytes of UTF-8 JSON
{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
padded with spaces to a multiple of 8, then the data region (little-endian, C order). Like the reference
implementation, the writer orders tensors by name, writes "__metadata__" first and compact JSON, so this
writer and lib/io/safetensors.ts produce byte-identical files for the same tensors.
"""

import json
import struct

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4")}


def encode(tensors, metadata=None):
    """tensors: {name: numpy array}; float arrays are written as F32, int64 / int32 arrays keep their
    dtype (I64 / I32, as safetensors' save_file writes a state_dict's num_batches_tracked).
    metadata: {str: str} or None. Returns bytes."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name in sorted(tensors, key=lambda s: s.encode("utf-8")):
        arr = np.asarray(tensors[name])
        code = {np.dtype("int64"): "I64", np.dtype("int32"): "I32"}.get(arr.dtype, "F32")
        arr = arr.astype(_DTYPES[code], copy=False)
        raw = arr.tobytes(order="C")
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def decode(data):
    """bytes -> ({name: numpy array}, metadata dict or None). Validates offsets like the reference."""
    if len(data) < 8:
        raise ValueError(f"safetensors: file is {len(data)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"safetensors: header length {n} runs past the end of the {len(data)}-byte file")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None)
    body = data[8 + n :]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    out = {}
    pos = 0
    for name, info in entries:
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"safetensors: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if begin != pos or end - begin != count * dtype.itemsize or end > len(body):
            raise ValueError(f"safetensors: tensor {name} has bad data_offsets {info['data_offsets']}")
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"]).copy()
        pos = end
    if pos != len(body):
        raise ValueError(f"safetensors: data region is {len(body)} bytes, tensors cover {pos}")
    return out, metadata
