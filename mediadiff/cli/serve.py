"""`mediadiff serve`: the Gradio app (Video and Audio tabs) from apps/app.py, on the shipped or given models."""

from __future__ import annotations

import sys

from .. import serving
from ..errors import MediadiffError


def register(sub) -> None:
    p = sub.add_parser("serve", help="launch the web app (video and audio tabs; needs the `apps` extra)")
    serving.add_arguments(p)
    p.set_defaults(run=run)


def _app():
    """apps/app.py from this checkout (the apps live beside the package, as on a Space): the one place under
    mediadiff/ that opens the apps."""
    from ..checkpoints.presets import REPO_ROOT as root

    if not (root / "apps" / "app.py").exists():
        raise MediadiffError(f"the web apps are not in this install (no {root / 'apps' / 'app.py'})")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from apps import app
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("gradio", "gradio_client"):
            raise MediadiffError("the web apps need Gradio: pip install -e '.[apps]'") from None
        raise
    return app


def run(args) -> int:
    serving.check(args)
    return _app().run(args)
