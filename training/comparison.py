"""Run comparison and precision pre-check: two or more runs' series of one metric, aligned by step,
each compared with the first (the baseline): absolute difference, relative error, and the first
step where the relative error passes the tolerance. The verdict is the check a team makes when it
moves a job between GPU and NPU or changes precision ("the NPU run's loss stays within 2 % of the
GPU run's for 1,000 steps")."""

from dataclasses import dataclass

# Below this the baseline counts as zero and the difference is taken as it is.
TINY = 1e-12


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    series: dict[int, float]  # step → value


def relative_error(value: float, baseline: float) -> float:
    return abs(value - baseline) / max(abs(baseline), TINY)


def compare(runs: list[Run], *, tolerance: float) -> dict:
    """Each run against runs[0] on the steps both logged; `passed` when every run has common steps
    and none leaves the tolerance on any of them."""
    baseline = runs[0]
    results = []
    for run in runs[1:]:
        steps = sorted(set(baseline.series) & set(run.series))
        diffs = [abs(run.series[s] - baseline.series[s]) for s in steps]
        errors = [relative_error(run.series[s], baseline.series[s]) for s in steps]
        diverged = next((s for s, e in zip(steps, errors, strict=True) if e > tolerance), None)
        results.append({
            "job": run.id, "name": run.name, "common_steps": len(steps),
            "first_step": steps[0] if steps else None, "last_step": steps[-1] if steps else None,
            "max_abs_diff": max(diffs, default=None), "mean_abs_diff": sum(diffs) / len(diffs) if diffs else None,
            "max_relative_error": max(errors, default=None),
            "mean_relative_error": sum(errors) / len(errors) if errors else None,
            "first_divergent_step": diverged,
            "within_tolerance": bool(steps) and diverged is None,
        })
    steps = sorted(set().union(*(r.series for r in runs)))
    aligned = [{"step": s, "values": {r.id: r.series.get(s) for r in runs}} for s in steps]
    passed = all(r["within_tolerance"] for r in results)
    return {"baseline": baseline.id, "tolerance": tolerance, "passed": passed,
            "verdict": _verdict(baseline, results, tolerance, passed), "runs": results, "aligned": aligned}


def _verdict(baseline: Run, results: list[dict], tolerance: float, passed: bool) -> str:
    percent = f"{tolerance * 100:g} %"
    parts = []
    for r in results:
        if not r["common_steps"]:
            parts.append(f"{r['name']} shares no logged step with {baseline.name}")
        elif r["within_tolerance"]:
            parts.append(f"{r['name']} stays within {percent} of {baseline.name} over {r['common_steps']} steps "
                         f"({r['first_step']}–{r['last_step']}; largest relative error "
                         f"{r['max_relative_error'] * 100:.3g} %)")
        else:
            parts.append(f"{r['name']} diverges from {baseline.name} beyond {percent} first at step "
                         f"{r['first_divergent_step']} (largest relative error {r['max_relative_error'] * 100:.3g} % "
                         f"over {r['common_steps']} common steps)")
    return ("Pass: " if passed else "Fail: ") + "; ".join(parts) + "."
