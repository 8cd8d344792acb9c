#!/usr/bin/env python3
"""Converts a Hugging Face model folder, GGUF file or Hub id to Core ML packages for the Apple
Neural Engine, through the `anec` Python package (`pip install .` at the repository root):

    python scripts/convert_model.py --model PATH --output DIR --context 1024 --batch-size 64 \\
        --chunks 2 --lut 6 [--architecture A] [--skip-check] [--restart N]

The same conversion as `anec convert` with the same flags (the less common ones: `anec convert
--help`). On failure it prints the error and exits with status 2, as `anec` does.
"""
import argparse
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Convert a model to Core ML packages for the Apple Neural Engine (anec).")
    p.add_argument("--model", "--model-id", required=True,
                   help="Hugging Face model folder, GGUF file, or a Hub id")
    p.add_argument("--output", "--output-dir", required=True, help="Output folder")
    p.add_argument("--context", "--context-length", type=int, default=1024,
                   help="Context length (KV cache rows); default 1024")
    p.add_argument("--batch-size", "--batch", type=int, default=64,
                   help="Prefill batch size; default 64")
    p.add_argument("--chunks", "--num-chunks", default="auto",
                   help="FFN chunks: a number, or auto (default)")
    p.add_argument("--lut", "--lut-bits", default="6",
                   help="LUT bits for FFN and LM head (1, 2, 3, 4, 6, 8), none, or auto; default 6")
    p.add_argument("--architecture", help="Override the detected architecture")
    p.add_argument("--skip-check", action="store_true",
                   help="Skip the up-front input, disk and xcrun checks")
    p.add_argument("--restart", type=int, default=1,
                   help="Resume from step N (1-8), reusing earlier outputs")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import anec
    except ImportError as e:
        print(f"convert_model.py: error: the anec package is not installed ({e}); run "
              "`pip install .` at the repository root (docs/PYTHON.md)", file=sys.stderr)
        return 2
    try:
        anec.convert(args.model, args.output, context=args.context, batch_size=args.batch_size,
                     chunks=args.chunks, lut=args.lut, architecture=args.architecture,
                     skip_check=args.skip_check, restart=args.restart)
    except anec.Error as e:
        print(f"convert_model.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convert_model.py: interrupted; --restart N resumes from step N", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
