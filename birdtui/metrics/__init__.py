"""The metrics log format shared by the training worker, the runs store and the UI."""

from birdtui.metrics.jsonl import decode_line, encode_record
from birdtui.metrics.tail import JsonlTailer, TailResult, read_records
from birdtui.metrics.writer import MetricsWriter

__all__ = ["JsonlTailer", "MetricsWriter", "TailResult", "decode_line", "encode_record", "read_records"]
