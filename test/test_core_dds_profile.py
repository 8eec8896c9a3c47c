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

"""The environment that makes a process of each ROS 2 distribution load the DDS profile."""

from clingers_perception.dds_profile import (FAST_DDS_2_VARIABLE, profile_environment,
                                             profile_variables, uses_fast_dds_2, VARIABLE)
import pytest


@pytest.mark.parametrize('distro, names', [
    ('humble', {VARIABLE, FAST_DDS_2_VARIABLE}),
    ('jazzy', {VARIABLE, FAST_DDS_2_VARIABLE}),
    ('kilted', {VARIABLE}),
    ('rolling', {VARIABLE}),
    ('', {VARIABLE}),
])
def test_each_distribution_gets_the_name_its_fast_dds_reads(distro, names):
    assert set(profile_variables(distro)) == names
    environment = profile_environment('/x/fastdds.xml', distro)
    assert set(environment) == names
    assert set(environment.values()) == {'/x/fastdds.xml'}


def test_the_distribution_defaults_to_ros_distro(monkeypatch):
    monkeypatch.setenv('ROS_DISTRO', 'jazzy')
    assert uses_fast_dds_2()
    monkeypatch.delenv('ROS_DISTRO')
    assert not uses_fast_dds_2()
