"""The mistakes a user can make, as genai's own exceptions, in one list for the CLI and the app.

Each of these already says what is wrong and what to do ("Unknown GAN architecture 'resnet':
choose one of mlp, dcgan."), so the CLI prints it as one line and exits with code 2, and the
app shows it as a message. Anything else is a bug: the app logs its traceback and says so.
"""

from .checkpoints import CheckpointError  # HubError (genai/hub.py) is a CheckpointError
from .costs import OverBudgetError
from .data import DatasetError
from .device import DeviceError
from .distributed import DistributedError
from .metrics import MetricsError
from .models import ModelError
from .run_state import RunStateError
from .sampling import SamplingError
from .settings import SettingsError
from .train import TrainingError

USER_ERRORS = (CheckpointError, DatasetError, DeviceError, DistributedError, MetricsError, ModelError, OverBudgetError,
               RunStateError, SamplingError, SettingsError, TrainingError)
