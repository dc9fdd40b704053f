from kit.db.migrations import run_env

run_env()
