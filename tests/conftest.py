"""Test-wide set-up: Qt runs offscreen (set before any QApplication exists), and
settings go to a temporary folder, never to the user's own."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PyQt5")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="volview-test-config-")
