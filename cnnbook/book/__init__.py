"""The book layer: what a chapter does (``chapter``), its figures (``viz``) and re-running a chapter
over settings (``sweep``). Only this layer imports matplotlib."""
