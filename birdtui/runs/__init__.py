"""The runs folder: run directories, state files, the supervisor, launch and kill.

Nothing here imports Textual; the UI and the headless CLI share this API.
"""

from birdtui.runs.control import adopt, ensure_supervisor, supervisor_running
from birdtui.runs.gpu import GpuInfo, GpuReport, gpu_report, gpu_status, no_gpu_reason
from birdtui.runs.kill import kill
from birdtui.runs.launch import launch, resume, resume_or_launch
from birdtui.runs.state import ENDED_STATUSES, RESUMABLE_STATUSES, STATUSES, RunState
from birdtui.runs.store import RunInfo, RunStore, StoreProblem
from birdtui.runs.summary import RunSummary, summarize_run

__all__ = [
    "ENDED_STATUSES",
    "GpuInfo",
    "GpuReport",
    "RESUMABLE_STATUSES",
    "RunInfo",
    "RunState",
    "RunSummary",
    "RunStore",
    "STATUSES",
    "StoreProblem",
    "adopt",
    "ensure_supervisor",
    "gpu_report",
    "gpu_status",
    "kill",
    "launch",
    "no_gpu_reason",
    "resume",
    "resume_or_launch",
    "summarize_run",
    "supervisor_running",
]
