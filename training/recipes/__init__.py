"""The code that runs inside training containers: recipes the platform's presets launch.

Each recipe is a package run as `python -m training.recipes.<name>`; the same module is the entry
point of its image (its Dockerfile) and of the local backend, which runs it on CPU. The modules a
recipe shares with the platform (its arguments and checks, its output layout) use the standard
library only, so that the API can import them without the recipe's libraries."""
