"""Stage 3 of a grade (grade.py): the notebook TODOs, scored by the model files their graded cells saved.

`ModelChecks(grader, run).check(sub_root, only)` gives {TODO id: [Check]}. models.py certifies each model file
(what a notebook point certifies); this stage gives it testers on workers of the sandbox Run
(code_checks.start_worker) where every code TODO is the submission's, one worker at a time, all within the
models' budget (grading.toml `model_timeout`). `cell_notes` says, for the student, whether each graded cell ran.
"""

import time
from pathlib import Path

from . import hidden, models
from .code_checks import start_worker


class ModelChecks:
    """The notebook TODOs' checks of one submission, in the sealed sandbox Run `run`; build one per grade."""

    def __init__(self, grader, run):
        self.grader = grader
        self.run = run
        self.limits = grader.limits
        self.code_todos = grader.code_todos

    def check(self, sub_root, only=None):
        """{todo id: [Check]} of the notebook TODOs (of `only`, default all; models.py); the submission's model
        classes run in a worker where every code TODO is the submission's."""
        grader = self.grader
        workers, deadline = {}, time.monotonic() + self.limits.model_timeout
        todos = [t for t in grader.todos if t.is_notebook and (only is None or t.id in only)]
        try:
            return models.grade_models(todos, sub_root, grader.reference_name,
                                       grader.data, lambda module: self._tester(module, workers, deadline),
                                       self.code_todos)
        finally:
            for worker in workers.values():
                worker.close()

    def _tester(self, module, workers, deadline):
        """A Tester on the worker that runs the model class of `module` with every code TODO the submission's
        (one worker at a time: the uid mode stops all processes of the run's uid with each); its timeout
        is what remains of the models' budget."""
        grader = self.grader
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise models.Rejected(f"not run: the submission's classes used up the {self.limits.model_timeout} s "
                                  "the notebook models have (code that ran too long)")
        worker = workers.get(module)
        if worker is None or worker.dead:
            for other in workers.values():
                other.close()
            workers.clear()
            todo_id = next((t.id for t in self.code_todos if t.module == module), self.code_todos[0].id)
            worker, message = start_worker(grader, self.run, todo_id,
                                           tuple(t.id for t in self.code_todos if t.id != todo_id), stand_ins=True)
            if worker is None:
                raise models.Rejected(message)
            workers[module] = worker
        return hidden.Tester(worker, package=grader.package, reference_name=grader.reference_name,
                             modules=grader.modules, timeout=min(grader.timeout, remaining),
                             todos=[(t.id, t.module, t.name) for t in self.code_todos])


def cell_notes(todos, sub_root):
    """A note per notebook TODO of `todos` whose notebook the submission holds: was its graded cell run?"""
    notes = []
    for todo in todos:
        if todo.is_notebook:
            path = sub_root / Path(todo.path).name
            if path.is_file():
                notes.append(models.find_graded_cell(path, todo.name))
    return notes
