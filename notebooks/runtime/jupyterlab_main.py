"""JupyterLab's own entry point, run by the notebook environment's Python (no platform code
imported), with one change: the pages it serves carry no token. The platform's proxy adds the
token to every request it passes on, so the browser never needs it and the user never sees it."""

from jupyterlab import labapp

_initialize_handlers = labapp.LabApp.initialize_handlers


def initialize_handlers(self):
    _initialize_handlers(self)
    self.serverapp.web_app.settings["page_config_data"]["token"] = ""


labapp.LabApp.initialize_handlers = initialize_handlers

if __name__ == "__main__":
    labapp.main()
