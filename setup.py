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

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'clingers_perception'


def files_in(pattern):
    """Return the regular files matching pattern, sorted so installs are reproducible."""
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', files_in('launch/*.launch.py')),
        ('share/' + package_name + '/config', files_in('config/*')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='The clingers_perception authors',
    maintainer_email='maintainers@example.com',
    description='IR-LED docking pose estimation for ROS 2.',
    license='Apache-2.0',
    # colcon reads the test extra; tests_require can leave it running no tests.
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'perception_node = clingers_perception.perception_node:main',
            'ir_camera_sim = clingers_perception.ir_camera_sim_node:main',
            'docking_guidance = clingers_perception.docking_guidance_node:main',
            'clingers_eval = clingers_perception.eval_cli:main',
            'clingers_replay = clingers_perception.replay:main',
        ],
    },
)
