"""Fine-tuning: a generated dataset -> LoRA adapter -> merged model that passed the parity gate.

Heavy libraries (torch, transformers, trl, peft, unsloth) load only when a run starts.
"""

from __future__ import annotations

from factory.train.run import TrainError, TrainResult, train

__all__ = ["TrainError", "TrainResult", "train"]
