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

"""
The shipped parameter file and launch files agree with the parameters the node declares.

The launch files are read with `ast`, not imported, so these tests need neither launch nor
launch_ros. One test loads the parameter file through rcl into a real node.
"""

import ast
from pathlib import Path

from clingers_perception.parameters import build_config, default_values, PARAMETER_SPECS
import pytest
import yaml

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PARAMETER_FILE = PACKAGE_DIR / 'config' / 'perception.yaml'
LAUNCH_FILES = sorted((PACKAGE_DIR / 'launch').glob('*.launch.py'))
SPECS = {spec.name: spec for spec in PARAMETER_SPECS}
# Parameters every node has, which a launch file may set.
NODE_BUILTIN_PARAMETERS = {'use_sim_time'}
PERCEPTION_LAUNCH_ARGUMENTS = {'namespace', 'params_file', 'image', 'camera_info',
                               'use_sim_time', 'log_level'}
# launch_ros keyword arguments that Humble does not have (ros_arguments came with Iron).
NOT_IN_HUMBLE = {'ros_arguments'}


def _flatten(tree, prefix=''):
    """Return {dotted name: value} of a ros__parameters mapping, as rcl names them."""
    flat = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(_flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def _yaml_type_ok(default, value):
    """Return True when `value` as YAML parsed it has the ROS type of `default`."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, float)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list) and all(isinstance(v, float) for v in default):
        return isinstance(value, list) and bool(value) \
            and all(isinstance(v, float) for v in value)
    raise AssertionError(f'no YAML type rule for a default of {default!r}')


@pytest.fixture(scope='module')
def parameter_file():
    with PARAMETER_FILE.open() as stream:
        return yaml.safe_load(stream)


@pytest.fixture(scope='module')
def file_values(parameter_file):
    return _flatten(parameter_file['/**']['ros__parameters'])


def test_parameter_file_uses_the_wildcard(parameter_file):
    assert list(parameter_file) == ['/**'], \
        'the top level must be only `/**`, so a renamed or namespaced node still reads it'
    assert list(parameter_file['/**']) == ['ros__parameters']


def test_every_key_is_a_declared_parameter_of_the_right_type(file_values):
    unknown = sorted(set(file_values) - set(SPECS))
    assert not unknown, f'not parameters of the node: {unknown}'
    wrong = [f'{name}: {value!r} for a default of {SPECS[name].default!r}'
             for name, value in file_values.items()
             if not _yaml_type_ok(SPECS[name].default, value)]
    assert not wrong, 'YAML values of the wrong type (write doubles as 1.0):\n' + \
        '\n'.join(wrong)


def test_every_declared_parameter_is_in_the_file(file_values):
    missing = sorted(set(SPECS) - set(file_values))
    assert not missing, f'declared parameters missing from {PARAMETER_FILE.name}: {missing}'


def test_file_documents_the_defaults(file_values):
    differing = {name: (value, SPECS[name].default) for name, value in file_values.items()
                 if value != SPECS[name].default}
    assert not differing, f'file value differs from the default (file, default): {differing}'


def test_file_values_are_accepted(file_values):
    values = default_values()
    values.update(file_values)
    config = build_config(values)
    assert config.target.count == len(file_values['led_positions']) // 3
    assert not config.target.coplanar, 'the documented default layout is non-coplanar'
    assert [band.name for band in config.settings.bands] == ['far', 'mid', 'near']
    assert config.settings.bands[-1].locate_core


def test_file_values_are_within_declared_ranges(file_values):
    for name, value in file_values.items():
        spec = SPECS[name]
        if spec.low is not None:
            assert spec.low <= value <= spec.high, f'{name} = {value}'
        if spec.choices is not None:
            assert value in spec.choices, f'{name} = {value}'


def test_rcl_loads_the_file_into_a_renamed_namespaced_node(file_values, monkeypatch):
    # rcl parses the file as the node would at start-up: any type mismatch with a declared
    # parameter raises, and the wildcard must reach a node with another name and namespace.
    rclpy = pytest.importorskip('rclpy')
    from clingers_perception.perception_node import PerceptionNode

    context = rclpy.Context()
    # This node needs no peers: keep it from discovering other processes in the domain.
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'OFF')
    rclpy.init(args=['--ros-args', '--params-file', str(PARAMETER_FILE)], context=context)
    monkeypatch.undo()
    node = None
    try:
        node = PerceptionNode(context=context, namespace='/parameter_file_test',
                              cli_args=['--ros-args', '-r', '__node:=renamed_perception'])
        assert node.get_fully_qualified_name() == '/parameter_file_test/renamed_perception'
        for name, value in file_values.items():
            loaded = node.get_parameter(name).value
            if isinstance(value, list):
                loaded = list(loaded)
            assert loaded == value and type(loaded) is type(value), name
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def _launch_tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def _calls(tree, name):
    """Return the calls of `name(...)` (or `anything.name(...)`) in the tree."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if called == name:
                found.append(node)
    return found


def _first_string(call, keyword):
    """Return the string given as the first positional argument or as `keyword`."""
    if call.args and isinstance(call.args[0], ast.Constant):
        return call.args[0].value
    for item in call.keywords:
        if item.arg == keyword and isinstance(item.value, ast.Constant):
            return item.value.value
    return None


def _declared_arguments(tree):
    return {_first_string(call, 'name') for call in _calls(tree, 'DeclareLaunchArgument')}


def _strings_under(node):
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_there_is_a_launch_file():
    assert (PACKAGE_DIR / 'launch' / 'perception.launch.py') in LAUNCH_FILES


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_configurations_are_declared_arguments(path):
    tree = _launch_tree(path)
    declared = _declared_arguments(tree)
    assert None not in declared, 'every DeclareLaunchArgument needs a literal name'
    used = {_first_string(call, 'variable_name') for call in _calls(tree, 'LaunchConfiguration')}
    assert used <= declared, f'LaunchConfiguration of undeclared arguments: {used - declared}'
    for call in _calls(tree, 'DeclareLaunchArgument'):
        keywords = {item.arg for item in call.keywords}
        assert 'description' in keywords, f'argument {_first_string(call, "name")} undocumented'


def _keyword_string(call, keyword):
    return next((item.value.value for item in call.keywords if item.arg == keyword
                 and isinstance(item.value, ast.Constant)), None)


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_parameters_are_declared_parameters(path):
    tree = _launch_tree(path)
    for call in _calls(tree, 'Node'):
        if _keyword_string(call, 'executable') != 'perception_node':
            continue
        for item in call.keywords:
            if item.arg != 'parameters':
                continue
            for mapping in (n for n in ast.walk(item.value) if isinstance(n, ast.Dict)):
                for key in mapping.keys:
                    assert isinstance(key, ast.Constant), 'parameter names must be literals'
                    assert key.value in SPECS or key.value in NODE_BUILTIN_PARAMETERS, \
                        f'{path.name} sets {key.value!r}, which the node does not declare'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_use_humble_apis_and_the_dds_profile(path):
    tree = _launch_tree(path)
    for call in _calls(tree, 'Node'):
        keywords = {item.arg for item in call.keywords}
        assert not keywords & NOT_IN_HUMBLE, f'not available on Humble: {keywords & NOT_IN_HUMBLE}'
    variables = {_first_string(call, 'name') for call in _calls(tree, 'SetEnvironmentVariable')}
    assert 'RMW_IMPLEMENTATION' not in variables, "the RMW implementation is the user's choice"
    if _calls(tree, 'Node'):
        # Every variable the distribution's Fast DDS reads (dds_profile.profile_variables, tested
        # in test_core_dds_profile) is set to the installed profile.
        settings = [node.elt for node in ast.walk(tree) if isinstance(node, ast.ListComp)
                    and _calls(node.generators[0].iter, 'profile_variables')
                    and _calls(node.elt, 'SetEnvironmentVariable')]
        assert settings, 'every process a launch file starts must use the large-frame profile'
        value = settings[0].args[1]
        assignments = {target.id: node.value for node in ast.walk(tree)
                       if isinstance(node, ast.Assign) for target in node.targets
                       if isinstance(target, ast.Name)}
        value = assignments.get(value.id, value) if isinstance(value, ast.Name) else value
        assert 'fastdds.xml' in _strings_under(value)
        assert (PACKAGE_DIR / 'config' / 'fastdds.xml').is_file()


def test_perception_launch_arguments():
    path = PACKAGE_DIR / 'launch' / 'perception.launch.py'
    tree = _launch_tree(path)
    assert PERCEPTION_LAUNCH_ARGUMENTS <= _declared_arguments(tree)
    # The default parameter file is the one installed from config/.
    params_file = next(call for call in _calls(tree, 'DeclareLaunchArgument')
                       if _first_string(call, 'name') == 'params_file')
    assert 'perception.yaml' in _strings_under(params_file)
    # Inputs are chosen by remapping the relative names, not by parameters.
    node = _calls(tree, 'Node')[0]
    remappings = next(item.value for item in node.keywords if item.arg == 'remappings')
    remapped = {pair.elts[0].value for pair in remappings.elts}
    assert remapped == {'image', 'camera_info'}
    assert _keyword_string(node, 'executable') == 'perception_node'
    # setup.py installs launch/*.launch.py and config/* to share/<package>.
    setup = (PACKAGE_DIR / 'setup.py').read_text()
    assert "files_in('launch/*.launch.py')" in setup and "files_in('config/*')" in setup
