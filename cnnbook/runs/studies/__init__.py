"""The book's studies, one file each, registered (:mod:`.registry`) in the order of the imports
below, which is the order ``reproduce`` trains them in. A new study is a file here and its import."""

from .registry import RunSpec, Study, get_study, list_studies, register_study, run_folder

# isort: off
from . import chapter, side, transfer, aux, source  # noqa: F401, E402  (register the book's studies)
# isort: on

__all__ = ["RunSpec", "Study", "get_study", "list_studies", "register_study", "run_folder"]
