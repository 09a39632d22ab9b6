"""The notebook images the platform offers, per accelerator kind, with what each carries; a
notebook may also name an image of its own (`custom_image`) for a kind it declares."""

from dataclasses import dataclass

from resourcepools.models import AcceleratorKind


@dataclass(frozen=True)
class NotebookImage:
    name: str
    image: str
    accelerator_kind: str
    python: str
    framework: str
    driver: str

    def as_dict(self) -> dict:
        return {"name": self.name, "image": self.image, "accelerator_kind": self.accelerator_kind,
                "python": self.python, "framework": self.framework, "driver": self.driver}


REGISTRY = "swr.cn-southwest-2.myhuaweicloud.com/aiplatform"
IMAGES = {image.name: image for image in (
    NotebookImage("jupyterlab-cpu", f"{REGISTRY}/notebook-cpu:4.6.6", AcceleratorKind.NONE, "3.12",
                  "JupyterLab 4.6.6, NumPy, pandas", ""),
    NotebookImage("pytorch-cuda", f"{REGISTRY}/notebook-pytorch-cuda:2.13.0-cu128", AcceleratorKind.NVIDIA_GPU, "3.12",
                  "JupyterLab 4.6.6, PyTorch 2.13.0", "CUDA 12.8"),
    NotebookImage("mindspore-cann", f"{REGISTRY}/notebook-mindspore-cann:2.6.0-cann8.1", AcceleratorKind.ASCEND_NPU,
                  "3.11", "JupyterLab 4.6.6, MindSpore 2.6.0", "CANN 8.1"),
)}
