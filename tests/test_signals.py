"""colorize.signals: what SIGINT and SIGTERM do to the folder tools and to
training."""
import os
import signal

import pytest

from colorize import signals


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_raise_stopped_with_the_shell_exit_status(signum):
    before = signal.getsignal(signum)
    with pytest.raises(signals.Stopped) as info:
        with signals.stop_on_signals():
            os.kill(os.getpid(), signum)  # handled before the next bytecode
            pytest.fail("the signal did not stop the block")
    assert info.value.exit_status == 128 + signum
    assert signal.getsignal(signum) is before  # handlers restored
    assert not isinstance(info.value, Exception)  # per-file `except Exception` lets it through


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_request_flags_the_first_signal_and_leaves_the_second_to_the_os(signum):
    """Training's handler: the first signal only sets the flag (the loop
    checkpoints after the compiled call in flight); the signals then have
    their default action back, so that a second one ends the process at
    once, even inside a compiled call, where no Python handler can run."""
    before = signal.getsignal(signum)
    with signals.StopRequest() as stop:
        assert stop.signum is None
        os.kill(os.getpid(), signum)
        assert stop.signum == signum
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signum) is before
