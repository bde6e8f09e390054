"""``shipyard lab``: JupyterLab on the project in the current folder, with its own kernel."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._options import EnvOption
from shipyard.cli._output import say

__all__ = ["lab"]


def lab(
    port: Annotated[
        int, typer.Option("--port", "-p", min=1, max=65535, metavar="PORT", help="TCP port.")
    ] = 8888,
    env: EnvOption = None,
    browser: Annotated[
        bool,
        typer.Option("--browser/--no-browser", help="Open JupyterLab in the web browser."),
    ] = True,
    ip: Annotated[
        str,
        typer.Option(
            "--ip",
            metavar="ADDRESS",
            help="Address to listen on. The default, 127.0.0.1, is reachable from this "
            "machine only; another address lets anyone who can reach it (and has the "
            "token) run code as you, over plain HTTP.",
        ),
    ] = "127.0.0.1",
    allow_root: Annotated[
        bool,
        typer.Option(
            "--allow-root",
            help="Run as root (JupyterLab refuses to by default), e.g. in a container.",
        ),
    ] = False,
) -> None:
    """Start JupyterLab on the project until Ctrl-C or SIGTERM (its kernels stop with it).

    New notebooks get the kernel "Python (<project>)", which opens the project when it starts:
    session, catalog, params and pipelines are ready in the first cell, and the %shipyard
    magics are there (docs/lab.md). The server needs a token, printed in the URL. Needs
    the lab extra: pip install "shipyard[lab]".
    """
    from shipyard.lab._jupyter import (
        LabServer,
        check_lab_installed,
        is_loopback,
        serve,
        write_kernel_spec,
    )
    from shipyard.project import Session

    check_lab_installed()
    settings = Session.open(env=env).settings  # a missing conf/ENV fails here, not in a kernel
    kernel = write_kernel_spec(settings)
    if not is_loopback(ip):
        say(
            f"[yellow]Warning:[/yellow] JupyterLab listens on {ip}: anyone who can reach "
            f"port {port} there and has the token can run code as you, and the connection "
            "is not encrypted. Use it only on a network you trust (or keep 127.0.0.1 and "
            f"tunnel: ssh -L {port}:127.0.0.1:{port} HOST)."
        )
    say(
        f"Starting JupyterLab for project '{settings.project_root.name}' "
        f"(env {settings.env}, kernel {kernel.display_name}) ..."
    )
    server = LabServer.start(
        settings, kernel, ip=ip, port=port, open_browser=browser, allow_root=allow_root
    )

    def ready(server: LabServer) -> None:
        # Plain echo: a Rich console would wrap the long URL and break it for copying.
        typer.echo(f"JupyterLab is ready: {server.url}", err=True)
        typer.echo("Stop it with Ctrl-C.", err=True)

    code = serve(server, on_ready=ready)
    if code != 0:
        raise typer.Exit(code)
    say("JupyterLab stopped.")
