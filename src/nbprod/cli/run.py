"""``nbprod run NOTEBOOK OUT -p NAME VALUE ...``: one notebook run by papermill, checked and recorded."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("notebook", type=click.Path())
@click.argument("out", type=click.Path())
@click.option("--parameters", "-p", "params", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A parameter, its value parsed as papermill parses it (int, float, True/False/None, else str).")
@click.option("--parameters_raw", "--parameters-raw", "-r", "raw", nargs=2, multiple=True, metavar="NAME VALUE",
              help="A parameter whose value is passed as a string, as it is.")
@click.option("--parameters_yaml", "--parameters-yaml", "-y", "yaml_texts", multiple=True, metavar="YAML",
              help="Parameters as a YAML mapping (lists, mappings).")
@click.option("--parameters_file", "--parameters-file", "-f", "files", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="Parameters from a YAML file.")
@click.option("--kernel", "-k", metavar="KERNEL", help="The kernel to run the notebook in [the notebook's].")
@click.option("--cwd", type=click.Path(), metavar="DIR", help="The working directory the notebook runs in.")
@click.option("--execution-timeout", type=int, metavar="N", help="Seconds a cell may run before it is stopped.")
@click.option("--log-output", is_flag=True, help="Show the notebook's output as it runs.")
def run(notebook: str, out: str, params, raw, yaml_texts, files, kernel, cwd, execution_timeout,
        log_output: bool) -> None:
    """Run NOTEBOOK into OUT with papermill, checked and recorded as a run.

    Takes papermill's options. A parameter the notebook's parameters cell does
    not declare, or of another type than declared, is refused before any kernel
    starts (exit 2). The run is recorded in the store with one task of kind
    papermill. Exit 0 ok, 1 a cell failed or the kernel died (the last line
    names the cell), 2 bad parameters or usage, 130 interrupted.
    """
    import logging
    import sys

    import yaml
    from papermill.cli import _resolve_type
    from papermill.iorw import NoDatesSafeLoader, read_yaml_file

    from ..runner.run import run_notebook

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill's own lines, as its command shows
    def mapping(read, what: str) -> dict:
        try:
            found = read() or {}
        except yaml.YAMLError as err:
            raise click.UsageError(f"{what} is not valid YAML ({' '.join(str(err).split())})") from None
        if not isinstance(found, dict):
            raise click.UsageError(f"{what} is a YAML {type(found).__name__}, not a mapping of parameter names "
                                   "to values")
        return found

    parameters: dict = {}
    for path in files:  # in papermill's order: files, YAML, -p, -r
        parameters.update(mapping(lambda: read_yaml_file(path), f"-f {path}"))
    for text in yaml_texts:
        parameters.update(mapping(lambda: yaml.load(text, Loader=NoDatesSafeLoader), f"-y {text!r}"))
    parameters.update({name: _resolve_type(value) for name, value in params})
    parameters.update(dict(raw))
    run_notebook(notebook, out, parameters, argv=list(sys.argv), kernel_name=kernel, cwd=cwd,
                 execution_timeout=execution_timeout, log_output=log_output, progress_bar=False)
