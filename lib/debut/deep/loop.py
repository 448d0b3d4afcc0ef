"""The distributed training loop, shared by the Horovod and TorchDistributor backends.

``horovod_train_fn`` and ``torch_distributor_train_fn`` are module-level (so
cloudpickle ships them by reference) and take one :class:`TrainJob`. Each
rank reads its Petastorm shard for exactly ``steps_per_epoch`` steps, the
validation loss is summed over ranks with one allreduce, rank 0 decides
early stopping and broadcasts the decision, and rank 0 returns the best
state_dict as bytes together with the per-epoch history.
"""
from __future__ import annotations

import gc
import io
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from debut.deep.conf import DeepConf
from debut.deep.data import open_loader
from debut.deep.tasks import get_task


@dataclass(frozen=True)
class TrainJob:
    """Everything a training process needs; picklable (converters are)."""
    task: str
    dims: Dict[str, int]
    deep: DeepConf
    train_converter: Any
    val_converter: Any
    steps_per_epoch: int
    val_steps: int
    result_path: Optional[str] = None      # torch_distributor: where rank 0 writes its result


# ------------------------------------------------------------------- backends
class Comm:
    """The few collective operations the loop needs."""
    rank = 0
    size = 1
    local_rank = 0
    local_size = 1

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> Tuple[nn.Module, torch.optim.Optimizer]:
        return model, optimizer

    def allreduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank."""
        t = torch.tensor([float(flag) if self.rank == 0 else 0.0], dtype=torch.float64)
        return bool(self.allreduce_sum(t).item() > 0.5)

    def close(self) -> None:
        pass


class HorovodComm(Comm):
    def __init__(self):
        import horovod.torch as hvd

        self.hvd = hvd
        hvd.init()
        self.rank, self.size = hvd.rank(), hvd.size()
        self.local_rank, self.local_size = hvd.local_rank(), hvd.local_size()
        self._n = 0

    def wrap(self, model, optimizer):
        hvd = self.hvd
        hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        optimizer = hvd.DistributedOptimizer(optimizer, named_parameters=model.named_parameters())
        hvd.broadcast_optimizer_state(optimizer, root_rank=0)
        return model, optimizer

    def allreduce_sum(self, t):
        self._n += 1
        return self.hvd.allreduce(t, op=self.hvd.Sum, name=f"debut.sum.{self._n}")

    def close(self):
        self.hvd.shutdown()


class TorchDistComm(Comm):
    """torch.distributed (Gloo on CPU, NCCL on GPU) as set up by torchrun / TorchDistributor."""

    def __init__(self):
        import torch.distributed as dist

        self.dist = dist
        self._owns = not dist.is_initialized()
        if self._owns:
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.local_size = int(os.environ.get("LOCAL_WORLD_SIZE", self.size))

    def wrap(self, model, optimizer):
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.local_rank] if torch.cuda.is_available() else None
        return DDP(model, device_ids=ids), optimizer   # DDP broadcasts rank 0's parameters

    def allreduce_sum(self, t):
        if torch.cuda.is_available():
            t = t.cuda(self.local_rank)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.SUM)
        return t.cpu()

    def close(self):
        if self._owns and self.dist.is_initialized():
            self.dist.destroy_process_group()


# ----------------------------------------------------------------------- loop
def _device(comm: Comm) -> torch.device:
    if torch.cuda.is_available():
        torch.cuda.set_device(comm.local_rank)
        return torch.device("cuda", comm.local_rank)
    return torch.device("cpu")


def _to(batch: Dict[str, Any], device: torch.device) -> Dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v).to(device, non_blocking=True) for k, v in batch.items()}


def state_bytes(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def load_state(model: nn.Module, data: bytes) -> nn.Module:
    model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    return model


def train_loop(comm: Comm, job: TrainJob) -> Dict[str, Any]:
    """Train on this rank's shard; same number of steps and same stop decision on every rank."""
    deep, task = job.deep, get_task(job.task)
    threads = deep.torch_threads or max(1, (os.cpu_count() or 1) // max(1, comm.local_size))
    torch.set_num_threads(threads)
    torch.manual_seed(deep.seed)
    device = _device(comm)

    model = task.build_model(job.dims, deep).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=deep.lr, weight_decay=deep.weight_decay)
    train_model, optimizer = comm.wrap(model, optimizer)

    history: List[Dict[str, float]] = []
    best_loss, best_epoch, best_state, bad_epochs = float("inf"), -1, None, 0
    train_cm = open_loader(job.train_converter, rank=comm.rank, size=comm.size, batch_size=deep.batch_size,
                           shuffle=True, seed=deep.seed, shuffle_buffer=deep.shuffle_buffer)
    val_cm = open_loader(job.val_converter, rank=comm.rank, size=comm.size, batch_size=deep.batch_size,
                         shuffle=False, seed=deep.seed)
    with train_cm as train_loader, val_cm as val_loader:
        train_iter, val_iter = iter(train_loader), iter(val_loader)
        for epoch in range(deep.epochs):
            t0 = time.perf_counter()
            train_model.train()
            loss_sum, rows = 0.0, 0
            for _ in range(job.steps_per_epoch):
                x, y = task.pack(_to(next(train_iter), device))
                optimizer.zero_grad()
                loss = task.loss(train_model, x, y, deep)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * x.shape[0]
                rows += x.shape[0]
            train_seconds = time.perf_counter() - t0
            model.eval()
            val_sum, val_rows = 0.0, 0
            with torch.no_grad():
                for _ in range(job.val_steps):
                    x, y = task.pack(_to(next(val_iter), device))
                    val_sum += float(task.loss(model, x, y, deep)) * x.shape[0]
                    val_rows += x.shape[0]
            sums = comm.allreduce_sum(torch.tensor([loss_sum, rows, val_sum, val_rows], dtype=torch.float64))
            train_loss = float(sums[0] / sums[1])
            val_loss = float(sums[2] / sums[3])
            improved = val_loss < best_loss - deep.min_delta
            if improved:
                best_loss, best_epoch, bad_epochs = val_loss, epoch, 0
                if comm.rank == 0:
                    best_state = state_bytes(model)
            else:
                bad_epochs += 1
            stop = comm.broadcast_flag(bad_epochs >= deep.patience)
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                            "epoch_seconds": time.perf_counter() - t0, "train_seconds": train_seconds,
                            "samples_per_second": float(sums[1]) / max(train_seconds, 1e-9)})
            if stop:
                break
    return {"rank": comm.rank, "size": comm.size, "history": history, "best_epoch": best_epoch,
            "best_val_loss": best_loss, "state_dict": best_state if comm.rank == 0 else None,
            "steps_per_epoch": job.steps_per_epoch, "val_steps": job.val_steps, "threads": threads}


Jobs = Union[TrainJob, Sequence[TrainJob]]


def train_jobs(comm: Comm, jobs: Jobs) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
    """One job's result, or each job's in turn (one launch of the processes trains several models)."""
    if isinstance(jobs, TrainJob):
        return train_loop(comm, jobs)
    out = []
    for job in jobs:
        t0 = time.perf_counter()
        result = train_loop(comm, job)
        result["seconds"] = time.perf_counter() - t0
        out.append(result)
        gc.collect()        # the previous model's loaders and tensors, before the next one's
    return out


def horovod_train_fn(jobs: Jobs) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
    """Entry point of every Horovod process (``horovod.spark.run``): one job or several in turn."""
    comm = HorovodComm()
    try:
        return train_jobs(comm, jobs)
    finally:
        comm.close()


def torch_distributor_train_fn(job: Jobs) -> Optional[Union[Dict[str, Any], List[Dict[str, Any]]]]:
    """Entry point of every TorchDistributor process (torchrun sets RANK/WORLD_SIZE).

    In local mode pyspark 3.5 lets *every* process write its return value to
    the same output file (the last one wins), so rank 0 also writes its result
    to ``job.result_path`` and the driver reads that.
    """
    comm = TorchDistComm()
    try:
        result = train_jobs(comm, job)
    finally:
        comm.close()
    result_path = job.result_path if isinstance(job, TrainJob) else (job[0].result_path if job else None)
    if comm.rank == 0 and result_path:
        import pickle

        tmp = result_path + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump(result, f)
        os.replace(tmp, result_path)
    return result
