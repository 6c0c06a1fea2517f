"""The entry points' processes freeze their objects at exit, so that shutting down the
interpreter does not collect torch's and Lightning's objects one last time."""

import subprocess
import sys


def test_the_commands_freeze_their_objects_before_the_interpreter_shuts_down():
    # A handler registered before lab2.cli is imported runs after lab2.cli's (atexit is last in,
    # first out), so it sees the frozen objects.
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count()))\n"
        "import lab2.cli\n"
        "print('frozen before exit:', gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, at_exit = (int(line.split(":")[1]) for line in done.stdout.splitlines())
    assert before == 0
    assert at_exit > 1000  # every object alive at exit, not collected again by the shutdown
