"""Running the CLI in-process on bad input, and what every such run must show."""

import warnings

from designspace.cli import main


def fails(argv, capsys, *names) -> str:
    """Run the CLI in-process and return its error line, checking exit code 2, a single line on
    stderr (so no traceback) that names each of `names`, and no warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # hidden from users by default
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's errors exit from parse_args
            code = e.code
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and ": error: " in lines[0] and lines[0].startswith("designspace"), err
    assert not [str(w.message) for w in caught]
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]
