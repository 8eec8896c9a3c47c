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
Start perception_node on a camera's image and camera_info topics.

    ros2 launch clingers_perception perception.launch.py \
        image:=/cam/image_raw camera_info:=/cam/camera_info

Every process this file starts uses the package's Fast DDS profile for large frames; a camera
driver started elsewhere should export the same FASTDDS_DEFAULT_PROFILES_FILE (and on Humble
and Jazzy, whose Fast DDS 2 reads no other, FASTRTPS_DEFAULT_PROFILES_FILE). The RMW
implementation is left to the environment (RMW_IMPLEMENTATION). Only launch and launch_ros
APIs present in Humble are used, so the file works on Humble, Jazzy and Kilted.
"""

from clingers_perception.dds_profile import profile_variables
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'clingers_perception'


def generate_launch_description():
    """Return the launch description: arguments, the DDS profile, and the node."""
    config = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config'])
    arguments = [
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='namespace of the node and of its relative topic names'),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([config, 'perception.yaml']),
            description='parameter file of the node (/** wildcard); the default holds every '
                        'default value with comments'),
        DeclareLaunchArgument(
            'image', default_value='image',
            description='image topic (sensor_msgs/Image) the node subscribes to'),
        DeclareLaunchArgument(
            'camera_info', default_value='camera_info',
            description='camera_info topic (sensor_msgs/CameraInfo) matching the image'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='use the /clock topic as the time source'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='logging level: debug, info, warn, error or fatal'),
    ]
    # Set before the node starts, so it applies to every process started after it.
    profile_file = PathJoinSubstitution([config, 'fastdds.xml'])
    profile = [SetEnvironmentVariable(name, profile_file) for name in profile_variables()]
    node = Node(
        package=PACKAGE,
        executable='perception_node',
        name='clingers_perception',
        namespace=LaunchConfiguration('namespace'),
        parameters=[
            LaunchConfiguration('params_file'),
            {'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'),
                                            value_type=bool)},
        ],
        remappings=[
            ('image', LaunchConfiguration('image')),
            ('camera_info', LaunchConfiguration('camera_info')),
        ],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
        output='screen',
        emulate_tty=True,
    )
    return LaunchDescription(arguments + profile + [node])
