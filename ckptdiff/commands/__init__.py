"""The library behind each command: inspect_artifact, check_restore, diff_artifacts, history_report."""
