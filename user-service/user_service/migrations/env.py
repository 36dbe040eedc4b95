from shared.migrations import run_env
from user_service.models import metadata

run_env(metadata)
