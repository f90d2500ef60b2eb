"""Run by ``torchrun`` from test_distributed.py: teachers and a G²D student on 2 gloo ranks."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from g2d_lite.train import train_student, train_teacher
from tests.helpers import tiny_config, tiny_data


def main(out: Path) -> None:
    torch.set_num_threads(1)
    data = tiny_data()
    cfg = tiny_config(epochs=2, device="cpu")
    teachers = {m: train_teacher(cfg, data, m).model for m in data.info.modality_names}
    result = train_student(cfg, data, teachers, run_dir=out / "student")
    rank = dist.get_rank()
    torch.save(
        {"model": result.model.state_dict(), "steps": result.steps, "world": dist.get_world_size()},
        out / f"rank{rank}.pt",
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
