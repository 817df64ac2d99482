"""What a run computes on, in words: the CPU's model and cores (from /proc/cpuinfo), the GPUs' names, and
the one line every run starts with (`Training on CPU (AMD EPYC 9B14, 2 cores), mixed_bfloat16, TensorFlow
2.21, Keras 3.15`). Reads no framework: each backend says which devices it uses."""

from __future__ import annotations

import os
import platform
import re
from collections import Counter
from dataclasses import dataclass


def cpu_model() -> str:
    """The CPU's model name ('AMD EPYC 9B14'), from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return _short_cpu(line.split(":", 1)[1])
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _short_cpu(raw: str) -> str:
    """'AMD EPYC 9B14 96-Core Processor' -> 'AMD EPYC 9B14'; '(R)', '(TM)' and 'CPU @ 2.20GHz' dropped."""
    text = re.sub(r"\((R|TM|tm|r)\)", "", raw)
    text = re.sub(r"\s+(CPU\s+)?@.*$", "", text)
    text = re.sub(r"\s+\d+-Core Processor$|\s+Processor$|\s+CPU$", "", text.strip())
    return " ".join(text.split())


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX's bfloat16 tiles (Intel Xeon from Sapphire Rapids on)."""
    return "amx_bf16" in cpu_flags()


def cpu_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Devices:
    """The devices a run computes on: `gpus` (their names, one per device used), else `cpus` logical CPU
    devices of this machine's CPU."""

    gpus: tuple[str, ...] = ()
    cpus: int = 1

    def describe(self) -> str:
        """'CPU (AMD EPYC 9B14, 2 cores)', '2 CPU devices (...)', 'GPU (NVIDIA H100 80GB HBM3)', '2 GPUs (...)'."""
        if self.gpus:
            names = ", ".join(n if c == 1 else f"{c} x {n}" for n, c in Counter(self.gpus).items())
            return f"GPU ({names})" if len(self.gpus) == 1 else f"{len(self.gpus)} GPUs ({names})"
        cores = cpu_cores()
        what = f"{cpu_model()}, {cores} core{'s' if cores != 1 else ''}"
        return f"CPU ({what})" if self.cpus <= 1 else f"{self.cpus} CPU devices ({what})"


def gpu_policy(major: int) -> str:
    """The mixed policy for a GPU of compute capability `major`.x: bf16 from 8.0, fp16 on 7.x, else float32."""
    return "mixed_bfloat16" if major >= 8 else "mixed_float16" if major >= 7 else "float32"


def short_version(version: str) -> str:
    """'2.21.0' -> '2.21'; '2.13.0+cpu' -> '2.13'."""
    parts = re.split(r"[.+]", version)
    return ".".join(parts[:2]) if len(parts) >= 2 else version


def start_line(devices: Devices, policy: str, label: str, version: str, keras_version: str) -> str:
    """The line a run starts with: device(s), precision, backend and versions."""
    return (f"Training on {devices.describe()}, {policy}, {label} {short_version(version)}, "
            f"Keras {short_version(keras_version)}")
