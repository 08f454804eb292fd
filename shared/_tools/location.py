"""Loading a code location: the one ``Definitions`` at module level of a module or file."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from lookout._author.definitions import Definitions
from lookout._base.errors import CodeLocationError


def load_definitions(module: str | None = None, file: str | None = None) -> Definitions:
    """Import the code location and return its ``Definitions``.

    A load error names the file and line where it happened, not a bare traceback.
    """
    if (module is None) == (file is None):
        raise CodeLocationError("give a code location: -m MODULE or -f FILE (one of them)")
    where = module if module is not None else str(file)
    try:
        loaded = _import_module(module) if module is not None else _import_file(Path(str(file)))
    except CodeLocationError:
        raise
    except SyntaxError as exc:
        raise CodeLocationError(
            f"{exc.filename}:{exc.lineno}: syntax error in code location {where}: {exc.msg}"
        ) from exc
    except Exception as exc:
        raise CodeLocationError(_describe(where, exc)) from exc
    return _find_definitions(loaded, where)


def _describe(where: str, exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame outside importlib is where the user's code failed.
    user = [f for f in frames if "importlib" not in f.filename] or frames
    if not user:
        return f"cannot load code location {where}: {type(exc).__name__}: {exc}"
    last = user[-1]
    return (
        f"{last.filename}:{last.lineno}: {type(exc).__name__}: {exc} "
        f"(while loading code location {where})"
    )


def _import_module(name: str) -> ModuleType:
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise CodeLocationError(f"no module named '{name}' (from -m {name})") from exc
        raise


def _import_file(path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise CodeLocationError(f"no such file: {path}")
    # Like Dagster, put the file's folder on the path so it can import its siblings.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    name = f"lookout_location_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CodeLocationError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _find_definitions(module: ModuleType, where: str) -> Definitions:
    found = {name: value for name, value in vars(module).items() if isinstance(value, Definitions)}
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise CodeLocationError(f"code location {where} has no Definitions object at module level")
    raise CodeLocationError(
        f"code location {where} has several Definitions objects ({', '.join(sorted(found))}); "
        "keep one"
    )
