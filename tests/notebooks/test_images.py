"""The catalogue names only images the repository's Dockerfile builds, and that image starts the
same runtime module the local backend runs and the Deployment's command names."""

import json
from pathlib import Path

from dockerfile_parse import DockerfileParser

from notebooks.catalogue import IMAGES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "notebooks/runtime/Dockerfile"


def test_every_catalogue_image_is_built_by_the_notebook_dockerfile():
    text = DOCKERFILE.read_text()
    built = {line.split("-t ", 1)[1].split()[0] for line in text.splitlines() if line.startswith("#") and "-t " in line}
    assert {image.image for image in IMAGES.values()} == built


def test_the_notebook_image_runs_the_platforms_runtime():
    parser = DockerfileParser(path=str(DOCKERFILE))
    instructions = [i["instruction"] for i in parser.structure if i["instruction"] != "COMMENT"]
    assert instructions[:2] == ["ARG", "FROM"] and "USER" in instructions
    assert json.loads(parser.structure[-1]["value"]) == ["python", "-m", "notebooks.runtime.lab"]
    assert parser.envs["PYTHONPATH"] == "/opt/aiplatform"
    copied = [source for i in parser.structure if i["instruction"] == "COPY" for source in i["value"].split()[:-1]]
    for source in copied:
        assert (ROOT / source).exists(), source
    assert "requirements-notebook.txt" in copied and "notebooks/runtime/lab.py" in copied
