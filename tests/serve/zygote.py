"""Pre-import the server's libraries once, then fork a fresh ``leanloop serve`` per line
read from stdin (``ROOT PORT`` with ``--no-loop``, or ``ROOT PORT loop`` with the loop on),
printing each child's pid.

For the SIGKILL series and every test that needs a server process but does not time its
start: the child runs the CLI's ``serve`` command as ``leanloop serve`` does, but a start
costs a fork instead of seconds of imports. A child that exits writes its exit code to
``ROOT/server.exit`` (the zygote reaps its children, so no one else could read it).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback


def main() -> None:
    import fastapi  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import skops.io  # noqa: F401
    import uvicorn  # noqa: F401

    import leanloop.cli  # imported for the children
    import leanloop.serve.app
    import leanloop.serve.logger

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    print("ready", flush=True)
    for line in sys.stdin:
        root, port, *loop = line.split()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            log = os.open(os.path.join(root, "server.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.setsid()
            code = 0
            try:
                sys.argv = ["leanloop", "serve", "--port", port, "--dir", root, *([] if loop else ["--no-loop"])]
                leanloop.cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                with open(os.path.join(root, "server.exit"), "w") as status:
                    status.write(str(code))
                os._exit(code)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
