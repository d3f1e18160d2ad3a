"""Training batches on their way from the data to the model's device.

:class:`BatchFeed` is the one way the training loop gets a batch (nanoGPT's ``get_batch``):
``feed.batch(idx)`` gives rows ``idx`` as a tensor on the model's device. Behind it, what the
rows declare decides how: rows held in memory are one tensor, on the device when it has room
(batches are then index slices there, no copy per step); rows read on demand are read ahead in
threads (or in a user Dataset's worker processes) while the current batch trains; rows on the
host bound for a GPU go through page-locked buffers. Reads are pure functions of the row
indices, so none of this changes a single weight.
"""

from __future__ import annotations

import collections
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .stream import RowSource

# Threads that read rows ahead of training: os.pread releases the GIL, so reads overlap compute.
READ_THREADS = 2


def resident(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """``tensor`` on ``device`` when it takes at most half of the device's free memory; else
    left on the CPU (and copied a batch at a time)."""
    if tensor is None or device.type == "cpu":
        return tensor
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if tensor.numel() * tensor.element_size() > free // 2:
            return tensor
    return tensor.to(device)


def host_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``array``'s memory. Read-only arrays (memory-mapped files, some pandas
    views) are fine: aekit never writes to its inputs, so torch's warning does not apply."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


class BatchFeed:
    """Rows of ``rows`` as tensors on ``device``, one training or evaluation batch at a time."""

    def __init__(self, rows: RowSource, device: torch.device, batch_size: int):
        self.rows, self.device = rows, device
        self.tensor = resident(host_tensor(rows.array), device) if rows.in_memory else None
        on_host = self.tensor is None or self.tensor.device.type == "cpu"
        self.staging = PinnedStaging(rows, batch_size, device) if on_host and device.type == "cuda" else None
        self.reader: ReadAhead | None = None

    @property
    def index_device(self) -> torch.device:
        """Where row indices go: beside the rows (index_select on the device, for resident rows)."""
        return self.tensor.device if self.tensor is not None else torch.device("cpu")

    def start_epoch(self, batches: list[torch.Tensor]) -> None:
        """Announce the row indices of the epoch's batches, in order: rows read on demand are
        then read ahead while earlier batches train."""
        if self.tensor is None:
            self.reader = ReadAhead(self.rows, [idx.numpy() for idx in batches])

    def next(self, idx: torch.Tensor) -> torch.Tensor:
        """The epoch's next batch (rows ``idx``, as announced), on the device."""
        if self.reader is None:
            return self.staging.copy(self.tensor, self.rows, idx) if self.staging else self.gather(idx)
        rows = self.reader.next()
        if self.staging is not None:
            return self.staging.put(rows)
        return torch.from_numpy(rows).to(self.device, non_blocking=True)

    def end_epoch(self) -> float:
        """Stop reading ahead; the seconds training waited for rows this epoch."""
        reader, self.reader = self.reader, None
        return 0.0 if reader is None else reader.close()

    @property
    def waited(self) -> float:
        return 0.0 if self.reader is None else self.reader.waited

    def gather(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (any number) on the device, read now."""
        if self.tensor is not None:
            # index_select, not X[idx]: advanced indexing's generic kernel is ~10x slower here.
            return self.tensor.index_select(0, idx).to(self.device, non_blocking=True)
        return torch.from_numpy(self.rows.take(idx.numpy())).to(self.device, non_blocking=True)


class ReadAhead:
    """The rows of an epoch's coming batches, read in threads while the current batch trains.

    A source whose reads are not thread-safe (a user's Dataset) is read in the training thread,
    or in its own worker processes when it asked for them (``workers``)."""

    def __init__(self, rows: RowSource, batches: list[np.ndarray], ahead: int = 4):
        self.rows, self.batches = rows, iter(batches)
        threads = READ_THREADS if rows.thread_safe else 0
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="aekit-read") if threads else None
        self.pending: collections.deque = collections.deque()
        self.waited = 0.0
        self.loader = None
        if rows.workers > 0:
            # Its own generator: a DataLoader seeds its workers from the global RNG otherwise,
            # which would shift the run's noise.
            self.loader = iter(torch.utils.data.DataLoader(
                _Batches(rows, batches), batch_size=None, num_workers=rows.workers, prefetch_factor=2,
                collate_fn=_as_they_are, generator=torch.Generator().manual_seed(0)))
        for _ in range(ahead if self.pool else 0):
            self._submit()

    def _submit(self) -> None:
        batch = next(self.batches, None)
        if batch is not None:
            self.pending.append(self.pool.submit(self.rows.take, batch))

    def next(self) -> np.ndarray:
        start = time.perf_counter()
        if self.loader is not None:
            rows = next(self.loader)
        elif self.pool is None:
            rows = self.rows.take(next(self.batches))
        else:
            rows = self.pending.popleft().result()
            self._submit()
        self.waited += time.perf_counter() - start
        return rows

    def close(self) -> float:
        """Stop reading; the seconds training waited for rows."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
        self.loader = None  # its worker processes end with it
        return self.waited


class _Batches(torch.utils.data.Dataset):
    """Batch i of an epoch, read by a DataLoader worker."""

    def __init__(self, rows: RowSource, batches: list[np.ndarray]):
        self.rows, self.batches = rows, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.rows.take(self.batches[i])


def _as_they_are(rows):
    return rows  # the workers' arrays as they are (torch's default would make tensors)


class PinnedStaging:
    """Batches of host data on their way to a GPU: gathered into page-locked buffers and copied
    without making the host wait, so the host gathers the next batch while the GPU computes.

    Two buffers take turns; an event recorded after each copy keeps a buffer from being
    refilled before the GPU has read it. (Data that fits on the GPU never comes here.)"""

    def __init__(self, rows: RowSource, batch_size: int, device: torch.device):
        shape = (batch_size, *rows.sample_shape)
        dtype = torch.from_numpy(np.empty(0, rows.dtype)).dtype
        self.buffers = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in range(2)]
        self.copied = [None, None]
        self.device, self.turn = device, 0

    def copy(self, tensor: torch.Tensor | None, rows: RowSource, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (of the host ``tensor`` when the rows are in memory) on the GPU."""
        if tensor is None:
            return self.put(rows.take(idx.numpy()))
        torch.index_select(tensor, 0, idx, out=self._free()[:len(idx)])
        return self._send(len(idx))

    def put(self, rows: np.ndarray) -> torch.Tensor:
        """Rows already read, on the GPU."""
        self._free()[:len(rows)].numpy()[...] = rows
        return self._send(len(rows))

    def _free(self) -> torch.Tensor:
        """This turn's buffer, once the GPU has finished reading its previous batch."""
        if self.copied[self.turn] is not None:
            self.copied[self.turn].synchronize()
        return self.buffers[self.turn]

    def _send(self, n: int) -> torch.Tensor:
        on_device = self.buffers[self.turn][:n].to(self.device, non_blocking=True)
        self.copied[self.turn] = torch.cuda.Event()
        self.copied[self.turn].record(torch.cuda.current_stream(self.device))
        self.turn = 1 - self.turn
        return on_device
