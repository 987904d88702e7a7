"""The console scripts (setup.py): each sets up its process before the
command's modules load TensorFlow, then runs the same program as its module
or script, with the same flags."""
from colorize import quiet


def data():
    quiet.setup_process()
    from colorize.data import __main__ as command

    command.run()


def train():
    quiet.setup_process()
    import train as command

    command.run()


def eval():  # noqa: A001 - the command's name
    quiet.setup_process()
    import eval as command

    command.run()


def export():
    quiet.setup_process()
    from colorize import export as command

    command.run()


def app():
    quiet.setup_process()
    from colorize.app import __main__ as command

    command.run()
