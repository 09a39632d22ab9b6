"""python -m training.recipes.tensorboard --path_prefix=/api/v1/… --run=NAME=URI [--run=…]

Serves TensorBoard on AIP_SERVE_HOST:AIP_SERVE_PORT (the local backend's serving port; 0.0.0.0:8080,
the serving port of Kubernetes manifests, elsewhere) under the platform's proxy path. file://
logs are read where they are; s3:// and obs:// logs are mirrored locally every RELOAD seconds."""

import argparse
import os
import sys
import threading

from training.recipes.llm_finetune.__main__ import hand_over, leave_the_platforms_code

RELOAD_SECONDS = 15


def mirror(locations, stop: threading.Event) -> None:
    while not stop.wait(RELOAD_SECONDS):
        for location in locations:
            try:
                location.pull()
            except Exception as exc:  # a log that is not there yet, or a passing outage: next round
                print(f"mirroring {location.uri}: {exc}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.recipes.tensorboard")
    parser.add_argument("--run", action="append", required=True, help="NAME=URI of a folder of event files")
    parser.add_argument("--path_prefix", default="")
    args = parser.parse_args(argv)
    from tensorboard import program

    from training.recipes.llm_finetune.storage import Storage, StorageProblem

    storage = Storage.from_env()
    runs, remote = [], []
    for item in args.run:
        name, _, uri = item.partition("=")
        location = storage.at(uri)
        if location.is_remote:
            try:
                location.pull()
            except StorageProblem:
                pass  # the job has not written events yet; the mirror picks them up
            remote.append(location)
        location.local.mkdir(parents=True, exist_ok=True)
        runs.append(f"{name}:{location.local}")
    if remote:
        threading.Thread(target=mirror, args=(remote, threading.Event()), daemon=True).start()
    board = program.TensorBoard()
    board.configure(argv=[None, "--logdir_spec", ",".join(runs), "--host", os.environ.get("AIP_SERVE_HOST", "0.0.0.0"),
                          "--port", os.environ.get("AIP_SERVE_PORT", "8080"), "--path_prefix", args.path_prefix,
                          "--reload_interval", "5"])
    print(f"TensorBoard over {len(runs)} run(s) at {args.path_prefix or '/'}", flush=True)
    board.main()


if __name__ == "__main__":
    hand_over("training.recipes.tensorboard")
    leave_the_platforms_code()
    main(sys.argv[1:])
