#!/usr/bin/python3
"""Seed corpora for the libFuzzer harnesses (tests/fuzz/corpus/<harness>/), small and committed.

Each harness's seeds are valid inputs of its format (so mutations start from what parses), the hostile
inputs issue 22 found (regressions) and their near misses. Inputs that two files make (IDX images + labels,
ratings + items, a vocab.json + merges.txt, Hugging Face config + preprocessor config) are joined as
harness.h's splitTwo reads them: the first part's length in two little-endian bytes, then both parts.
Run from anywhere: /usr/bin/python3 tests/fuzz/make_seeds.py (numpy and sentencepiece needed; Debian's).
"""
import gzip
import io
import json
import os
import shutil
import struct
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures", "data")
OUT = os.path.join(HERE, "corpus")


def two(a: bytes, b: bytes) -> bytes:
    assert len(a) < 65536
    return struct.pack("<H", len(a)) + a + b


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr)
    else:
        np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def raw_npy(header: str, payload: bytes = b"", version=(1, 0)) -> bytes:
    h = header.encode("latin1")
    if version[0] == 1:
        return b"\x93NUMPY" + bytes(version) + struct.pack("<H", len(h)) + h + payload
    return b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(h)) + h + payload


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def seeds_npy():
    rng = np.random.default_rng(0)
    s = {
        "f4": npy_bytes(rng.standard_normal((2, 3)).astype("<f4")),
        "f8_3d": npy_bytes(rng.standard_normal((1, 2, 2))),
        "i8": npy_bytes(np.arange(6, dtype="<i8").reshape(1, 6)),
        "i4": npy_bytes(np.arange(4, dtype="<i4")),
        "u1": npy_bytes(np.arange(8, dtype="u1").reshape(2, 2, 2)),
        "bool": npy_bytes(np.array([True, False, True])),
        "big_endian": npy_bytes(np.arange(3, dtype=">f4")),
        "fortran": npy_bytes(np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3))),
        "scalar": npy_bytes(np.float32(1.5)),
        "empty": npy_bytes(np.zeros((0, 3), dtype="<f4")),
        "v2": npy_bytes(np.arange(4, dtype="<f4"), version=(2, 0)),
        "v3": npy_bytes(np.arange(4, dtype="<f4"), version=(3, 0)),
        "nan": npy_bytes(np.array([np.nan, np.inf, -np.inf], dtype="<f4")),
        # issue 22's reproducers
        "negative_dim": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }\n", b"\0" * 8),
        "float_dim": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (28.0,), }\n", b"\0" * 112),
        "overflow": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"),
        "declares_gigabytes": raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (30000, 30000), }\n", b"\0" * 64),
        "magic_only": b"\x93NUMPY",
        "version_0": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", b"\0" * 4, version=(0, 0)),
        "version_255": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", b"\0" * 4, version=(255, 0)),
        "v2_huge_header": b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{'descr'",
        "int_beyond_float": npy_bytes(np.array([2**24 + 1], dtype="<i8")),
    }
    return s


def seeds_json():
    return {
        "sidecar": fixture("seqcnn_traced.pt.json"),
        "nested": json.dumps({"a": [1, -2.5e-3, 1e308, True, None, {"b": "é\u00e9\\\"\n\t\u2603"}], "": []}).encode(),
        "surrogates": b'["\\ud83d\\ude00", "\\u0000", "\\uD800"]',
        "numbers": b"[0, -0, 1E400, -1e-400, 123456789012345678901234567890, 0.1e1]",
        "deep": b"[" * 64 + b"]" * 64,
        "bad": b'{"a": [1, 2,}',
        "bom": b"\xef\xbb\xbf{}",
        "string_only": b'"abc"',
    }


def seeds_metadata():
    side = fixture("seqcnn_traced.pt.json")
    hf_config = json.dumps({"id2label": {"0": "cat", "1": "dog"}, "architectures": ["X"], "num_labels": 2}).encode()
    hf_pre = json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"height": 8, "width": 8},
                         "rescale_factor": 1 / 255}).encode()
    return {
        "sidecar": side,
        "sidecar_full": json.dumps({"task": "classification", "labels": ["a", "b"], "input": {"shape": [1, 3, 8, 8], "layout": "NCHW",
                                    "channel_order": "rgb", "range": [0, 1], "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]},
                                    "role": "classifier"}).encode(),
        "labels_lines": b"cat\ndog\r\nbird\n",
        "labels_dict": b'{"0": "cat", "1": "dog"}',
        "hf": two(hf_config, hf_pre),
        "hf_bad_ids": two(b'{"id2label": {"x": "a", "-1": "b", "99999999999999999999": "c"}}', b'{"image_mean": "no"}'),
    }


def seeds_archive():
    s = {n: fixture(n + ".pt") for n in ["linear_traced", "thrower_scripted", "corrupt_empty_record", "corrupt_short_record",
                                         "corrupt_truncated", "gen_tiny"]}
    s["not_zip"] = b"PK\x03\x04" + b"\0" * 26
    return s


def idx_images(n, rows, cols, pixels=None):
    body = bytes(pixels if pixels is not None else [(i * 37) % 256 for i in range(n * rows * cols)])
    return struct.pack(">IIII", 0x803, n, rows, cols) + body


def idx_labels(n, labels=None):
    return struct.pack(">II", 0x801, n) + bytes(labels if labels is not None else [i % 10 for i in range(n)])


def seeds_idx():
    return {
        "three_2x2": two(idx_images(3, 2, 2), idx_labels(3)),
        "gz": two(gzip.compress(idx_images(2, 3, 3), mtime=0), gzip.compress(idx_labels(2), mtime=0)),
        "labels_short": two(idx_images(4, 2, 2), idx_labels(4, [1, 2])),
        "huge_count_zero_pixels": two(struct.pack(">IIII", 0x803, 2**31, 0, 0), idx_labels(0)),
        "count_mismatch": two(idx_images(2, 2, 2), idx_labels(3)),
        "truncated_images": two(idx_images(5, 4, 4)[:40], idx_labels(5)),
    }


def seeds_csv():
    return {
        "items": b"path,label\na.pgm,0\nb.npy,1\n",
        "nan_item": b"a.pgm,0\nnan.npy,1\nb.npy,2\n",
        "broken_items": b"bad.png,0\nmissing.png,1\n",
        "crlf": b"a.pgm,3\r\nb.npy,4\r\n",
        "big_label": b"a.pgm,99999999999999999999\n",
        "no_comma": b"a.pgm\n",
        "absolute": b"/etc/passwd,0\n/dev/zero,1\n",
    }


def seeds_ratings():
    return {
        "fixture": two(fixture("rec_ratings.csv"), fixture("rec_items.csv")),
        "movielens": two(b"userId,movieId,rating,timestamp\n1,10,4.5,964982703\n2,10,3,964982704\n",
                         b'movieId,title,genres\n10,"GoldenEye, (1995)",Action|Adventure\n'),
        "implicit": two(b"user,item\n1,2\n1,3\n", b"2,A\n3,B\n"),
        "nan_rating": two(b"user,item,rating\n1,2,nan\n1,3,inf\n", b""),
        "huge_ids": two(b"user,item,rating\n99999999999999999999,1,1\n-5,1,1\n", b"1,x\n"),
        "duplicates": two(b"user,item,rating\n" + b"1,1,5\n" * 200, b"1,one\n"),
    }


def seeds_wordpiece():
    return {
        "fixture": fixture("bpe/wp_vocab.txt"),
        "bert_like": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n,\n!\n##s\n##ing\nna\n##ive\ncafe\n東\n京\na\n##a\n".encode(),
        "no_unk": b"hello\nworld\n",
        "crlf_dupes": b"[UNK]\r\nhello\r\nhello\r\n\r\n",
    }


def seeds_sentencepiece():
    import sentencepiece as spm
    text = ("the quick brown fox jumps over the lazy dog\n" "a stitch in time saves nine\n" "naive cafe tokyo 東京 hello world\n") * 20
    out = {}
    tmp = tempfile.mkdtemp()
    try:
        corpus = os.path.join(tmp, "c.txt")
        with open(corpus, "w") as f:
            f.write(text)
        for kind, size in [("unigram", 40), ("bpe", 40), ("char", 40), ("word", 30)]:
            prefix = os.path.join(tmp, kind)
            spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=size, model_type=kind,
                                           character_coverage=1.0, minloglevel=2, hard_vocab_limit=False,
                                           normalization_rule_name="identity")
            with open(prefix + ".model", "rb") as f:
                out[kind] = f.read()
    finally:
        shutil.rmtree(tmp)
    out["truncated"] = out["bpe"][: len(out["bpe"]) // 2]
    out["text_not_proto"] = b"hello\nworld\n"
    return out


def seeds_tokenizer_json():
    return {
        "bpe": fixture("bpe/tokenizer.json"),
        "wordpiece": fixture("bpe/wp_tokenizer.json"),
        "gpt2_pair": two(fixture("bpe/vocab.json"), fixture("bpe/merges.txt")),
        "unigram_small": json.dumps({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["▁a", -1.0], ["b", -2.0], ["▁", -3.0]]},
                                     "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Metaspace"},
                                     "added_tokens": [{"id": 0, "content": "<unk>", "special": True}]}).encode(),
        "bpe_bad_merge": json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b", "c"]},
                                     "pre_tokenizer": {"type": "ByteLevel"}}).encode(),
    }


def seeds_session():
    s = {}
    for name in sorted(os.listdir(os.path.join(ROOT, "resources", "sessions"))):
        with open(os.path.join(ROOT, "resources", "sessions", name), "rb") as f:
            s[os.path.splitext(name)[0]] = f.read()
    # issue 22's reproducers: composer columns without their fields
    s["column_no_params"] = json.dumps({"pellucid_session": 1, "composer": {"rows": ["a.png"], "columns": [{"kind": "attribution"}]}}).encode()
    s["column_no_layer"] = json.dumps({"pellucid_session": 1, "composer": {"rows": ["a.png"], "columns": [{"kind": "activation"}]}}).encode()
    s["steps_huge"] = json.dumps({"pellucid_session": 1, "attribution": {"method": "ig", "steps": 100000}}).encode()
    s["newer"] = b'{"pellucid_session": 99}'
    return s


def seeds_onnx():
    import onnx
    from onnx import helper, TensorProto
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    relu = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                              helper.make_node("Mul", ["r", "w"], ["y"], name="scale")], "g", [x], [y], [w])
    model = helper.make_model(relu, producer_name="seeds", opset_imports=[helper.make_opsetid("", 13)])
    model.metadata_props.add(key="pellucid.json", value='{"task": "classification"}')
    tiny = model.SerializeToString()
    symbolic = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
                                                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])]))
    densenet = fixture("onnx/densenet_op13.onnx")
    return {"tiny": tiny, "symbolic": symbolic.SerializeToString(), "densenet": densenet, "densenet_prefix": densenet[:5000],
            "varint_overrun": b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "length_overrun": b"\x3a\xff\xff\xff\xff\x0f",
            "group_wire": b"\x0b\x0c", "no_graph": b"\x08\x07"}


def main():
    makers = {name[len("seeds_"):]: fn for name, fn in globals().items() if name.startswith("seeds_")}
    total = 0
    for harness, fn in sorted(makers.items()):
        d = os.path.join(OUT, harness)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in fn().items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += len(data)
        print(f"{harness}: {len(os.listdir(d))} seeds")
    print(f"{total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
