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
How a process is told to load the package's Fast DDS profile for large frames.

Fast DDS reads the path of a default profile from an environment variable when a process
creates its first participant. Fast DDS 3 (Kilted on) reads FASTDDS_DEFAULT_PROFILES_FILE,
and warns when the older name is set; Fast DDS 2 (2.6 in Humble, 2.14 in Jazzy) reads only
FASTRTPS_DEFAULT_PROFILES_FILE. The launch files, the demo, the benchmarks and the tests set
what the ROS 2 distribution in use reads.
"""

import os

VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
FAST_DDS_2_VARIABLE = 'FASTRTPS_DEFAULT_PROFILES_FILE'
# ROS 2 distributions that ship Fast DDS 2.
FAST_DDS_2_DISTROS = ('humble', 'jazzy')


def uses_fast_dds_2(distro=None):
    """Return True when the ROS 2 distribution (default: $ROS_DISTRO) ships Fast DDS 2."""
    distro = os.environ.get('ROS_DISTRO', '') if distro is None else distro
    return distro.lower() in FAST_DDS_2_DISTROS


def profile_variables(distro=None):
    """Return the variables that tell a process of that distribution where the profile is."""
    # Fast DDS 3 warns of the older name, so it is set only where it is read.
    return [VARIABLE, FAST_DDS_2_VARIABLE] if uses_fast_dds_2(distro) else [VARIABLE]


def profile_environment(path, distro=None):
    """Return {variable: path} that makes a process of that distribution load the profile."""
    return {name: str(path) for name in profile_variables(distro)}
