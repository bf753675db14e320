"""The core must run without Textual: only birdtui.tui may import it."""

import subprocess
import sys

CORE_MODULES = [
    "birdtui.cli",
    "birdtui.config",
    "birdtui.metrics",
    "birdtui.runs",
    "birdtui.train",
    "birdtui.export",
    "birdtui.demo_data",
]


def test_core_modules_import_no_textual():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core imported Textual modules: {result.stdout.strip()}"
