"""The Qt front end: the only package that imports PyQt5 and pyqtgraph."""
