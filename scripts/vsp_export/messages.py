"""What the exporter prints: its own progress lines and one-line errors. The libraries' warnings,
logging, progress bars and tracebacks stay behind --verbose."""
import os
import sys
import warnings

PROG = "export.py"
VERBOSE = False  # set by quiet_libraries: --verbose shows tracebacks and the libraries' output


def progress(message):
    print(f"[export] {message}", flush=True)


def fail(message):
    """One line on stderr, exit status 1."""
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def quiet_libraries(verbose):
    """Silences TracerWarnings, FutureWarnings, diffusers' / transformers' / huggingface_hub's
    logging (e.g. the 'install accelerate' hint) and their progress bars, unless verbose."""
    global VERBOSE
    VERBOSE = verbose
    if verbose:
        os.environ["TRANSFORMERS_VERBOSITY"] = "warning"
        return
    warnings.filterwarnings("ignore")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    import diffusers.utils.logging as diffusers_logging
    import huggingface_hub.utils as hub_utils
    import transformers.utils.logging as transformers_logging
    for logging in (diffusers_logging, transformers_logging):
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    hub_utils.logging.set_verbosity_error()
    hub_utils.disable_progress_bars()


# Exception types (by name, so that no HTTP client need be imported) that mean "the hub was not
# reached": huggingface_hub's offline errors, and the HTTP clients' and sockets' connection errors.
_OFFLINE_ERRORS = {"OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError", "ConnectTimeout",
                   "ConnectionError", "Timeout", "ReadTimeout", "gaierror", "ConnectionRefusedError",
                   "NetworkUnreachable", "TimeoutError"}


def is_offline_error(error):
    """True when the error, or one it arose from, says the Hugging Face hub could not be reached."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if type(error).__name__ in _OFFLINE_ERRORS or isinstance(error, (ConnectionError, TimeoutError)):
            return True
        text = str(error)
        if "not fully cached locally" in text or "couldn't connect to" in text.lower():
            return True
        error = error.__cause__ or error.__context__
    return False


def looks_like_hub_id(source):
    """owner/name, as the hub spells repository ids; a path that does not exist is not one."""
    owner, _, name = source.partition("/")
    return bool(owner and name) and "/" not in name and not source.startswith((".", "~")) and not os.path.exists(source)


class hub_source:
    """Around a hub download: with the hub out of reach, one line that says how to export offline."""

    def __init__(self, source):
        self.source = source

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is not None and not VERBOSE and isinstance(error, Exception) and is_offline_error(error):
            fail(f"cannot reach the Hugging Face hub for '{self.source}'; download the model's .safetensors file "
                 "and pass its path: scripts/export.py --model FILE.safetensors --out DIR")
        return False
