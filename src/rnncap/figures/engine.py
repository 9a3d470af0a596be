"""A papermill engine whose kernels talk over Unix sockets instead of TCP ports.

Why: Jupyter picks a kernel's five TCP ports in the papermill process by binding port 0
and closing it again; the kernel binds them a moment later. When several notebooks start
at once (Snakemake runs the figure rules in parallel, the tests start all six together),
another process can take one of those ports in between, and the kernel dies with
``ZMQError: Address already in use`` ("Kernel died before replying to kernel_info";
jupyter/jupyter_client#154, #487). Unix sockets under a name unique to each kernel cannot
collide. The workflow selects this engine with ``papermill --engine rnncap``
(registered in pyproject.toml under ``papermill.engine``).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine
from traitlets import default

class IPCKernelManager(AsyncKernelManager):
    """A kernel manager on IPC transport with a socket prefix no other kernel shares."""

    @default("transport")
    def _transport_default(self) -> str:
        return "tcp" if os.name == "nt" else "ipc"  # zmq has no ipc:// on Windows

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport != "ipc":
            return super()._ip_default()
        # sockets are <ip>-1 .. <ip>-5, removed at shutdown (cleanup_ipc_files); a short path in
        # the local temp dir because a Unix socket path is limited to ~107 bytes and may not live
        # on NFS (a cluster home's Jupyter runtime dir)
        return os.path.join(tempfile.gettempdir(), f"rnncap-kernel-{uuid.uuid4().hex[:12]}")


class IPCEngine(NBClientEngine):
    """papermill's default (nbclient) engine with :class:`IPCKernelManager` as the kernel manager."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("kernel_manager_class", IPCKernelManager)
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
