"""anec from Python: convert Hugging Face / GGUF language models to Core ML packages for the
Apple Neural Engine, and run converted folders on the CPU runtime (Linux or macOS).

    import anec
    anec.convert("SmolLM2-135M-Instruct.Q4_1.gguf", "out", context=512, chunks=1, lut=6)
    model = anec.Model("out")
    for piece in model.generate("What is the capital of France?", temperature=0):
        print(piece, end="", flush=True)

Everything runs in the C++ core (the `anec` command's own code): the same options, the same
progress lines on stderr, and the same error messages, raised as :class:`anec.Error`. Long calls
release the GIL. See docs/PYTHON.md.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _anec

__all__ = ["Error", "convert", "Model", "Generation", "MLModel", "State", "FunctionDescription"]
__version__ = "0.1.0"

#: Raised for every failure of the C++ core: ``str(e)`` is the message ``anec`` prints after
#: ``anec: error:``, ``e.code`` its kind ("InvalidArgument", "NotFound", ...). A RuntimeError.
Error = _anec.Error

#: State buffers (the KV cache) of stateful functions, as Core ML's ``MLState``: made by
#: ``make_state()``, passed to ``predict(..., state=...)``; ``names`` and ``read(name)`` show
#: the buffers as numpy arrays.
State = _anec.State

PathLike = Union[str, "os.PathLike[str]"]
Bits = Union[int, str, None]

#: describe(): {"inputs": [(name, dtype, shape)], "states": [...], "outputs": [name, ...]},
#: dtypes in MIL spelling ("fp16", "int32"), -1 for a dimension of unknown size.
FunctionDescription = Dict[str, List[Any]]

_NUMPY_DTYPES = {
    "bool": np.bool_, "fp16": np.float16, "fp32": np.float32, "fp64": np.float64,
    "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
    "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
}


def _bits(flag: str, value: Bits, absent: str = "") -> str:
    """A LUT flag's text: None -> `absent`, 0 -> "none", ints and words as given."""
    if value is None:
        return absent
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{flag}: expected a number of bits, 'none' or 'auto', got {value!r}")
    return str(value)


def convert(
    model: PathLike,
    output: PathLike,
    *,
    context: int = 1024,
    batch_size: int = 64,
    chunks: Union[int, str] = "auto",
    lut: Bits = 6,
    lut_embed: Bits = None,
    lut_ffn: Bits = None,
    lut_lmhead: Bits = None,
    lut_group: int = 8,
    lut_row_scale: bool = False,
    lut_bits_budget: Optional[float] = None,
    architecture: Optional[str] = None,
    restart: int = 1,
    only: Optional[int] = None,
    skip_check: bool = False,
    prefix: Optional[str] = None,
    target: str = "ios",
    max_file_mb: Optional[float] = None,
    preserve_quant: bool = False,
    no_preserve_quant: bool = False,
    kv_cache: str = "shared",
    argmax: bool = False,
    calibration: Optional[str] = None,
    calibration_tokens: int = 1024,
    calibration_damping: float = 0.01,
    sensitivity_tokens: int = 0,
    lut_tune_rounds: int = 0,
    mlp_order: str = "range",
    residual_scale: Optional[float] = None,
) -> str:
    """Converts a model as ``anec convert`` does; returns the output folder.

    Each keyword is the flag of the same name (``batch_size`` is ``--batch-size``), with the
    same default and the same checks. ``model`` is a Hugging Face folder, a GGUF file or a Hub
    id. ``lut``: bits for the FFN and LM head (1, 2, 3, 4, 6, 8), ``"auto"`` (with
    ``lut_bits_budget``), or ``None`` / ``0`` / ``"none"`` for fp16. ``lut_embed``, ``lut_ffn``
    and ``lut_lmhead`` override one part (``None``: not given; ``0`` or ``"none"``: fp16).
    ``chunks``: a count or ``"auto"``. ``restart=N`` resumes from step N, ``only=N`` runs one
    step.

    The plan, progress (with rate and ETA) and the closing report are printed on the process's
    stderr, as by the command. The GIL is released while converting; Ctrl-C stops the run after
    the package being written (KeyboardInterrupt; ``restart=N`` resumes).

    Raises:
        anec.Error: with the message ``anec convert`` prints for the same options.
    """
    f = _anec.ConvertFlags()
    f.model = os.fspath(model)
    f.output = os.fspath(output)
    f.context = context
    f.batch = batch_size
    f.chunks = str(chunks)
    f.lut = _bits("lut", lut, absent="none")
    f.lut_embed = _bits("lut_embed", lut_embed)
    f.lut_ffn = _bits("lut_ffn", lut_ffn)
    f.lut_lmhead = _bits("lut_lmhead", lut_lmhead)
    f.lut_group = lut_group
    f.lut_row_scale = lut_row_scale
    f.lut_bits_budget = 0.0 if lut_bits_budget is None else float(lut_bits_budget)
    f.architecture = architecture or ""
    f.restart = restart
    f.only = only or 0
    f.skip_check = skip_check
    f.prefix = prefix or ""
    f.target = target
    f.max_file_mb = 0.0 if max_file_mb is None else float(max_file_mb)
    f.preserve_quant = preserve_quant
    f.no_preserve_quant = no_preserve_quant
    f.kv_cache = kv_cache
    f.argmax = argmax
    f.calibration = calibration or ""
    f.calibration_tokens = calibration_tokens
    f.calibration_damping = calibration_damping
    f.sensitivity_tokens = sensitivity_tokens
    f.lut_tune_rounds = lut_tune_rounds
    f.mlp_order = mlp_order
    f.residual_scale = 0.0 if residual_scale is None else float(residual_scale)
    _anec.convert(f)
    return f.output


class Generation(Iterator[str]):
    """Text pieces of one reply, streamed as the model produces them (each piece ends on a whole
    character). Generation runs on a worker thread; iterating waits for it without holding the
    GIL, and Ctrl-C while waiting raises KeyboardInterrupt and stops it. ``close()`` (or leaving
    a ``with`` block) stops generation after the current token."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> "Generation":
        return self

    def __next__(self) -> str:
        return self._stream.__next__()

    def text(self) -> str:
        """The rest of the reply, waiting for the end."""
        return "".join(self)

    def close(self) -> None:
        """Stops generation (after the current token) and waits for the worker."""
        self._stream.close()

    @property
    def stats(self) -> Optional[Dict[str, Any]]:
        """Once every piece was taken: prompt_tokens, prefilled_tokens, generated_tokens,
        time_to_first_token_s, prefill_tokens_per_s, decode_tokens_per_s, context_shifts,
        stopped_by_token (the figures ``anec run`` prints). None before."""
        return self._stream.stats

    def __enter__(self) -> "Generation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _numpy_inputs(describe: FunctionDescription, inputs: Mapping[str, Any]) -> Dict[str, Any]:
    """Each input as a C-contiguous array of its declared dtype (Core ML converts the same way);
    names the function does not declare pass unchanged, for the runtime to report."""
    declared = {name: dtype for name, dtype, _ in describe["inputs"]}
    out = {}
    for name, value in inputs.items():
        dtype = _NUMPY_DTYPES.get(declared.get(name, ""))
        out[name] = np.ascontiguousarray(value, dtype=dtype)
    return out


class Model:
    """A folder written by ``anec convert`` (or ANEMLL), run on anec's CPU runtime: what
    ``anec run --model-path`` opens.

    ``generate``/``chat`` share one KV cache (calls run one at a time); ``predict`` runs the
    folder's packages separately, with the states you pass, as coremltools' ``MLModel`` does on
    a Mac.

    Raises:
        anec.Error: the folder cannot be opened (the message ``anec run`` prints).
    """

    def __init__(self, path: PathLike) -> None:
        self._m = _anec.Model.open(os.fspath(path))
        self._described: Dict[str, FunctionDescription] = {}

    @property
    def path(self) -> str:
        return self._m.path

    @property
    def context_length(self) -> int:
        return self._m.context_length

    @property
    def batch_size(self) -> int:
        """Tokens per ``prefill`` call."""
        return self._m.batch_size

    @property
    def vocab_size(self) -> int:
        return self._m.vocab_size

    @property
    def architecture(self) -> str:
        return self._m.architecture

    def encode(self, text: str, add_special_tokens: bool = False) -> List[int]:
        """Token ids of `text` with the folder's tokenizer."""
        return self._m.encode(text, add_special_tokens)

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        return self._m.decode(list(ids), skip_special)

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.9,
        top_k: int = 0,
        seed: Optional[int] = None,
        system: str = "",
        template: bool = True,
    ) -> Generation:
        """Replies to `prompt` as ``anec run --prompt`` does (same defaults): through the chat
        template unless ``template=False``, with an optional system prompt. ``temperature=0`` is
        greedy; ``seed=None`` draws a random seed. Returns a streaming iterator of text pieces.

        Raises:
            anec.Error: invalid options (``anec run``'s messages) or a failing template; errors
            during generation are raised by the iterator.
        """
        return Generation(self._m.generate(prompt, system, template, max_tokens, temperature,
                                           top_p, top_k, -1 if seed is None else seed))

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        top_p: float = 0.9,
        top_k: int = 0,
        seed: Optional[int] = None,
    ) -> Generation:
        """The assistant's next reply to `messages` ([{"role": "system"|"user"|"assistant",
        "content": str}, ...], other fields passed to the template as transformers does),
        rendered with the folder's chat template. Defaults as ``anec chat``. Returns a streaming
        iterator of text pieces.

        Raises:
            anec.Error: the folder has no chat template, or the template rejects the messages.
        """
        return Generation(self._m.chat(json.dumps(list(messages)), max_tokens, temperature, top_p,
                                       top_k, -1 if seed is None else seed))

    def perplexity(self, text: str, *, max_tokens: Optional[int] = None,
                   window: Optional[int] = None) -> float:
        """Perplexity of `text` as ``anec perplexity`` computes it: non-overlapping windows
        (``window`` tokens, default the context length), each from an empty cache;
        ``max_tokens`` scores only the first tokens."""
        return self._m.perplexity(text, max_tokens or 0, window or 0)

    def score(self, text: str, *, max_tokens: Optional[int] = None,
              window: Optional[int] = None, reference: Optional["Model"] = None) -> Dict[str, Any]:
        """Per-position scores of `text`, what ``anec perplexity --json`` writes: "tokens",
        "positions", "top1", "nll" (lists), "window", "perplexity". With ``reference`` (e.g. the
        fp16 conversion of the same checkpoint, as ``--reference-model``) both models run over
        the same windows and the dict also holds "kl" (KL(reference || self) per position, in
        nats), "reference_top1", "mean_kl" and "top1_agreement". Both models' runtimes are busy
        meanwhile; ``reference`` may be this model.

        Raises:
            anec.Error: the CLI's messages: too few tokens, a folder converted with ``--argmax``,
            a reference that tokenizes the text differently or has another vocabulary size.
        """
        return self._m.score(text, max_tokens or 0, window or 0,
                             None if reference is None else reference._m)

    @property
    def functions(self) -> List[str]:
        """The functions ``predict`` runs: "embeddings", "ffn1.infer", "ffn1.prefill", ...,
        "lm_head" (chunk numbers from 1; a package with one function gives its base name)."""
        return self._m.functions

    def describe(self, function: str) -> FunctionDescription:
        """Inputs, states and outputs of `function` as its package declares them."""
        if function not in self._described:
            self._described[function] = self._m.describe(function)
        return self._described[function]

    def make_state(self) -> State:
        """Zeroed buffers for every state of the folder's functions (one KV cache shared by the
        chunks, or one per chunk), as ``MLModel.make_state()``."""
        return self._m.make_state()

    def predict(self, function: str, inputs: Mapping[str, Any],
                state: Optional[State] = None) -> Dict[str, np.ndarray]:
        """Runs one function of the folder on the CPU runtime, as ``MLModel.predict(inputs,
        state)`` on a Mac: inputs are converted to the declared dtypes; outputs come back as
        numpy arrays of the declared dtypes (fp16 as float16). The GIL is released meanwhile.

        Raises:
            anec.Error: unknown function, missing or mis-shaped input, state needed but not
            given (the runtime's messages).
        """
        return self._m.predict(function, _numpy_inputs(self.describe(function), inputs), state)


class MLModel:
    """One ``.mlpackage`` on the CPU runtime with the part of coremltools' ``MLModel`` API that
    ANEMLL-style code uses: ``MLModel(path, function_name=...)``, ``predict(data, state)``,
    ``make_state()``. coremltools' other keyword options (``compute_units``, ...) are accepted
    and ignored: there is one device, the CPU.
    """

    def __init__(self, model: PathLike, function_name: Optional[str] = None,
                 **coremltools_options: Any) -> None:
        del coremltools_options  # no device choice on the CPU runtime
        self._p = _anec.Package.open(os.fspath(model))
        name = function_name or self._p.default_function
        if not name:
            error = Error(f"{self._p.name}: several functions ({', '.join(self._p.functions)}) "
                          "and no default; pass function_name=")
            error.code = "InvalidArgument"
            raise error
        self.function_name: str = name
        self._describe: FunctionDescription = self._p.describe(name)

    @property
    def functions(self) -> List[str]:
        return self._p.functions

    def describe(self) -> FunctionDescription:
        return self._describe

    def make_state(self) -> State:
        """Zeroed buffers for every state the package's functions declare."""
        return self._p.make_state()

    def predict(self, data: Mapping[str, Any],
                state: Optional[State] = None) -> Dict[str, np.ndarray]:
        """Runs the function; see :meth:`Model.predict`."""
        return self._p.predict(self.function_name, _numpy_inputs(self._describe, data), state)
