"""Claims of the chapter "Depth, measured" (notebooks/01b_depth.ipynb)."""

from . import Runs, claim, final_train_error

FAR = 0.10  # "far above": more than ten points of training error, and resolved


@claim("01b_depth", "Over three seeds our Plain-56 ends far above Plain-20")
def plain_degrades(runs: Runs) -> bool:
    gap = runs.difference("side-plain56", "side-plain20", final_train_error)
    return gap.a.n == gap.b.n == 3 and gap.resolved and gap.delta > FAR
