"""Self-contained HTML reports (one file, images inline, no script, no network):

    write_run_report(run_dir)            -> run_dir/report.html   (`cnnzoo report RUN`, `train --report`)
    write_experiment_report(folder)      -> folder/report.html    (every `cnnzoo experiment`)
"""

from .experiment import write_experiment_report
from .run import write_run_report

__all__ = ["write_experiment_report", "write_run_report"]
