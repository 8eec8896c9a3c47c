# Copyright 2026 The clingers_perception authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Load a script of benchmarks/ as a module, for the tests that run it."""

import importlib.util
from pathlib import Path


def load_benchmark(name):
    """Return benchmarks/<name>.py as a module: benchmarks/ is a folder of scripts."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[1] / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
