#!/usr/bin/env python3
"""Writes a copy of a GGUF with every tensor dequantized to F32 (same metadata).

    gguf_to_f32.py IN_GGUF OUT_GGUF

llama.cpp then runs the very weights `export.py smollm2 --precision fp32` puts into the ONNX
graph, with float32 activations (its Q4_1 kernels instead quantize activations to 8 bits), so
its greedy tokens are the reference the fp32 ONNX export must match exactly.
"""

import sys

import gguf
import numpy as np


def main():
    src, dst = sys.argv[1:3]
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dst, arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        val_type = field.types[0]
        sub_type = field.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == "general.file_type":
            value = int(gguf.LlamaFileType.ALL_F32)
        writer.add_key_value(field.name, value, val_type, sub_type=sub_type)
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        data = np.asarray(data, dtype=np.float32).reshape([int(d) for d in reversed(t.shape)])
        writer.add_tensor(t.name, data, raw_dtype=gguf.GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
